"""The HTML pages Django serves: the demo page and the admin."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_demo_page_is_served_at_the_root():
    """GET / is the demo page, told where the WebSocket is."""
    response = Client().get("/")
    assert response.status_code == 200
    assert b'data-websocket-url=""' in response.content


def test_admin_login_page_is_served():
    """/admin/ asks a visitor to sign in."""
    response = Client().get("/admin/", follow=True)
    assert response.status_code == 200
    assert b"Log in" in response.content
