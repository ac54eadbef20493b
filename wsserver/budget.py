"""How many frames one connection may send: token buckets."""

import time


class FrameBudget:
    """`rate` frames a second (and as many at once); past that, frames are
    refused, and a client that keeps sending runs out of refusals at the same
    rate: then it is `exhausted`."""

    __slots__ = ("clock", "rate", "refusals", "tokens", "updated")  # one a socket

    def __init__(self, rate: float, *, clock=time.monotonic):
        self.rate = rate
        self.clock = clock
        self.tokens = self.refusals = rate
        self.updated = clock()

    def spend(self) -> bool:
        """Return `True` if one more frame is within the budget, and count it."""
        now = self.clock()
        refill = (now - self.updated) * self.rate
        self.updated = now
        self.tokens = min(self.rate, self.tokens + refill)
        self.refusals = min(self.rate, self.refusals + refill)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refusals -= 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.refusals < 0
