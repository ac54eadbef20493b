from functools import cache

from rest_framework import serializers
from rest_framework.fields import flatten_choices_dict, to_choices_dict


@cache
def choice_maps(choices_function):
    """`ChoiceField`'s lookup tables for `choices_function()`, built once."""
    grouped = to_choices_dict(choices_function())
    flat = flatten_choices_dict(grouped)
    return grouped, flat, {str(key): key for key in flat}


class CachedChoiceField(serializers.ChoiceField):
    """
    A `ChoiceField` taking a function of its choices, whose tables it builds once
    per process.

    DRF rebuilds a field's choice tables every time a serializer is created: for
    the ~600 Pygments lexers that is a large share of each request.
    """

    def _set_choices(self, choices_function):
        self.grouped_choices, self._choices, self.choice_strings_to_values = (
            choice_maps(choices_function)
        )

    choices = property(serializers.ChoiceField._get_choices, _set_choices)
