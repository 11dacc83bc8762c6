"""The kinds of stored items (flags, segments), as the official SDK names them."""
from __future__ import annotations

from typing import Callable, Iterable, Optional


class VersionedDataKind:
    """One kind of versioned item in a feature store; `namespace` names its collection."""

    __slots__ = ("_namespace", "_request_api_path", "_stream_api_path", "_priority", "_get_dependency_keys")

    def __init__(
        self,
        namespace: str,
        request_api_path: str,
        stream_api_path: str,
        priority: int = 0,
        get_dependency_keys: Optional[Callable[[dict], Iterable[str]]] = None,
    ):
        self._namespace = namespace
        self._request_api_path = request_api_path
        self._stream_api_path = stream_api_path
        self._priority = priority
        self._get_dependency_keys = get_dependency_keys

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def request_api_path(self) -> str:
        return self._request_api_path

    @property
    def stream_api_path(self) -> str:
        return self._stream_api_path

    @property
    def priority(self) -> int:
        return self._priority

    @property
    def get_dependency_keys(self) -> Optional[Callable[[dict], Iterable[str]]]:
        return self._get_dependency_keys

    def __repr__(self) -> str:
        return "VersionedDataKind(%r)" % self._namespace


def _prerequisite_keys(flag: dict) -> Iterable[str]:
    prereqs = flag.get("prerequisites") or []
    return (p.get("key") for p in prereqs if isinstance(p, dict))


FEATURES = VersionedDataKind("features", "/sdk/latest-flags", "/flags/", 1, _prerequisite_keys)
SEGMENTS = VersionedDataKind("segments", "/sdk/latest-segments", "/segments/", 0, None)

__all__ = ("VersionedDataKind", "FEATURES", "SEGMENTS")
