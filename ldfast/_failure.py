"""Typed access to a Twisted ``Failure``'s exception (its annotations allow ``None`` where a
Failure made from an exception always has one)."""
from __future__ import annotations

from types import TracebackType
from typing import Optional, Tuple

from twisted.python.failure import Failure


def exc_info(failure: Failure) -> Tuple[type, BaseException, Optional[TracebackType]]:
    """The failure as ``logging``'s ``exc_info`` triple."""
    value = failure.value
    assert value is not None  # set from the exception the Failure was made of
    return type(value), value, failure.getTracebackObject()


def type_name(failure: Failure) -> str:
    """The name of the failure's exception class."""
    return type(failure.value).__name__
