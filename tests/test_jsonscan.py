"""The JSON object splitter (``ldfast._ext.jsonscan``): members as key and value span, as strict as json.loads.

Every test runs against each twin (the ``impl`` fixture); the answers are checked against the
stdlib's own decoding of the same text, and the twins against each other.
"""
import importlib
import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NAME = "prerequisites"
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])
MESSAGE = re.compile(r"^.+: line \d+ column \d+ \(char \d+\)$", re.S)


def load(impl):
    return importlib.import_module("ldfast._ext.jsonscan_%s" % impl)


def walk(mod, text, pos=0, name=NAME, limit=1000):
    """All the items of the object at text[pos] and its end."""
    scanner = mod.ObjectScanner(text, pos, name)
    items = []
    while True:
        batch = scanner.next_items(limit)
        if not batch:
            break
        assert 1 <= len(batch) <= limit
        items.extend(batch)
    assert scanner.next_items(limit) == []
    return items, scanner.end


def same(a, b):
    """Equality of decoded JSON that holds for NaN (and tells -0.0 from 0)."""
    return json.dumps(a) == json.dumps(b)


def pairs_hook(pairs):
    return ("object", pairs)


def check_against_json(mod, text, name=NAME, pos=0):
    """The items agree with the stdlib's decoding of the object; returns them."""
    items, end = walk(mod, text, pos, name)
    expected = json.loads(text[pos:end], object_pairs_hook=pairs_hook)[1]  # every member, duplicates too
    assert [k for k, _, _, _ in items] == [k for k, _ in expected]
    for (key, start, stop, named), (_, value) in zip(items, expected):
        span = text[start:stop]
        assert span == span.strip(" \t\n\r") and span
        assert same(json.loads(span, object_pairs_hook=pairs_hook), value)
        decoded = json.loads(span)
        assert same(named, decoded.get(name) if isinstance(decoded, dict) else None)
    return items, end


def check_acceptance(mod, text, name):
    """The scanner refuses the text exactly when json.loads refuses the object, with json's message."""
    result = outcome(mod, text, name)
    if not text.startswith("{"):
        assert isinstance(result, str)
        return
    try:
        json.loads(text)
        json_error = None
    except ValueError as e:
        json_error = e
    if isinstance(result, str):
        assert json_error is not None, "refused what json.loads takes: %s" % result
        assert MESSAGE.match(result[len("ValueError: "):])
        if "Illegal trailing comma" not in str(json_error):  # a newer stdlib's own wording
            assert result == "ValueError: %s" % json_error
        return
    items, end = result
    if text[end:].strip(" \t\n\r"):
        json.loads(text[:end])  # the object itself is valid; what follows is not the scanner's concern
    else:
        assert json_error is None, "took what json.loads refuses: %s" % json_error
        check_against_json(mod, text, name=name)


def outcome(mod, text, name):
    try:
        return walk(mod, text, 0, name, limit=3)
    except ValueError as e:
        return "ValueError: %s" % e


# ---------------------------------------------------------------------------------------------
# Hand-written cases
# ---------------------------------------------------------------------------------------------

def test_empty_object(impl):
    mod = load(impl)
    assert walk(mod, "{}") == ([], 2)
    assert walk(mod, "{ \t\n\r}xyz") == ([], 6)
    assert walk(mod, "[{}]", pos=1) == ([], 3)


def test_spans_keys_and_end(impl):
    text = ' {"a" : 1 ,\n"b":\t[1, {"c": null}] , "c":"x\\"y" }  trailing junk is not the scanner\'s'
    items, end = walk(load(impl), text, pos=1)
    assert items == [("a", 8, 9, None), ("b", 17, 33, None), ("c", 40, 46, None)]
    assert [text[s:e] for _, s, e, _ in items] == ["1", '[1, {"c": null}]', '"x\\"y"']
    assert text[end - 1] == "}" and end == 48


def test_whitespace_everywhere(impl):
    text = '{~"k"~:~{~"prerequisites"~:~[~1~,~{~}~,~[~]~]~}~,~"m"~:~""~}'.replace("~", " \t\n\r")
    items, end = check_against_json(load(impl), text)
    assert [(k, n) for k, _, _, n in items] == [("k", [1, {}, []]), ("m", None)]
    assert end == len(text)


def test_nested_arrays_and_objects(impl):
    text = json.dumps({"a": [[[]], [{}], {"b": [{"c": {"d": [1, [2, [3]]]}}]}], "b": {"x": {"y": {"z": {}}}}})
    check_against_json(load(impl), text)


def test_every_escape(impl):
    text = r'{"\"\\\/\b\f\n\r\t\u0041\u00e9\u00E9\uD83D\ude00\u6f22": "\"\\\/\b\f\n\r\t\u0041\u00e9\u00E9\uD83D\ude00"}'
    items, _ = check_against_json(load(impl), text)
    assert items[0][0] == '"\\/\b\f\n\r\tA\xe9\xe9\U0001f600\u6f22'


def test_lone_surrogates(impl):
    mod = load(impl)
    text = r'{"\ud800": "\udfff", "\ud83dx": ["\ude00\ud83d"], "\ud83d\u0041": 1}'
    items, _ = check_against_json(mod, text)
    assert [k for k, _, _, _ in items] == ["\ud800", "\ud83dx", "\ud83dA"]
    raw = '{"\ud800": "\udfff", "\udfff\ud800": 2}'  # unescaped lone surrogates in the str itself
    items, _ = check_against_json(mod, raw)
    assert [k for k, _, _, _ in items] == ["\ud800", "\udfff\ud800"]


@pytest.mark.parametrize("char", ["é", "漢", "😀"])
def test_non_ascii_keys_and_values(impl, char):
    """A str of 1, 2 and 4 bytes per char: the name and the text in every combination of kinds."""
    mod = load(impl)
    for name in (NAME, char, "k" + char):
        value = {name: [char * 3], char: {"x" + char: char}, "a": "b"}
        for ensure_ascii in (True, False):
            text = json.dumps({char: value, "k" + char: [char], "plain": {name: char, "z": 1}}, ensure_ascii=ensure_ascii)
            items, _ = check_against_json(mod, text, name=name)
            assert items[0][3] == value[name] and items[2][3] == char
            check_against_json(mod, "{\"\U0001f600\": 0, \"a\": " + text + "}", name=name)


def test_numbers(impl):
    numbers = ["0", "-0", "1.5e-3", "1E+2", "1e2", "-12.25E-0", "0.0", str(10 ** 30), str(-10 ** 30),
               "NaN", "Infinity", "-Infinity", "1" * 640, "9" * 641, "1e99999", "-0.0e-0"]
    text = "{" + ", ".join('"n%d": %s' % (i, n) for i, n in enumerate(numbers)) + "}"
    items, _ = check_against_json(load(impl), text)
    assert [text[s:e] for _, s, e, _ in items] == numbers


def test_more_digits_than_int_takes(impl):
    """As json.loads: int() refuses a literal over sys.get_int_max_str_digits() (a float is fine)."""
    mod = load(impl)
    with pytest.raises(ValueError, match=r"^Exceeds the limit .*char 6\)$"):
        walk(mod, '{"a": [-%s]}' % ("7" * 5000))
    with pytest.raises(ValueError):
        json.loads('{"a": [-%s]}' % ("7" * 5000))
    check_against_json(mod, '{"a": [-%s.5, %se1]}' % ("7" * 5000, "7" * 5000))


def test_literals(impl):
    check_against_json(load(impl), '{"a":true,"b":false,"c":null,"d":[true,false,null,NaN,-Infinity]}')


def test_duplicate_keys(impl):
    mod = load(impl)
    text = '{"a": 1, "a": {"prerequisites": 1, "x": 0, "prerequisites": [2]}, "a": {"prerequisites": 3}}'
    items, _ = check_against_json(mod, text)
    assert [(k, n) for k, _, _, n in items] == [("a", None), ("a", [2]), ("a", 3)]


@pytest.mark.parametrize("value,named", [
    ('{"prerequisites": [{"key": "x", "variation": 1}]}', [{"key": "x", "variation": 1}]),
    ('{"prerequisites": null}', None),
    ('{"a": 1, "prerequisites": {"b": [1]}, "c": 2}', {"b": [1]}),
    ('{"pre\\u0072equisites": 7}', 7),
    ('{"\\u0070rerequisite\\u0073": 8, "prerequisitesx": 9, "prerequisite": 10}', 8),
    ('{"prerequisites ": 1, " prerequisites": 2, "Prerequisites": 3}', None),
    ('["prerequisites", {"prerequisites": 1}]', None),
    ('"prerequisites"', None),
    ('12', None),
    ('{"a": {"prerequisites": 1}, "b": [{"prerequisites": 2}]}', None),
    ('{}', None),
])
def test_named(impl, value, named):
    items, _ = check_against_json(load(impl), '{"flag": %s}' % value)
    assert items[0][3] == named


def test_named_with_escaped_surrogate_pair_and_lone_half(impl):
    mod = load(impl)
    items, _ = check_against_json(mod, '{"f": {"\\ud83d\\ude00": 1, "\\ud83d": 2}}', name="😀")
    assert items[0][3] == 1
    items, _ = check_against_json(mod, '{"f": {"\\ud83d\\ude00": 1, "\\ud83d": 2}}', name="\ud83d")
    assert items[0][3] == 2
    items, _ = check_against_json(mod, '{"f": {"\ud83d\\ude00": 3}}', name="😀")  # raw half + escape: not joined
    assert items[0][3] is None


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_small_limits(impl, limit):
    mod = load(impl)
    text = json.dumps({"k%d" % i: {"prerequisites": [i], "v": "x" * i} for i in range(20)}, indent=1)
    whole, end = walk(mod, text, limit=1000)
    assert len(whole) == 20
    assert walk(mod, text, limit=limit) == (whole, end)
    scanner = mod.ObjectScanner(text, 0, NAME)
    assert scanner.end == -1
    batch = scanner.next_items(limit)
    assert len(batch) == limit and batch == whole[:limit]


def test_deep_nesting(impl):
    """Deep nesting is refused with ValueError, never RecursionError; 500 levels are fine for both twins."""
    mod = load(impl)
    items, _ = check_against_json(mod, '{"a": %s1%s}' % ("[" * 498, "]" * 498))
    assert len(items) == 1
    for depth in (1000, 5000, 100000):
        with pytest.raises(ValueError, match="char 6"):
            walk(mod, '{"a": %s1%s}' % ("[" * depth, "]" * depth))
        with pytest.raises(ValueError, match="char 6"):
            walk(mod, '{"a": %s}' % ('{"a":' * depth + "1" + "}" * depth))


# ---------------------------------------------------------------------------------------------
# Invalid JSON
# ---------------------------------------------------------------------------------------------

INVALID = [
    '{"a": 1,}', '{"a": [1,]}', '{"a": {"b": 1,}}', '{,}', '{"a" 1}', '{"a": {"b" 1}}', '{a: 1}', '{"a": {b: 1}}',
    '{1: 2}', '{"a": "\x00"}', '{"a": "x\x1f"}', '{"\n": 1}', '{"a": "\\x"}', '{"a": "\\u12"}', '{"a": "\\u12"',
    '{"a": "\\u12g4"}', '{"a": "\\uD83D\\uDE0"}', '{"a": "\\U0041"}', '{"a": "\\\'"}', '{"a": "\\', '{"a": 01}',
    '{"a": -01}', '{"a": 1.}', '{"a": .5}', '{"a": -}', '{"a": +1}', '{"a": 1e}', '{"a": 1e+}', '{"a": 1.e5}',
    '{"a": 0x10}', '{"a": 1_0}', '{"a": \u0661}', "{'a': 1}", '{"a": \'x\'}', '{"a": "x', '{"a": 1', '{"a": [1',
    '{"a": {"b": 1}', '{"a": [1, 2', '{"a": 1 2}', '{"a": [1 2]}', '{"a": truex}', '{"a": tru}', '{"a": nul}',
    '{"a": NaNa}', '{"a": nan}', '{"a": -NaN}', '{"a": infinity}', '{"a": +Infinity}', '{"a": Infinit}',
    '{"a": True}', '{"a": None}', '{"a"}', '{"a":}', '{"a": [}', '{"a": [,1]}', '{"a": [1,,2]}', '{"a": 1,, "b": 2}',
    '{"a": 1 "b": 2}', '{"a": 1}'.replace(" ", "\u00a0"), '{"a":\x0c1}', '{"a": [1]]}', '{"a": {]}', '{"a": [}]}',
    '{', '{ ', '{"a"', '{"a":', '{"a": "\ud800', '{"a": "ok" /* c */}', '{"a": 1}'.replace("1", "\uff11"),
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_json_raises_value_error(impl, text):
    with pytest.raises(ValueError) as json_error:
        json.loads(text)
    with pytest.raises(ValueError) as error:
        walk(load(impl), text)
    assert MESSAGE.match(str(error.value))
    if text not in ('{"a": 1,}', '{,}'):  # a newer stdlib words a trailing comma of its own
        assert str(error.value) == str(json_error.value)


CONTEXTS = ['{"a": "\\%s"}', '{"a": "\\u00%s0"}', '{"a": "\\ud800\\u%sc00"}', '{"a": "%s"}', '{"a": %s}',
            '{"a": -%s}', '{"a": 1%s}', '{"a": 0%s}', '{"a": 1.%s}', '{"a": 1e%s}', '{"a": 1e-%s}', '{"a": [1%s2]}',
            '{"a": [%s]}', '{"a": {%s}}', '{"a"%s: 1}', '{%s"a": 1}', '{"a": 1%s, "b": 2}', '{"a": t%sue}',
            '{"%s": 1}', '{"a": {"b"%s1}}']


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_char_in_each_context(impl, context):
    """One char (each of U+0000..U+00FF and a few more) at a sensitive spot: refused exactly when json refuses."""
    mod = load(impl)
    for char in [chr(c) for c in range(256)] + ["\u0660", "\u2028", "\ufeff", "\ud800", "\U0001d7ce"]:
        check_acceptance(mod, context % char, NAME)


def test_error_is_sticky_and_keeps_earlier_items(impl):
    mod = load(impl)
    scanner = mod.ObjectScanner('{"a": 1, "b": 2, "c": [1,], "d": 4}', 0, NAME)
    assert [k for k, _, _, _ in scanner.next_items(2)] == ["a", "b"]
    with pytest.raises(ValueError, match=r"char 25\)$") as first:
        scanner.next_items(2)
    with pytest.raises(ValueError) as again:
        scanner.next_items(2)
    assert str(again.value) == str(first.value) and scanner.end == -1


def test_messages_never_quote_the_text(impl):
    mod = load(impl)
    for text in ('{"sekrit": sekrit}', '{"sekrit": "sekrit\\q"}', '{sekrit: 1}', '{"a": 1 sekrit}',
                 '{"sekrit": "\x01sekrit"}', '{"sekrit": 1%s}' % ("1" * 5000)):
        with pytest.raises(ValueError) as error:
            walk(mod, text)
        assert "sekrit" not in str(error.value)
        assert error.value.__context__ is None and error.value.__cause__ is None  # json's error holds the text
        assert not any(isinstance(v, str) and len(v) > 100 for v in vars(error.value).values())


@pytest.mark.parametrize("text,pos", [("", 0), ("{}", 2), ("{}", -1), ("{}", -2), (" {}", 0), ("[]", 0),
                                      ("x{}", 0), ('"{}"', 0)])
def test_not_at_an_object(impl, text, pos):
    with pytest.raises(ValueError, match="^Expecting '{'"):
        load(impl).ObjectScanner(text, pos, NAME)


def test_wrong_types(impl):
    mod = load(impl)
    for text in (b"{}", bytearray(b"{}"), None, 1, ["{}"]):
        with pytest.raises(TypeError):
            mod.ObjectScanner(text, 0, NAME)
    for name in (b"x", None):
        with pytest.raises(TypeError):
            mod.ObjectScanner("{}", 0, name)
    for pos in (0.0, "0", None):
        with pytest.raises(TypeError):
            mod.ObjectScanner("{}", pos, NAME)
    with pytest.raises(ValueError):
        mod.ObjectScanner("{}", 0, NAME).next_items(0)


def test_str_subclass(impl):
    class Text(str):
        pass

    items, end = walk(load(impl), Text('{"a": {"prerequisites": 1}}'), name=Text(NAME))
    assert items == [("a", 6, 26, 1)] and end == 27


# ---------------------------------------------------------------------------------------------
# Random documents
# ---------------------------------------------------------------------------------------------

KEYS = st.sampled_from([NAME, "key", "é", "漢", "😀", "", "\ud800", "a\"b\\"]) | st.text(max_size=6)
TEXT = st.text(st.characters() | st.sampled_from(["\ud800", "\udfff", "\ud83d", "\x00", "\\", '"']),
               max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-10 ** 30, 10 ** 30)
           | st.floats(allow_nan=True, allow_infinity=True) | TEXT)
VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS, kids, max_size=5),
                      max_leaves=20)
WS = st.text(" \t\n\r", max_size=2)


@st.composite
def documents(draw):
    """A JSON object of random members (flags-like objects often), serialised by json.dumps a random way."""
    members = draw(st.dictionaries(KEYS, VALUES | st.dictionaries(KEYS, VALUES, max_size=5), max_size=6))
    indent = draw(st.sampled_from([None, None, 0, 2, "\t", " \r\n"]))
    separators = draw(st.none() | st.tuples(WS.map(lambda w: w + ","), st.tuples(WS, WS).map(lambda w: w[0] + ":" + w[1])))
    text = json.dumps(members, indent=indent, separators=separators, ensure_ascii=draw(st.booleans()))
    return text, draw(st.sampled_from([NAME, "", "é", "😀", "\ud800", "key"]))


@settings(max_examples=400, **SETTINGS)
@given(documents())
def test_random_documents_match_json(impl, doc):
    text, name = doc
    items, end = check_against_json(load(impl), text, name=name)
    assert end == len(text)
    assert [k for k, _, _, _ in items] == list(json.loads(text))


CHARS = st.sampled_from(list('{}[],:"\\ 0123456789-+eE.tnfaNIulrsxuUb/\'\t\n\r\x00\x1f\x7fé漢😀\ud800')
                        + ["\\u", "\\x", "\\u00", "\\ud800", ",}", ",]", "1e", "00", "-0", ".5", "\u00a0"])
SIGNIFICANT = frozenset('{}[],:"\\.eE-+0123456789tfnNI')


@st.composite
def mutated(draw):
    """A document with 1 to 3 chars deleted, inserted, replaced or escaped, often next to a significant char."""
    text, name = draw(documents())
    for _ in range(draw(st.integers(1, 3))):
        marks = [j for j, ch in enumerate(text) if ch in SIGNIFICANT and j > 0]
        if marks and draw(st.booleans()):
            i = draw(st.sampled_from(marks)) + draw(st.integers(0, 1))
        else:  # not 0 mostly: test_not_at_an_object has those
            i = draw(st.integers(1, max(1, len(text))))
        how = draw(st.sampled_from(["delete", "insert", "replace", "escape"]))
        char = draw(CHARS | st.characters())
        if how == "delete":
            text = text[:i] + text[i + 1:]
        elif how == "escape":  # a backslash and any char, in a string when i is just past a quote
            text = text[:i] + "\\" + char + text[i:]
        elif how == "insert":
            text = text[:i] + char + text[i:]
        else:
            text = text[:i] + char + text[i + 1:]
    return text, name


@settings(max_examples=1500, **SETTINGS)
@given(mutated())
def test_mutated_documents_accepted_exactly_as_json_does(impl, doc):
    check_acceptance(load(impl), *doc)


@pytest.mark.c_extension
@settings(max_examples=800, **SETTINGS)
@given(st.one_of(mutated(), documents()))
def test_twins_agree(doc):
    text, name = doc
    assert repr(outcome(load("c"), text, name)) == repr(outcome(load("py"), text, name))  # repr: NaN == NaN


def test_dispatcher_picks_the_twin_in_use():
    import ldfast._ext as ext
    from ldfast._ext import jsonscan

    expected = "ldfast._ext.jsonscan_c" if ext.USE_EXTENSIONS else "ldfast._ext.jsonscan_py"
    assert jsonscan.implementation.__name__ == expected
    assert jsonscan.ObjectScanner is jsonscan.implementation.ObjectScanner
