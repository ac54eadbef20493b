from django.contrib import admin

from snippets.models import Snippet


@admin.register(Snippet)
class SnippetAdmin(admin.ModelAdmin):
    list_display = ["title", "language", "owner", "private", "created"]
    list_filter = ["language", "private"]
    search_fields = ["title", "code"]
    exclude = ["highlighted"]
