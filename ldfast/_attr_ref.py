"""Attribute references: literal names and ``/a/b`` paths into a context's attributes."""
from __future__ import annotations

import re
from typing import Optional, Tuple

_BAD_ESCAPE = re.compile(r"(~[^01]|~$)")
_ERR_EMPTY = "attribute reference cannot be empty"


class AttrRef:
    """A parsed reference: ``first`` is looked up with Context.get, ``rest`` indexes into objects."""

    __slots__ = ("path", "first", "rest", "error", "depth")

    def __init__(self, path: str, components: Tuple[str, ...], error: Optional[str]):
        self.path = path
        self.error = error
        self.depth = 0 if error is not None else len(components)
        self.first: Optional[str] = components[0] if components else None
        self.rest: Tuple[str, ...] = components[1:]

    @property
    def valid(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        return "AttrRef(%r)" % (self.path if self.error is None else self.error)


def ref_from_path(path: str) -> AttrRef:
    if path == "" or path == "/":
        return AttrRef("", (), _ERR_EMPTY)
    if path[0] != "/":
        return AttrRef(path, (path,), None)
    parts = path[1:].split("/")
    for i, c in enumerate(parts):
        if c == "":
            return AttrRef("", (), "attribute reference contained a double slash or a trailing slash")
        if "~" in c:
            if _BAD_ESCAPE.search(c):
                return AttrRef("", (), "attribute reference contained an escape character (~) that was not followed by 0 or 1")
            parts[i] = c.replace("~1", "/").replace("~0", "~")
    return AttrRef(path, tuple(parts), None)


def ref_from_literal(name: str) -> AttrRef:
    if name == "":
        return AttrRef("", (), _ERR_EMPTY)
    if name[0] != "/":
        return AttrRef(name, (name,), None)
    return AttrRef("/" + name.replace("~", "~0").replace("/", "~1"), (name,), None)


def ref_for(attr: str, context_kind: Optional[str]) -> AttrRef:
    """A clause or bucketBy attribute: a literal name without a context kind, else a path."""
    if context_kind is None or context_kind == "":
        return ref_from_literal(attr)
    return ref_from_path(attr)
