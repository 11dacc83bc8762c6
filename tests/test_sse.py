"""The SSE parser: WHATWG event-stream rules, whatever the chunking of the bytes."""
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ldfast.datasource import sse
from ldfast.datasource.sse import Event, SSEParser


def parse(*chunks, last_event_id=None):
    p = SSEParser(last_event_id)
    events = []
    for c in chunks:
        events.extend(p.feed(c))
    return events, p


def reference(stream: bytes, last_event_id=None):
    """A literal reading of the WHATWG algorithm over the whole stream at once."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # what follows the last line end is not a line yet
    events, data, etype, own_id, id_buffer, retry = [], "", "", None, last_event_id, None
    last = last_event_id
    for line in lines:
        if line == "":
            last = id_buffer
            if data != "":
                events.append(Event(etype or "message", data[:-1] if data.endswith("\n") else data, own_id, last))
            data, etype, own_id = "", "", None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = line, ""
        if name == "data":
            data += value + "\n"
        elif name == "event":
            etype = value
        elif name == "id":
            if "\0" not in value:
                id_buffer = own_id = value
        elif name == "retry":
            if value and all("0" <= ch <= "9" for ch in value):
                retry = int(value)
    return events, last, retry


def test_basic_event_and_default_type():
    events, _ = parse(b"data: hello\n\n")
    assert events == [Event("message", "hello", None, None)]


def test_named_event_multiline_data_and_type_reset():
    events, _ = parse(b"event: put\ndata: a\ndata: b\n\ndata: c\n\n")
    assert events == [Event("put", "a\nb"), Event("message", "c")]


def test_cr_lf_and_crlf_line_ends_in_any_mix():
    events, _ = parse(b"event: x\rdata: 1\r\n\rdata: 2\n\r\ndata: 3\r\r")
    assert [(e.event, e.data) for e in events] == [("x", "1"), ("message", "2"), ("message", "3")]


def test_crlf_split_between_chunks_is_one_line_end():
    # If the LF after a chunk-final CR were a second line end, "data: a" would be dispatched alone.
    events, _ = parse(b"data: a\r", b"\ndata: b\r", b"\n", b"\r\n")
    assert events == [Event("message", "a\nb")]


def test_comments_are_ignored_and_do_not_dispatch():
    events, _ = parse(b":heartbeat\n\n: another\ndata: x\n:mid\n\n")
    assert events == [Event("message", "x")]


def test_field_without_colon_and_single_leading_space():
    events, _ = parse(b"data\n\ndata:  two spaces\n\ndata:nospace\n\n")
    assert [e.data for e in events] == ["", " two spaces", "nospace"]


def test_event_without_data_is_not_dispatched():
    events, p = parse(b"event: put\nid: 7\n\n")
    assert events == [] and p.last_event_id == "7"


def test_unterminated_event_is_never_dispatched():
    events, _ = parse(b"data: a\n")
    assert events == []
    events, _ = parse(b"data: a\n\ndata: b")
    assert events == [Event("message", "a")]


def test_ids_persist_like_last_event_id_and_nul_ids_are_ignored():
    events, p = parse(b"id: 1\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\nid\ndata: d\n\n")
    assert events == [Event("message", "a", "1", "1"), Event("message", "b", None, "1"),
                      Event("message", "c", None, "1"), Event("message", "d", "", "")]
    assert p.last_event_id == ""


def test_seeded_last_event_id():
    events, p = parse(b"data: a\n\n", last_event_id="41")
    assert events == [Event("message", "a", None, "41")] and p.last_event_id == "41"


def test_retry_only_ascii_digits():
    _, p = parse(b"retry: 1500\n")
    assert p.retry == 1500
    _, p = parse(b"retry: 1500\nretry: 12a\nretry: \xd9\xa1\nretry:\n")  # Arabic-Indic one is not ASCII
    assert p.retry == 1500
    _, p = parse(b"data: a\n\n")
    assert p.retry is None


def test_invalid_utf8_is_replaced_never_raised():
    events, _ = parse(b"data: a\xffb\xe2\x82\n\n")
    assert events == [Event("message", "a\ufffdb\ufffd")]


def test_utf8_sequence_split_across_chunks():
    raw = "data: caf\u00e9 \u20ac \U0001f600\n\n".encode()
    for i in range(len(raw)):
        events, _ = parse(raw[:i], raw[i:])
        assert events == [Event("message", "caf\u00e9 \u20ac \U0001f600")]


def test_leading_bom_is_skipped_even_when_split():
    events, _ = parse(b"\xef", b"\xbb", b"\xbfdata: a\n\n")
    assert events == [Event("message", "a")]
    events, _ = parse(b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n")  # only at the very start
    assert [e.event for e in events] == ["message"]


def test_unknown_fields_ignored_and_empty_event_type_is_message():
    events, _ = parse(b"foo: bar\nevent:\ndata: x\n\n")
    assert events == [Event("message", "x")]


def test_large_data_line_in_many_chunks():
    payload = b'{"k": "' + b"v" * 200_000 + b'"}'
    raw = b"event: put\ndata: " + payload + b"\n\n"
    events, _ = parse(*[raw[i:i + 1000] for i in range(0, len(raw), 1000)])
    assert len(events) == 1 and events[0].data == payload.decode()


def test_a_reused_chunk_buffer_does_not_change_a_pending_line():
    # Chunks without a line break are kept as they are until the line ends: a caller's buffer
    # (a bytearray it refills) must be copied, not held.
    p = SSEParser()
    assert p.feed(b"data: ") == []
    buf = bytearray(b"abc")
    assert p.feed(buf) == []
    buf[:] = b"XYZ"
    assert p.feed(buf) == []
    assert p.feed(b"\n\n") == [Event("message", "abcXYZ")]


_PIECES = [b"data", b"event", b"id", b"retry", b"put", b":", b" ", b"\r", b"\n", b"\r\n", b"\n\n", b"x",
           b"12", b"\x00", b"\xc3\xa9", b"\xe2\x82\xac", b"\xe2\x82", b"\xff", b"\xef\xbb\xbf", b"\xf0\x9f\x98\x80"]

streams = st.lists(st.sampled_from(_PIECES), max_size=60).map(b"".join)


@st.composite
def stream_and_cuts(draw):
    data = draw(st.one_of(streams, st.binary(max_size=200)))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    return data, cuts


@settings(max_examples=400, deadline=None)
@given(stream_and_cuts(), st.one_of(st.none(), st.text(max_size=3)))
def test_any_chunking_gives_the_same_events_as_the_whole_stream_reference(sc, seed):
    data, cuts = sc
    bounds = [0] + cuts + [len(data)]
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    events, p = parse(*chunks, last_event_id=seed)
    whole, pw = parse(data, last_event_id=seed)
    bytewise, pb = parse(*[data[i:i + 1] for i in range(len(data))], last_event_id=seed)
    assert bytewise == whole and pb.last_event_id == pw.last_event_id and pb.retry == pw.retry
    ref_events, ref_last, ref_retry = reference(data, seed)
    assert events == whole == ref_events
    assert p.last_event_id == pw.last_event_id == ref_last
    assert p.retry == pw.retry == ref_retry


@settings(max_examples=400, deadline=None)
@given(stream_and_cuts(), st.one_of(st.none(), st.text(max_size=3)), st.integers(1, 8))
def test_long_lines_decoded_as_they_arrive_give_the_same_events(sc, seed, threshold):
    # A line is decoded fragment by fragment once it is longer than sse._LONG_LINE (256 KB);
    # with a threshold of a few bytes every line of these streams takes that path somewhere.
    data, cuts = sc
    bounds = [0] + cuts + [len(data)]
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    saved = sse._LONG_LINE
    sse._LONG_LINE = threshold
    try:
        events, p = parse(*chunks, last_event_id=seed)
        bytewise, pb = parse(*[data[i:i + 1] for i in range(len(data))], last_event_id=seed)
    finally:
        sse._LONG_LINE = saved
    ref_events, ref_last, ref_retry = reference(data, seed)
    assert events == bytewise == ref_events
    assert p.last_event_id == pb.last_event_id == ref_last
    assert p.retry == pb.retry == ref_retry


def test_long_lines_past_the_threshold():
    # Real size: a 1 MB data line with multibyte characters cut by 64 KB chunks, a long comment
    # and a long unknown field (both ignored), a long id, a long data line.
    value = ("\u00e9\u20ac\U0001f600x" * 80_000).encode()
    pad = b"z" * sse._LONG_LINE
    raw = (b"event: put\ndata: " + value + b"\n:" + b"c" * 600_000 + b"\n" + b"q" * 600_000 + b": v\n\n"
           + b"id: " + b"i" * 300_000 + b"\ndata: " + pad + b"\n\n")
    events, p = parse(*[raw[i:i + 65536] for i in range(0, len(raw), 65536)])
    ref_events, ref_last, _ = reference(raw)
    assert events == ref_events and p.last_event_id == ref_last == "i" * 300_000
    assert len(events) == 2 and events[0].data == value.decode() and events[1].data == pad.decode()


def test_long_line_field_name_and_value_split():
    # The field name is found in the held bytes; the value runs on into later fragments.
    p = SSEParser()
    assert p.feed(b"data:" + b"w" * (sse._LONG_LINE - 5) + b":") == []
    assert p.feed(b" tail\n\n") == [Event("message", "w" * (sse._LONG_LINE - 5) + ": tail")]
    p = SSEParser()
    assert p.feed(b"x" * (sse._LONG_LINE - 5) + b"data:") == []
    assert p.feed(b"  v\n\n") == []  # the field name is the long "xxx...data": ignored
    p = SSEParser()
    assert p.feed(b"data:") == [] and p.feed(b"v" * sse._LONG_LINE) == []
    assert p.feed(b"\n\n") == [Event("message", "v" * sse._LONG_LINE)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "patch", "message"]), st.text(max_size=20)), max_size=5),
       st.sampled_from([b"\n", b"\r", b"\r\n"]), st.data())
def test_round_trip_of_generated_events(evs, eol, data):
    raw = b""
    expected = []
    for name, text in evs:
        lines = re.split(r"\r\n|\r|\n", text)
        raw += b"event: " + name.encode() + eol
        for line in lines:
            raw += b"data: " + line.encode() + eol  # one space, removed: a leading space in line survives
        raw += eol
        expected.append(Event(name, "\n".join(lines)))
    step = data.draw(st.integers(1, 7))
    events, _ = parse(*[raw[i:i + step] for i in range(0, len(raw), step)])
    assert events == expected
