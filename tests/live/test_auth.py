"""JWT auth: obtain, use with `JWT` and `Bearer`, refresh, verify, and refusals."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return User.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def tokens(user):
    response = APIClient().post(
        "/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def create_with(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client.post("/api/notes/", {"text": "t"}, format="json")


def test_obtain_returns_access_and_refresh(tokens):
    """Username and password give an access and a refresh token."""
    assert set(tokens) == {"access", "refresh"}


def test_wrong_password_gets_no_token(user):
    """Bad credentials are 401 with a detail."""
    response = APIClient().post(
        "/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize("scheme", ["JWT", "Bearer"])
def test_access_token_authenticates_with_either_scheme(tokens, scheme):
    """`Authorization: JWT <token>` (the seed's) and `Bearer <token>` both work."""
    response = create_with(f"{scheme} {tokens['access']}")
    assert response.status_code == 201
    assert response.json()["owner"] == "alice"


def test_refresh_gives_a_new_access_token(tokens):
    """The refresh token buys a new, working access token."""
    response = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert response.status_code == 200
    assert create_with(f"JWT {response.json()['access']}").status_code == 201


def test_verify_accepts_a_valid_token(tokens):
    """Verify answers 200 for a valid token."""
    response = APIClient().post(
        "/api/auth/token/verify/", {"token": tokens["access"]}, format="json"
    )
    assert response.status_code == 200


def test_verify_rejects_a_garbled_token():
    """Verify answers 401 for a token that is not one of ours."""
    response = APIClient().post(
        "/api/auth/token/verify/", {"token": "not.a.token"}, format="json"
    )
    assert response.status_code == 401


def test_expired_token_is_401(user):
    """An access token past its lifetime is refused with 401."""
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = create_with(f"JWT {token}")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_token_with_a_bad_signature_is_401(user):
    """A token signed with another key is refused."""
    forged = jwt.encode(
        {"token_type": "access", "user_id": str(user.pk), "exp": 2**31, "jti": "x"},
        "another-key-of-at-least-thirty-two-bytes",
        algorithm="HS256",
    )
    assert create_with(f"JWT {forged}").status_code == 401


def test_unsigned_alg_none_token_is_401(user):
    """A token claiming `alg: none` is never accepted."""

    def part(value):
        return (
            base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
        )

    claims = {"token_type": "access", "user_id": str(user.pk), "exp": 2**31, "jti": "x"}
    unsigned = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    assert create_with(f"JWT {unsigned}").status_code == 401


def test_unknown_scheme_is_not_authentication():
    """A header with another scheme is ignored: the request is anonymous (it may
    read, not write), where a bad token of ours would be a 401."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token abc")
    assert client.get("/api/notes/").status_code == 200
    assert create_with("Token abc").status_code == 401


def test_tokens_are_signed_with_the_shared_secret_key(tokens):
    """Tokens verify with SECRET_KEY, so every process accepts them."""
    claims = jwt.decode(tokens["access"], settings.SECRET_KEY, algorithms=["HS256"])
    assert claims["token_type"] == "access"
