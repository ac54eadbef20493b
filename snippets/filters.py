"""What the snippet list can be narrowed to, by query parameters (django-filter's
FilterSet, as DRF's ecosystem does it); a value it cannot take is a 400 naming
the parameter."""

import django_filters

from snippets.models import Snippet, language_choices


class SnippetFilter(django_filters.FilterSet):
    # The function, not its list: each request's FilterSet deep-copies its
    # filters, and ~600 choices copied cost ~2 ms a request (docs/benchmarks.md).
    language = django_filters.ChoiceFilter(choices=language_choices)
    owner = django_filters.CharFilter(
        field_name="owner__username", help_text="The owner's username."
    )
    # Not BooleanFilter: it quietly ignores a value it cannot read.
    private = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
    )

    class Meta:
        model = Snippet
        fields = ["language", "owner", "private"]
