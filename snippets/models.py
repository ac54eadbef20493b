from functools import cache
from html import escape

from django.db import models
from django.db.models import Q
from pygments import highlight
from pygments.formatters.html import HtmlFormatter
from pygments.lexers import get_all_lexers, get_lexer_by_name
from pygments.styles import get_all_styles


@cache
def language_choices():
    """Every Pygments lexer, as `(alias, name)` pairs sorted by alias."""
    return sorted((item[1][0], item[0]) for item in get_all_lexers() if item[1])


@cache
def style_choices():
    """Every Pygments style, as `(name, name)` pairs sorted by name."""
    return sorted((name, name) for name in get_all_styles())


class Snippet(models.Model):
    # Choices are callables so a Pygments upgrade leaves no pending migration.
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    title = models.CharField(max_length=100)
    code = models.TextField()
    linenos = models.BooleanField(default=False)
    language = models.CharField(
        choices=language_choices, default="python", max_length=100
    )
    style = models.CharField(choices=style_choices, default="friendly", max_length=100)
    owner = models.ForeignKey(
        "auth.User",
        related_name="snippets",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
    )
    private = models.BooleanField(
        default=False, help_text="Only the owner and staff can see it."
    )
    highlighted = models.TextField()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(private=False) | Q(owner__isnull=False),
                name="private_snippet_has_owner",
                violation_error_message="Anonymous snippets cannot be private.",
            )
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        """Store the highlighted HTML page of the code along with the snippet."""
        lexer = get_lexer_by_name(self.language)
        linenos = "table" if self.linenos else False
        # Pygments puts the title into the page verbatim: escape it, or a title
        # with markup becomes live script on our origin.
        formatter = HtmlFormatter(
            style=self.style, linenos=linenos, full=True, title=escape(self.title)
        )
        self.highlighted = highlight(self.code, lexer, formatter)
        super().save(*args, **kwargs)

    @staticmethod
    def readable_by(user) -> Q:
        """The one rule of who sees what: anyone sees public snippets, their
        owner also private ones, staff all. Lists, pages and events apply it."""
        if user.is_staff:
            return Q()
        if user.is_authenticated:
            return Q(private=False) | Q(owner_id=user.pk)
        return Q(private=False)
