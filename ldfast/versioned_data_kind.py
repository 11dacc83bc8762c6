"""The kinds of stored items (flags, segments), as the official SDK names them."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional


class VersionedDataKind:
    """One kind of versioned item in a feature store; `namespace` names its collection."""

    __slots__ = ("_namespace", "_request_api_path", "_stream_api_path", "_decoder", "_priority",
                 "_get_dependency_keys")

    def __init__(
        self,
        namespace: str,
        request_api_path: str,
        stream_api_path: str,
        decoder: Optional[Callable[[dict[str, Any]], Any]] = None,
        priority: int = 0,
        get_dependency_keys: Optional[Callable[[dict[str, Any]], Iterable[Optional[str]]]] = None,
    ):
        self._namespace = namespace
        self._request_api_path = request_api_path
        self._stream_api_path = stream_api_path
        self._decoder = decoder
        self._priority = priority
        self._get_dependency_keys = get_dependency_keys

    def decode(self, data: Any) -> Any:
        """``decoder(data)`` for a dict when a decoder was given; else ``data`` as it is."""
        if self._decoder is None or not isinstance(data, dict):
            return data
        return self._decoder(data)

    def encode(self, item: Any) -> dict[str, Any]:
        """The JSON-ready dict of an item (a dict is returned as it is)."""
        to_json = getattr(item, "to_json_dict", None)
        encoded: dict[str, Any] = to_json() if to_json is not None else item
        return encoded

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
    def get_dependency_keys(self) -> Optional[Callable[[dict[str, Any]], Iterable[Optional[str]]]]:
        return self._get_dependency_keys

    def __repr__(self) -> str:
        return "VersionedDataKind(%r)" % self._namespace


class VersionedDataKindWithOrdering(VersionedDataKind):
    """A kind with a write order (``priority``) and dependencies, as the official SDK's FEATURES."""

    __slots__ = ()

    def __init__(self, namespace: str, request_api_path: str, stream_api_path: str,
                 decoder: Optional[Callable[[dict[str, Any]], Any]], priority: int,
                 get_dependency_keys: Optional[Callable[[dict[str, Any]], Iterable[Optional[str]]]]):
        super().__init__(namespace, request_api_path, stream_api_path, decoder, priority, get_dependency_keys)


def _prerequisite_keys(flag: dict[str, Any]) -> Iterable[Optional[str]]:
    prereqs = flag.get("prerequisites") or []
    return (p.get("key") for p in prereqs if isinstance(p, dict))


FEATURES = VersionedDataKindWithOrdering("features", "/sdk/latest-flags", "/flags/", None, 1, _prerequisite_keys)
SEGMENTS = VersionedDataKindWithOrdering("segments", "/sdk/latest-segments", "/segments/", None, 0, None)

__all__ = ("VersionedDataKind", "VersionedDataKindWithOrdering", "FEATURES", "SEGMENTS")
