"""The text of one long SSE line, decoded as its fragments arrive; pure-Python twin.

``LineText().add(fragment)`` for each fragment of the line's raw bytes (after the field name),
then ``finish(last)`` gives the line's value as ``str``: exactly ``bytes.decode("utf-8",
"replace")`` of the whole, by an incremental decoder (a fragment may end inside a UTF-8 sequence).

This twin keeps the decoded fragments and joins them at the end. The compiled twin
(``linetext_c.pyx``) gives the same string but, while the line is ASCII, writes the fragments
into the final string as they arrive, so that the fragment ending a large put (17 MB) costs no
join: the join's fresh 17 MB is what cost ~10 ms there (its first touch of new memory, page by
page), in one reactor callback.
"""
from __future__ import annotations

import codecs
from typing import Any, List

_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class LineText:
    """One line's value, built fragment by fragment (see the module docstring)."""

    __slots__ = ("_decoder", "_parts")

    def __init__(self) -> None:
        self._decoder = _utf8_decoder("replace")
        self._parts: List[str] = []

    def add(self, fragment: Any, final: bool = False) -> None:
        """The next fragment of raw bytes (bytes or a bytes-like object); ``final`` flushes the decoder."""
        self._parts.append(self._decoder.decode(fragment, final))

    def finish(self, last: Any) -> str:
        """The value, once ``last`` (the final fragment, possibly empty) is added. Call once."""
        self.add(last, True)
        parts, self._parts = self._parts, []
        return "".join(parts)


__all__ = ("LineText",)
