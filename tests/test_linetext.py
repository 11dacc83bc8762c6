"""The long-line text builder (``ldfast._ext.linetext.LineText``) that the SSE parser decodes a
large put's data line with: each twin (the ``impl`` fixture) gives exactly ``bytes.decode("utf-8",
"replace")`` of the whole line, however the bytes are split into fragments."""
import importlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldfast.datasource.sse import SSEParser

SETTINGS = dict(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])

# ASCII (JSON's own characters among them), 2-, 3- and 4-byte UTF-8, and bytes that are not UTF-8
# alone or in a sequence (a lone continuation byte, a truncated sequence, 0xff)
PIECES = [b"x", b"{", b'"', b"\\", b" ", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\x80", b"\xff",
          b"\xe2\x82", b"\xf0\x9f"]


def load(impl):
    return importlib.import_module("ldfast._ext.linetext_%s" % impl)


def build(mod, fragments, as_view):
    text = mod.LineText()
    for fragment, view in zip(fragments[:-1], as_view):
        text.add(memoryview(fragment) if view else fragment)
    return text.finish(fragments[-1])


@st.composite
def split_lines(draw):
    """A line's bytes (all ASCII, ASCII with a rare 2-byte character, or mixed) and its fragments
    (cut anywhere, even inside a UTF-8 sequence)."""
    kind = draw(st.sampled_from(["ascii", "rare", "mixed"]))
    piece = st.just(b"a") if kind == "ascii" else st.one_of(st.just(b"a"), st.sampled_from(PIECES))
    pieces = draw(st.lists(piece, max_size=300))
    if kind == "rare":
        pieces = [b"a" if i % 97 else b"\xc3\xa9" for i in range(len(pieces))]
    data = b"".join(pieces)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0] + cuts + [len(data)]
    fragments = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    views = draw(st.lists(st.booleans(), min_size=len(fragments), max_size=len(fragments)))
    return data, fragments, views


@settings(**SETTINGS)
@given(split_lines())
def test_the_text_is_the_decode_of_the_whole(impl, case):
    data, fragments, views = case
    assert build(load(impl), fragments, views) == data.decode("utf-8", "replace")


def test_a_large_ascii_line_and_one_that_turns_non_ascii_late(impl):
    mod = load(impl)
    chunk = b'{"key":"user-00042","values":["a","b"]},' * 1600  # ~64 KB
    fragments = [chunk] * 40 + [b""]
    text = build(mod, fragments, [False] * 40)
    assert type(text) is str and text == (chunk * 40).decode("ascii")
    assert hash(text) == hash((chunk * 40).decode("ascii"))  # an ordinary str, usable as a dict key
    late = [chunk] * 5 + [b"caf\xc3", b"\xa9 \xe2\x82\xac", chunk, b"\xff"]
    assert build(mod, late, [True] * 8) == b"".join(late).decode("utf-8", "replace")
    assert build(mod, [b""], []) == ""


def test_a_long_data_line_through_the_sse_parser(impl, monkeypatch):
    """A data line far above the parser's long-line threshold, fed in small chunks split inside
    UTF-8 sequences: the event's data is exact."""
    import ldfast.datasource.sse as sse

    monkeypatch.setattr(sse, "LineText", load(impl).LineText)
    monkeypatch.setattr(sse, "_LONG_LINE", 64)
    value = ('{"flags":{"f":{"key":"f","on":true,"variations":["caf\u00e9","\u20ac","\U0001f600"]}}}' * 40)
    stream = b"event: put\ndata:" + b" " + value.encode() + b"\n\n"
    for size in (1, 7, 64, 1000):
        parser = SSEParser()
        events = []
        for i in range(0, len(stream), size):
            events.extend(parser.feed(stream[i:i + size]))
        assert [(e.event, e.data) for e in events] == [("put", value)]
