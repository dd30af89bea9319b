"""Per-tenant request rates (a token bucket per tenant in each worker) and request body limits."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """``rate`` requests a second per tenant, with bursts of up to ``burst``.

    >>> lim = RateLimiter(rate=1.0, burst=2.0)
    >>> [lim.take("a") for _ in range(3)]
    [0.0, 0.0, 1.0]
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = float(rate), max(1.0, float(burst))
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, tenant: str) -> float:
        """Spend one token; 0.0 if there was one, else the seconds until there will be (nothing is spent)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._tokens.get(tenant, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._tokens[tenant] = (tokens - 1.0, now)
                return 0.0
            self._tokens[tenant] = (tokens, now)
            return round((1.0 - tokens) / self.rate, 3)
