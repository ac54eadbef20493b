"""Throttling: an atomic Redis limiter shared by every process."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from live import throttling
from live.contract import address_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def anon_rate(monkeypatch):
    """Set the anonymous rate (DRF reads rates into the class at import)."""

    def set_rate(rate):
        monkeypatch.setattr(
            throttling.AnonRateThrottle, "THROTTLE_RATES", {"anon": rate}
        )

    return set_rate


def get(client, **headers):
    return client.get("/api/notes/", **headers)


def test_over_the_limit_is_429_with_retry_after(anon_rate):
    """Past ANON_THROTTLE_RATE a client gets 429, a JSON detail and Retry-After."""
    anon_rate("3/min")
    client = APIClient()
    assert [get(client).status_code for _ in range(3)] == [200, 200, 200]
    response = get(client)
    assert response.status_code == 429
    assert "Request was throttled" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60


def test_forged_forwarded_for_does_not_reset_the_limit(anon_rate, settings):
    """With NUM_PROXIES=0, X-Forwarded-For is ignored: a forged one dodges nothing."""
    anon_rate("2/min")
    client = APIClient()
    get(client)
    get(client)
    response = get(client, HTTP_X_FORWARDED_FOR=f"10.0.0.{uuid.uuid4().int % 250}")
    assert response.status_code == 429


def test_trusted_proxy_forwarded_for_identifies_clients(anon_rate, monkeypatch):
    """With NUM_PROXIES=1, the address the proxy adds identifies the client."""
    from rest_framework.settings import api_settings

    monkeypatch.setattr(api_settings, "NUM_PROXIES", 1)
    anon_rate("1/min")
    client = APIClient()
    assert get(client, HTTP_X_FORWARDED_FOR="forged, 203.0.113.1").status_code == 200
    assert get(client, HTTP_X_FORWARDED_FOR="forged, 203.0.113.1").status_code == 429
    assert get(client, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200


def test_signed_in_users_have_their_own_bucket(monkeypatch, settings):
    """Users are limited by USER_THROTTLE_RATE, per user, not per address."""
    monkeypatch.setattr(
        throttling.UserRateThrottle, "THROTTLE_RATES", {"user": "1/min"}
    )
    alice = APIClient()
    alice.force_authenticate(User.objects.create_user("alice", password="pw"))
    bob = APIClient()
    bob.force_authenticate(User.objects.create_user("bob", password="pw"))
    assert get(alice).status_code == 200
    assert get(alice).status_code == 429
    assert get(bob).status_code == 200


def test_limiter_is_exact_under_concurrency(anon_rate):
    """Of 40 simultaneous requests against a limit of 10, exactly 10 pass."""
    anon_rate("10/min")
    item = throttling.rate_limit_item("10/min")

    def hit(_):
        return throttling.limiter().hit(item, "anon:concurrency")

    with ThreadPoolExecutor(8) as pool:
        admitted = sum(pool.map(hit, range(40)))
    assert admitted == 10


def test_unreachable_redis_is_503_not_a_traceback(settings):
    """If Redis cannot be reached, throttled requests get a clear 503."""
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    throttling.limiter.cache_clear()
    response = get(APIClient())
    assert response.status_code == 503
    assert "Rate limiter unavailable" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_exactly_n_of_n_plus_k_admitted_across_two_processes(server_factory):
    """Two web processes sharing Redis admit exactly N of N+k concurrent requests."""
    shared = {
        "REDIS_KEY_PREFIX": f"test:{uuid.uuid4().hex}",
        "ANON_THROTTLE_RATE": "25/min",
    }
    servers = [server_factory(**shared), server_factory(**shared)]
    urls = [f"{servers[i % 2].url}/api/notes/" for i in range(60)]
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda url: requests.get(url).status_code, urls))
    assert statuses.count(200) == 25
    assert statuses.count(429) == 35


LOGIN_FORMS = ["/api-auth/login/", "/admin/login/", "/api/auth/token/"]


def sign_in(path, username, address="192.0.2.1"):
    client = Client(enforce_csrf_checks=False, REMOTE_ADDR=address)
    attempt = {"username": username, "password": "wrong"}
    if path.startswith("/api/"):
        return client.post(path, attempt, content_type="application/json")
    return client.post(path, attempt)


def wrong_password_status(path):
    """What a wrong password gets before the limit: a form again, or a 401."""
    return 401 if path.startswith("/api/") else 200


@pytest.mark.parametrize("path", LOGIN_FORMS)
def test_login_forms_are_throttled_per_address(settings, path):
    """Past LOGIN_THROTTLE_RATE tries from one address, a login form answers 429,
    whatever username is tried."""
    settings.LIVE_LOGIN_THROTTLE_RATE = "3/min"
    statuses = [sign_in(path, f"user{n}").status_code for n in range(4)]
    assert statuses == [wrong_password_status(path)] * 3 + [429]
    refused = sign_in(path, "someone-else")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60


@pytest.mark.parametrize("path", LOGIN_FORMS)
def test_login_forms_are_throttled_per_username(settings, path):
    """Past LOGIN_ACCOUNT_THROTTLE_RATE failed tries at one username, from any
    addresses, 429 (for a client that never signed in as it)."""
    settings.LIVE_LOGIN_ACCOUNT_THROTTLE_RATE = "3/min"
    statuses = [
        sign_in(path, "alice", address=f"192.0.2.{n}").status_code for n in range(4)
    ]
    assert statuses == [wrong_password_status(path)] * 3 + [429]


def sign_in_as(client, password, username="alice"):
    attempt = {"username": username, "password": password}
    return client.post("/api/auth/token/", attempt, content_type="application/json")


@pytest.fixture
def alice(settings, db):
    settings.LIVE_LOGIN_THROTTLE_RATE = "3/min"
    settings.LIVE_LOGIN_ACCOUNT_THROTTLE_RATE = "5/min"
    return User.objects.create_user("alice", password="the-right-one")


def test_one_address_guessing_locks_no_one_out(alice):
    """An attacker at one address is stopped by its address's limit before the
    account's: the real user signs in from elsewhere meanwhile."""
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    guesses = [sign_in_as(attacker, "guess").status_code for _ in range(10)]
    assert guesses == [401] * 3 + [429] * 7
    owner = Client(REMOTE_ADDR="203.0.113.9")
    assert sign_in_as(owner, "the-right-one").status_code == 200


def test_guesses_from_many_addresses_stay_limited_per_account(alice):
    """Guesses at one account spread over 50 addresses: only
    LOGIN_ACCOUNT_THROTTLE_RATE of them are tried, the rest 429; so is a new
    client's right password, until the window passes."""
    statuses = [
        sign_in_as(Client(REMOTE_ADDR=f"198.51.100.{n}"), "guess").status_code
        for n in range(50)
    ]
    assert statuses == [401] * 5 + [429] * 45
    refused = sign_in_as(Client(REMOTE_ADDR="203.0.113.9"), "the-right-one")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_a_known_client_signs_in_while_many_addresses_guess(alice):
    """A client that signed in as the user before (its device cookie) skips the
    account's limit: the owner signs in even while 50 addresses guess."""
    owner = Client(REMOTE_ADDR="203.0.113.9")
    assert sign_in_as(owner, "the-right-one").status_code == 200
    for n in range(50):
        sign_in_as(Client(REMOTE_ADDR=f"198.51.100.{n}"), "guess")
    assert sign_in_as(owner, "the-right-one").status_code == 200
    stranger = Client(REMOTE_ADDR="203.0.113.9")  # the same address, no cookie
    assert sign_in_as(stranger, "the-right-one").status_code == 429


@pytest.mark.django_db
def test_a_guess_for_an_unknown_user_costs_a_password_hash_too(monkeypatch):
    """Signing in as a user that does not exist hashes the password all the same,
    so the time a guess takes does not tell which usernames exist."""
    User.objects.create_user("known", password="right")
    hashed = []
    encode = MD5PasswordHasher.encode
    monkeypatch.setattr(
        MD5PasswordHasher,
        "encode",
        lambda self, *args: hashed.append(1) or encode(self, *args),
    )
    for username in ("known", "unknown"):
        hashed.clear()
        assert sign_in("/api/auth/token/", username).status_code == 401
        assert len(hashed) == 1, username


def test_an_ipv6_client_is_judged_by_its_64(anon_rate):
    """Addresses of one /64 share one budget; another /64 has its own."""
    anon_rate("2/min")
    client = APIClient()
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2::abcd"]
    statuses = [get(client, REMOTE_ADDR=a).status_code for a in same_64]
    assert statuses == [200, 200, 429]
    assert get(client, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::1", "2001:db8::/64"),
        ("[2001:db8:0:0:8::1]", "2001:db8::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("not an address", "not an address"),
    ],
)
def test_addresses_are_grouped_as_every_limit_judges_them(address, group):
    assert address_group(address) == group
