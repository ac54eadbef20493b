"""Many signed-in users at once: accounts made in bulk, tokens signed directly
(a sign-up each would spend most of the bench hashing passwords).

`python -m bench.accounts N` (in a Django process of the bench's) prints the
access tokens of N new users."""

import json
import sys
import uuid

from bench.servers import in_django


def tokens(count):
    """Access tokens of `count` new users, valid for an hour."""
    return json.loads(in_django("bench.accounts", str(count)))


def main(count):
    import django

    django.setup()
    from django.contrib.auth.models import User

    from live.tokens import access_token_for

    tag = uuid.uuid4().hex[:8]
    users = User.objects.bulk_create(
        User(username=f"crowd-{tag}-{n}", password="!") for n in range(count)
    )
    print(json.dumps([access_token_for(user) for user in users]))


if __name__ == "__main__":
    main(int(sys.argv[1]))
