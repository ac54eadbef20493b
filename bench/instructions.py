"""
Instructions per in-process request, counted by callgrind: repeatable where
seconds are not (the same count on a quiet or a busy machine).

    python -m bench.instructions [retrieve|create] [--via bridge|client]

Runs `bench.inprocess` under `valgrind --tool=callgrind` twice, with few and
with many calls after the same warm-up, and reports the difference divided by
the extra calls, so start-up, imports and warm-up cancel out. Needs valgrind
and a Redis (as `make bench` provides); prints one line of JSON.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.servers import PROJECT_DIR, bench_env, prepare_database

FEW, MANY = 20, 120


def total_instructions(kind, via, calls):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "bench.inprocess",
                kind,
                via,
                "--calls",
                str(calls),
            ],
            cwd=PROJECT_DIR,
            env=bench_env(PYTHONHASHSEED=0),
            check=True,
            capture_output=True,
        )
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        return int(summary.group(1))


def usable():
    return shutil.which("valgrind") is not None


def per_call(kind, via):
    few = total_instructions(kind, via, FEW)
    many = total_instructions(kind, via, MANY)
    return (many - few) / (MANY - FEW)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("kind", nargs="?", default="retrieve")
    parser.add_argument("--via", default="bridge", choices=["bridge", "client"])
    args = parser.parse_args(argv)
    if not usable():
        sys.exit("valgrind is not installed")
    prepare_database()
    count = per_call(args.kind, args.via)
    print(json.dumps({"kind": args.kind, "via": args.via, "instructions": count}))


if __name__ == "__main__":
    main()
