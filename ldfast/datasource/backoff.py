"""The reconnect delay strategy of the streaming data source (ldclient/impl/retry.py, for_streaming).

Each failure doubles the base delay from ``initial_delay`` up to a 30 s ceiling; the delay used is
the base less a random jitter of up to half of it, so it lies in [base/2, base]. Once the source has
been healthy (it handled a message) for 60 s, the next failure starts over from the initial delay.
The first connection has no delay: callers only ask for one after a failure.

An *unexpected* failure (an HTTP status such as 401 that a person has to fix) moves the strategy to
the extended regime that launchdarkly-server-sdk 9.20.0 uses for them: 5 minutes doubling up to an
hour, until the reset condition is met.

No I/O and no reactor: the clock (``reactor.seconds``) and the random source are injected.
"""
from __future__ import annotations

import logging
import math
import random as _random
from typing import Callable, Optional

log = logging.getLogger(__name__)

DEFAULT_INITIAL_DELAY = 1.0
MAX_DELAY = 30.0
RESET_INTERVAL = 60.0
JITTER_RATIO = 0.5
EXTENDED_INITIAL_DELAY = 5 * 60.0
EXTENDED_MAX_DELAY = 60 * 60.0
_MAX_EXPONENT = 30  # keeps a very long outage from overflowing; every ceiling is reached long before


def _usable(initial_delay: float) -> float:
    if isinstance(initial_delay, (int, float)) and initial_delay > 0 and math.isfinite(initial_delay):
        return float(initial_delay)
    log.warning("initial_reconnect_delay must be a positive, finite number of seconds; using the default of %ss",
                DEFAULT_INITIAL_DELAY)
    return DEFAULT_INITIAL_DELAY


class Backoff:
    """How long to wait before the next connection attempt.

    ``record_failure()`` returns the delay before the next attempt; ``record_success()`` marks the
    source healthy (only the first call of a healthy stretch counts, so the 60 s are measured from
    it). ``clock`` returns seconds (``reactor.seconds``); ``random`` returns a float in [0, 1).
    A non-positive or non-finite ``initial_delay`` is replaced by 1 s, with a warning, as the
    official SDK does; one above the ceiling raises the ceiling.
    """

    def __init__(self, initial_delay: float = DEFAULT_INITIAL_DELAY, *, clock: Callable[[], float],
                 random: Optional[Callable[[], float]] = None) -> None:
        self._initial = _usable(initial_delay)
        self._clock = clock
        self._random: Callable[[], float] = random if random is not None else _random.Random().random
        self._attempts = 0
        self._extended = False
        self._healthy_since: Optional[float] = None

    @property
    def initial_delay(self) -> float:
        return self._initial

    @property
    def attempts(self) -> int:
        """Failures counted since the last reset."""
        return self._attempts

    @property
    def extended(self) -> bool:
        """Whether an unexpected failure has put the strategy in the extended regime."""
        return self._extended

    def record_success(self) -> None:
        """The source is working (it handled a message); starts the healthy stretch if none is running."""
        if self._healthy_since is None:
            self._healthy_since = self._clock()

    def record_failure(self, unexpected: bool = False) -> float:
        """Count a failure and return the delay, in seconds, before the next attempt."""
        if self._healthy_since is not None and self._clock() - self._healthy_since >= RESET_INTERVAL:
            self._attempts = 0
            self._extended = False
        self._healthy_since = None
        if unexpected and not self._extended:
            self._extended = True
            self._attempts = 1
        else:
            self._attempts += 1
        if self._extended:
            low = max(EXTENDED_INITIAL_DELAY, self._initial)
            ceiling = max(EXTENDED_MAX_DELAY, low)
        else:
            low = self._initial
            ceiling = max(MAX_DELAY, low)
        base: float = min(low * (2 ** min(self._attempts - 1, _MAX_EXPONENT)), ceiling)
        return base - self._random() * JITTER_RATIO * base


__all__ = ("Backoff",)
