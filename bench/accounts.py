"""Many signed-in users at once: accounts made in bulk, tokens signed directly
(a sign-up each would spend most of the bench hashing passwords)."""

import json
import subprocess
import sys
import uuid

from bench.servers import PROJECT_DIR, bench_env

MINT = """
import json, sys
from django.contrib.auth.models import User
from rest_framework_simplejwt.tokens import AccessToken

count, tag = int(sys.argv[1]), sys.argv[2]
users = User.objects.bulk_create(
    User(username=f"crowd-{tag}-{n}", password="!") for n in range(count)
)
print(json.dumps([str(AccessToken.for_user(user)) for user in users]))
"""


def tokens(count):
    """Access tokens of `count` new users, valid for an hour."""
    output = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{MINT}"]
        + [str(count), uuid.uuid4().hex[:8]],
        cwd=PROJECT_DIR,
        env=bench_env(ACCESS_TOKEN_LIFETIME_SECONDS=3600),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)
