from rest_framework import routers
from rest_framework.reverse import reverse


class APIRootView(routers.APIRootView):
    """The API's resources; the same operations over WebSocket are described in
    `asyncapi` and can be tried in `playground`."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        for name in ("asyncapi", "playground"):
            response.data[name] = reverse(name, request=request)
        return response


class Router(routers.DefaultRouter):
    """DRF's router, whose API root also links the WebSocket API's document
    and playground."""

    APIRootView = APIRootView
