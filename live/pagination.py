from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination


class StrictPageNumberPagination(PageNumberPagination):
    """
    Pages as DRF numbers them, but a `page` that is not one page number (a word,
    an empty value, two values) is 404 "Invalid page.", as a page past the last
    is, instead of quietly the first page: the OpenAPI document says `page` is
    an integer, and a client that sent something else should hear so.
    """

    def get_page_number(self, request, paginator):
        values = request.query_params.getlist(self.page_query_param)
        if not values:
            return 1
        if len(values) > 1 or not (
            values[0].isdigit() or values[0] in self.last_page_strings
        ):
            raise NotFound(self.invalid_page_message.format(page_number=values[0]))
        return values[0]
