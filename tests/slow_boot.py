"""The live app, loaded only once its test lets it: it says so in the log, then
waits for the file `BOOT_GATE` names, so that a worker can be told to stop
while it boots (tests/live/test_shutdown.py)."""

import os
import sys
import time

from wsserver.app import make_app as make_live_app

LOADING = "Loading the app: waiting for the gate"


def make_app():
    sys.stderr.write(LOADING + "\n")
    sys.stderr.flush()
    while not os.path.exists(os.environ["BOOT_GATE"]):
        time.sleep(0.01)
    return make_live_app()
