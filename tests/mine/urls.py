from rest_framework.routers import SimpleRouter

from tests.mine.views import MyNoteViewSet

router = SimpleRouter()
router.register("my-notes", MyNoteViewSet, basename="mynote")
urlpatterns = router.urls
