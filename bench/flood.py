"""
`python -m bench.flood`: the renders a worker keeps for replays stay within
`WS_RENDER_CACHE_BYTES`, however many are made. Run it under a Redis:

    python -m live.localredis run --name flood-redis -- python -m bench.flood

Accounts each subscribe to their own private 100 KB snippet and change it round
after round: every change is rendered for its owner alone (the cohort of
everyone else sees nothing), and each render is kept. The worker's resident
memory is read after every round.
"""

import argparse
import asyncio
import json
import time

from bench.clients import open_websocket
from bench.fanout import wait_for
from bench.servers import (
    RESULTS_DIR,
    in_django,
    prepare_database,
    resident_mib,
    running,
)

ACCOUNTS = 40
CHANGES_PER_ACCOUNT = 10  # a round: 400 renders
ROUNDS = 8
CODE = "x" * 100_000
BOUND_MIB = 16


def setup_main(count):
    """Make `count` accounts, each with a private snippet; print their tokens
    and snippet URLs."""
    import django

    django.setup()
    from django.contrib.auth.models import User

    from live.tokens import access_token_for
    from snippets.models import Snippet

    accounts = []
    for number in range(count):
        user = User.objects.create(username=f"flood-{number}", password="!")
        snippet = Snippet.objects.create(
            title="flood", code=CODE, language="text", owner=user, private=True
        )
        accounts.append([access_token_for(user), f"/api/snippets/{snippet.pk}/"])
    print(json.dumps(accounts))


def change_main(times):
    """Save every flood snippet `times` times."""
    import django

    django.setup()
    from snippets.models import Snippet

    snippets = list(Snippet.objects.filter(title="flood"))
    for number in range(times):
        for snippet in snippets:
            snippet.code = CODE[:-8] + f"{number:08d}"
            snippet.save()


async def flood(port, pid, accounts):
    heard = []
    sockets = []
    for token, url in accounts:
        socket = await open_websocket(
            "127.0.0.1", port, lambda payload, _: heard.append(len(payload))
        )
        socket.send({"method": "SUBSCRIBE", "url": url, "token": token})
        sockets.append(socket)
    await wait_for(lambda: len(heard) >= len(accounts), 60)
    rows = [(0, len(heard), resident_mib(pid))]
    for round_number in range(1, ROUNDS + 1):
        expected = len(heard) + len(accounts) * CHANGES_PER_ACCOUNT
        await asyncio.to_thread(
            in_django, "bench.flood", "--change", str(CHANGES_PER_ACCOUNT)
        )
        await wait_for(lambda expected=expected: len(heard) >= expected, 120)
        rows.append((round_number, len(heard) - len(accounts), resident_mib(pid)))
    for socket in sockets:
        socket.transport.close()
    await asyncio.sleep(1)
    rows.append(("all closed", len(heard) - len(accounts), resident_mib(pid)))
    return rows


def main():
    prepare_database()
    accounts = json.loads(in_django("bench.flood", "--setup", str(ACCOUNTS)))
    bound = BOUND_MIB * 1024 * 1024
    with running("web", env={"WS_RENDER_CACHE_BYTES": str(bound)}) as (port, pids):
        started = time.monotonic()
        rows = asyncio.run(flood(port, pids[0], accounts))
    baseline = rows[0][2]
    lines = [
        f"Render flood: {ACCOUNTS} accounts, each subscribed to its own private "
        f"100 KB snippet, change it {CHANGES_PER_ACCOUNT} times a round (each "
        f"change rendered for its owner and kept); one worker, "
        f"WS_RENDER_CACHE_BYTES={BOUND_MIB} MiB; {time.monotonic() - started:.0f} s.",
        "",
        "| round | renders heard | worker RSS (MiB) | growth over subscribed (MiB) |",
        "|---|---:|---:|---:|",
        *[
            f"| {name} | {count} | {rss:.1f} | {rss - baseline:+.1f} |"
            for name, count, rss in rows
        ],
    ]
    text = "\n".join(lines) + "\n"
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "flood.md").write_text(text)
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--change", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup_main(args.setup)
    elif args.change:
        change_main(args.change)
    else:
        main()
