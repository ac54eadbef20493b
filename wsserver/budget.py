"""How many frames one connection may send: a token bucket."""

import time


class FrameBudget:
    """A token bucket of `rate` frames a second (and as many at once)."""

    def __init__(self, rate: float, *, clock=time.monotonic):
        self.rate = rate
        self.clock = clock
        self.tokens = rate
        self.updated = clock()
        self.refused_in_a_row = 0

    def spend(self) -> bool:
        """Return `True` if one more frame is within the budget, and count it."""
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            self.refused_in_a_row += 1
            return False
        self.tokens -= 1
        self.refused_in_a_row = 0
        return True
