"""Filter backends for live lists: DRF's search, with its errors named as
django-filter names its own (`{"search": [...]}`), so that every filter's bad
value is a 400 naming its parameter."""

from rest_framework import filters
from rest_framework.exceptions import ValidationError


class SearchFilter(filters.SearchFilter):
    def get_search_terms(self, request):
        try:
            return super().get_search_terms(request)
        except ValidationError as error:  # a NUL, say
            raise ValidationError({self.search_param: error.detail}) from error
