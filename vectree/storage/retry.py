"""Retry transient object-store failures with exponential backoff and jitter.

A transient failure is one where trying again may succeed: a refused or reset connection,
a timeout, an HTTP 5xx, 429 or 408. Anything else (not found, access denied, a failed
precondition) is returned to the caller at once.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from vectree.errors import InvalidInputError

T = TypeVar("T")
RETRY_ENV = "VECTREE_S3_RETRY_S"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on a transient failure.

    Attempt ``i`` (0-based) that fails transiently is followed by a pause drawn uniformly from
    ``[d/2, d]`` with ``d = min(max_delay_s, base_delay_s * 2**i)`` ("equal jitter": writers that
    failed together spread out, yet every pause has a lower bound, so the window in which a
    restarted server is found again is predictable). With the defaults the pauses add up to 9.2-18.3 s:
    enough to ride out a server restart (about 5 s for SeaweedFS) with room to spare, yet a server that
    stays down is reported within 20 s. ``$VECTREE_S3_RETRY_S`` (seconds) sets the default budget to ride
    out a longer outage, for callers that cannot pass ``retry=`` (the command line);
    :meth:`RetryPolicy.riding_out` builds such a policy.

    Parameters
    ----------
    attempts:
        Total tries including the first (1 disables retrying).
    base_delay_s, max_delay_s:
        The first pause and the cap on any pause, in seconds.
    deadline_s:
        Give up once this many seconds have passed since the first try (None: no deadline).
    """

    attempts: int = 10
    base_delay_s: float = 0.1
    max_delay_s: float = 4.0
    deadline_s: float | None = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidInputError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise InvalidInputError(
                f"RetryPolicy delays must be >= 0, got base={self.base_delay_s} max={self.max_delay_s}"
            )

    @property
    def min_total_s(self) -> float:
        """The least time the pauses add up to before giving up (the outage it surely rides out)."""
        return sum(min(self.max_delay_s, self.base_delay_s * 2.0**i) / 2 for i in range(self.attempts - 1))

    @classmethod
    def riding_out(cls, seconds: float) -> RetryPolicy:
        """The default pauses, with enough attempts that they add up to at least ``seconds``.

        >>> RetryPolicy().min_total_s >= 9, RetryPolicy.riding_out(60).min_total_s >= 60
        (True, True)
        """
        if not seconds >= 0:
            raise InvalidInputError(f"the retry budget must be a number of seconds >= 0, got {seconds!r}")
        policy = cls(attempts=1, deadline_s=None)
        while policy.min_total_s < seconds:
            policy = cls(attempts=policy.attempts + 1, deadline_s=None)
        return cls(attempts=max(policy.attempts, 2), deadline_s=2.5 * seconds + 10)

    @classmethod
    def coerce(cls, value: RetryPolicy | dict[str, Any] | int | None) -> RetryPolicy:
        """Accept a policy, a dict of its fields, a number of attempts, or None (the default, or
        ``$VECTREE_S3_RETRY_S`` seconds of outage to ride out when set)."""
        if value is None:
            budget = os.environ.get(RETRY_ENV)
            if budget:
                try:
                    return cls.riding_out(float(budget))
                except ValueError:
                    raise InvalidInputError(f"${RETRY_ENV} must be a number of seconds, got {budget!r}") from None
            return cls()
        if isinstance(value, RetryPolicy):
            return value
        if isinstance(value, int):
            return cls(attempts=value)
        if isinstance(value, dict):
            unknown = set(value) - {"attempts", "base_delay_s", "max_delay_s", "deadline_s"}
            if unknown:
                raise InvalidInputError(
                    f"unknown retry option(s) {sorted(unknown)}: use attempts, base_delay_s, max_delay_s, deadline_s"
                )
            return cls(**value)
        raise InvalidInputError(f"retry must be a RetryPolicy, a dict or an int, got {value!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The pause after failed attempt number ``attempt`` (0-based)."""
        d = min(self.max_delay_s, self.base_delay_s * (2.0**attempt))
        return (rng or random).uniform(d / 2.0, d)


class GaveUp(Exception):
    """Raised by :func:`call_with_retry` when the last attempt failed transiently."""

    def __init__(self, attempts: int, elapsed_s: float, last: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempt(s) in {elapsed_s:.1f} s: {last}")
        self.attempts = attempts
        self.elapsed_s = elapsed_s
        self.last = last


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    is_transient: Callable[[BaseException], bool],
    *,
    on_retry: Callable[[int, BaseException], None] | None = None,
    what: str = "request",
) -> T:
    """Call ``fn`` until it succeeds, fails permanently, or the policy runs out.

    Permanent failures propagate unchanged; running out raises :class:`GaveUp` wrapping the
    last transient failure. ``on_retry(attempt, exc)`` is called before each pause.
    """
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            elapsed = time.monotonic() - start
            pause = policy.delay(attempt)
            attempt += 1
            out_of_time = policy.deadline_s is not None and elapsed + pause > policy.deadline_s
            if attempt >= policy.attempts or out_of_time:
                raise GaveUp(attempt, elapsed, exc) from exc
            log.debug("transient failure on %s (attempt %d), retrying in %.2f s: %s", what, attempt, pause, exc)
            if on_retry is not None:
                on_retry(attempt, exc)
            time.sleep(pause)
