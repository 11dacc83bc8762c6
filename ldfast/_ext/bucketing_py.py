"""Bucketing, pure-Python twin: LaunchDarkly's SHA-1 bucket of a context for a rollout."""
from __future__ import annotations

from hashlib import sha1
from typing import Any

_SCALE = float(0xFFFFFFFFFFFFFFF)


def bucket_prefix(key: str, salt: str, seed: Any) -> bytes:
    """The hash prefix, encoded once per rollout: ``"{seed}."`` or ``"{key}.{salt}."``."""
    if seed is not None:
        return ("%s." % (seed,)).encode("utf-8")
    return ("%s.%s." % (key, salt)).encode("utf-8")


def bucket_value(prefix: bytes, value: Any) -> float:
    """The bucket in [0, 1) of an attribute value; 0.0 for values that cannot be bucketed.

    Only strings and ints (not bools, not floats) are bucketable, an int in decimal.
    """
    t = type(value)
    if t is str:
        data = prefix + value.encode("utf-8")
    elif t is int:
        data = prefix + str(value).encode("ascii")
    elif isinstance(value, str) and t is not bool:
        data = prefix + str(value).encode("utf-8")
    elif isinstance(value, int) and not isinstance(value, bool):
        data = prefix + ("%s" % value).encode("utf-8")
    else:
        return 0.0
    return (int.from_bytes(sha1(data).digest()[:8], "big") >> 4) / _SCALE
