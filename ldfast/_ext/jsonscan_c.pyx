# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""JSON object splitter, compiled twin: validates and splits in C loops over the str's own buffer.

Same answers as jsonscan_py.py: the members of the JSON object at ``text[pos]`` as
``(key, value_start, value_end, named)``, accepting exactly what ``json.loads`` accepts. The scan
is one C function per str kind (1, 2 and 4 bytes per char, a fused type), iterative with an
explicit stack of at most 1000 levels, the outer object included. Values are never decoded here,
except ``named`` (with the stdlib, from the span the scan recorded) and keys with a backslash (the
stdlib's scanstring). On invalid JSON the error message comes from the stdlib run over the member
that failed (so it is json's message, same as the pure twin's); only where the stdlib accepts what
this scan rejects (nesting past 1000 levels) is it this module's own.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport strlen
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND

from ldfast._ext.jsonscan_py import check_start, decode_key, decode_value, error_message

cdef extern from *:
    """
    static int ldfast_jsonscan_ready(PyObject *o) {
    #if PY_VERSION_HEX < 0x030C0000
        return PyUnicode_READY(o);
    #else
        (void)o;
        return 0;
    #endif
    }
    """
    int ldfast_jsonscan_ready(object o) except -1

cdef extern from "Python.h":
    object PyUnicode_Substring(object text, Py_ssize_t start, Py_ssize_t end)
    uint32_t PyUnicode_READ(int kind, const void* data, Py_ssize_t index) nogil

ctypedef fused cp_t:  # one char of a str of kind 1, 2 or 4
    uint8_t
    uint16_t
    uint32_t

cdef enum:
    MAX_LEVELS = 1000          # nesting levels, the outer object being level 1
    BIGINT_DIGITS = 640        # int() checks sys.get_int_max_str_digits() only past this many digits
    # error codes
    E_VALUE = 1
    E_DELIM = 2
    E_PROPERTY = 3
    E_COLON = 4
    E_UNTERMINATED = 5
    E_CONTROL = 6
    E_ESCAPE = 7
    E_UESCAPE = 8
    E_DEPTH = 9
    # states
    S_READY = 0
    S_MORE = 1
    S_DONE = 2
    S_FAILED = 3

_MESSAGES = {
    E_VALUE: "Expecting value",
    E_DELIM: "Expecting ',' delimiter",
    E_PROPERTY: "Expecting property name enclosed in double quotes",
    E_COLON: "Expecting ':' delimiter",
    E_UNTERMINATED: "Unterminated string starting at",
    E_CONTROL: "Invalid control character at",
    E_ESCAPE: "Invalid \\escape",
    E_UESCAPE: "Invalid \\uXXXX escape",
    E_DEPTH: "Nesting deeper than %d levels at" % MAX_LEVELS,
}

ctypedef struct Scan:
    int err                    # an E_* code once the scan failed
    Py_ssize_t err_pos
    bint escaped               # the last string scanned had a backslash
    int name_kind              # the name that ``named`` looks for
    const void* name_data
    Py_ssize_t name_len
    Py_ssize_t named_start     # span of the last value of a member called name (-1: none)
    Py_ssize_t named_end

# 1 for what ends a string's plain run: '"', '\\' and the control characters U+0000..U+001F.
cdef unsigned char STOP[256]
# the value of a hex digit, or 255
cdef unsigned char HEX[256]
# what the escape \x stands for, or 0 for an invalid escape (\u handled apart)
cdef uint32_t ESCAPED[256]


cdef void _init_tables() noexcept:
    cdef int c
    for c in range(256):
        STOP[c] = c < 0x20 or c == 34 or c == 92
        HEX[c] = 255
        ESCAPED[c] = 0
    for c in range(10):
        HEX[48 + c] = c
    for c in range(6):
        HEX[65 + c] = HEX[97 + c] = 10 + c
    ESCAPED[34] = 34
    ESCAPED[92] = 92
    ESCAPED[47] = 47
    ESCAPED[98] = 8
    ESCAPED[102] = 12
    ESCAPED[110] = 10
    ESCAPED[114] = 13
    ESCAPED[116] = 9


_init_tables()


cdef inline Py_ssize_t _fail(Scan* st, int err, Py_ssize_t pos) noexcept nogil:
    st.err = err
    st.err_pos = pos
    return -1


cdef inline bint _is_digit(uint32_t c) noexcept nogil:
    return c - 48 < 10


cdef inline Py_ssize_t _skip_ws(const cp_t* s, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    cdef uint32_t c
    while i < n:
        c = s[i]
        if c > 32 or (c != 32 and c != 10 and c != 13 and c != 9):
            break
        i += 1
    return i


cdef inline int _hex4(const cp_t* s, Py_ssize_t i) noexcept nogil:
    """The value of the 4 hex digits at s[i:i+4], or -1."""
    cdef int v = 0, j
    cdef uint32_t c
    for j in range(4):
        c = s[i + j]
        if c > 255 or HEX[c] == 255:
            return -1
        v = (v << 4) | HEX[c]
    return v


cdef Py_ssize_t _scan_string(const cp_t* s, Py_ssize_t n, Py_ssize_t i, Scan* st) noexcept nogil:
    """The index past the closing quote of the string whose content starts at s[i], or -1."""
    cdef Py_ssize_t quote = i - 1
    cdef uint32_t c
    st.escaped = False
    while True:
        if cp_t is uint8_t:
            while i + 4 <= n and not (STOP[s[i]] | STOP[s[i + 1]] | STOP[s[i + 2]] | STOP[s[i + 3]]):
                i += 4
            while i < n and not STOP[s[i]]:
                i += 1
        else:
            while i < n:
                c = s[i]
                if c < 256 and STOP[c]:
                    break
                i += 1
        if i >= n:
            return _fail(st, E_UNTERMINATED, quote)
        c = s[i]
        if c == 34:
            return i + 1
        if c != 92:
            return _fail(st, E_CONTROL, i)
        st.escaped = True
        if i + 1 >= n:
            return _fail(st, E_UNTERMINATED, quote)
        c = s[i + 1]
        if c == 117:  # \uXXXX: json wants a char after the 4 digits
            if i + 6 >= n or _hex4(s, i + 2) < 0:
                return _fail(st, E_UESCAPE, i + 1)
            i += 6
        elif c < 256 and ESCAPED[c]:
            i += 2
        else:
            return _fail(st, E_ESCAPE, i)


cdef bint _key_is_name(const cp_t* s, Py_ssize_t a, Py_ssize_t b, bint escaped, Scan* st) noexcept nogil:
    """Whether the (valid) string content s[a:b] decodes to the name, escapes decoded as json does."""
    cdef Py_ssize_t j = 0, m = st.name_len
    cdef uint32_t c
    cdef int lo
    if not escaped:
        if b - a != m:
            return False
        while j < m:
            if s[a + j] != PyUnicode_READ(st.name_kind, st.name_data, j):
                return False
            j += 1
        return True
    while a < b:
        c = s[a]
        if c == 92:
            c = s[a + 1]
            if c == 117:
                c = _hex4(s, a + 2)
                a += 6
                # json joins a \u high surrogate and a following \u low surrogate, nothing else
                if 0xD800 <= c <= 0xDBFF and a + 1 < b and s[a] == 92 and s[a + 1] == 117:
                    lo = _hex4(s, a + 2)
                    if 0xDC00 <= lo <= 0xDFFF:
                        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00)
                        a += 6
            else:
                c = ESCAPED[c]
                a += 2
        else:
            a += 1
        if j >= m or c != PyUnicode_READ(st.name_kind, st.name_data, j):
            return False
        j += 1
    return j == m


cdef bint _int_fits(object text, Py_ssize_t start, Py_ssize_t end) except -1:
    """Whether int() takes the literal (it refuses more digits than sys.get_int_max_str_digits())."""
    try:
        int(PyUnicode_Substring(text, start, end))
    except ValueError:
        return False
    return True


cdef Py_ssize_t _scan_number(const cp_t* s, Py_ssize_t n, Py_ssize_t i, Scan* st, object text) except -2:
    """The end of the number at s[i] (json's longest match), or -1 when there is none."""
    cdef Py_ssize_t start = i, digits, j
    cdef bint is_float = False
    if s[i] == 45:  # '-'
        i += 1
        if i >= n:
            return _fail(st, E_VALUE, start)
    digits = i
    if 49 <= s[i] <= 57:
        i += 1
        while i < n and _is_digit(s[i]):
            i += 1
    elif s[i] == 48:
        i += 1
    else:
        return _fail(st, E_VALUE, start)
    digits = i - digits
    if i + 1 < n and s[i] == 46 and _is_digit(s[i + 1]):  # '.' and a digit
        is_float = True
        i += 2
        while i < n and _is_digit(s[i]):
            i += 1
    if i + 1 < n and (s[i] == 101 or s[i] == 69):  # 'e' 'E'; without digits after, not part of it
        j = i + 1
        if s[j] == 43 or s[j] == 45:
            j += 1
        if j < n and _is_digit(s[j]):
            is_float = True
            i = j + 1
            while i < n and _is_digit(s[i]):
                i += 1
    if not is_float and digits > BIGINT_DIGITS and not _int_fits(text, start, i):
        return _fail(st, E_VALUE, start)
    return i


cdef inline bint _word(const cp_t* s, Py_ssize_t n, Py_ssize_t i, const char* word, Py_ssize_t k) noexcept nogil:
    """Whether s[i:i+k] is the ASCII ``word`` (of length k)."""
    cdef Py_ssize_t j
    if i + k > n:
        return False
    for j in range(k):
        if s[i + j] != <unsigned char>word[j]:
            return False
    return True


cdef inline Py_ssize_t _literal(const cp_t* s, Py_ssize_t n, Py_ssize_t i, uint32_t c) noexcept nogil:
    """The end of the literal (null, true, false, NaN, Infinity) that char c starts at s[i], or -1."""
    cdef const char* word
    cdef Py_ssize_t k
    if c == 110:
        word = b"null"
    elif c == 116:
        word = b"true"
    elif c == 102:
        word = b"false"
    elif c == 78:
        word = b"NaN"
    else:
        word = b"Infinity"
    k = strlen(word)
    return i + k if _word(s, n, i, word, k) else -1


cdef Py_ssize_t _scan_key(const cp_t* s, Py_ssize_t n, Py_ssize_t i, Scan* st, bint* is_name) noexcept nogil:
    """A member's key at s[i], then its ':': the index of the value (whitespace skipped), or -1.

    ``is_name`` (when not NULL) is set to whether the key is the name.
    """
    cdef Py_ssize_t end
    if i >= n or s[i] != 34:
        return _fail(st, E_PROPERTY, i)
    end = _scan_string(s, n, i + 1, st)
    if end < 0:
        return -1
    if is_name != NULL:
        is_name[0] = _key_is_name(s, i + 1, end - 1, st.escaped, st)
    i = _skip_ws(s, n, end)
    if i >= n or s[i] != 58:  # ':'
        return _fail(st, E_COLON, i)
    return _skip_ws(s, n, i + 1)


cdef inline Py_ssize_t _member(const cp_t* s, Py_ssize_t n, Py_ssize_t i, Scan* st, bint top,
                               bint* pending) noexcept nogil:
    """A member's key and ':' at s[i]: the index of its value, or -1. ``top``: the member is in the
    value's own object (level 2), where a key equal to the name starts the ``named`` span."""
    cdef bint is_name = False
    i = _scan_key(s, n, i, st, &is_name if top else NULL)
    if i >= 0 and top and is_name:
        st.named_start = i
        pending[0] = True
    return i


cdef Py_ssize_t _scan_value(const cp_t* s, Py_ssize_t n, Py_ssize_t i, Scan* st, object text) except -2:
    """The end of the JSON value at s[i] (a member's value, level 2), or -1 with st.err set.

    Records in st.named_start/named_end the span of the last value of the name's member when the
    value is an object.
    """
    cdef unsigned char is_object[MAX_LEVELS]
    cdef int depth = 0             # levels open inside the value
    cdef bint pending = False      # the name's member's value at depth 1 is being scanned
    cdef uint32_t c
    cdef Py_ssize_t j
    st.named_start = st.named_end = -1
    while True:
        # a value starts at s[i]
        if i >= n:
            return _fail(st, E_VALUE, i)
        c = s[i]
        if c == 34:
            i = _scan_string(s, n, i + 1, st)
            if i < 0:
                return -1
        elif c == 123 or c == 91:  # '{' '['
            if depth + 2 > MAX_LEVELS:
                return _fail(st, E_DEPTH, i)
            depth += 1
            is_object[depth] = c == 123
            i = _skip_ws(s, n, i + 1)
            if c == 123:
                if i < n and s[i] == 125:
                    i += 1
                    depth -= 1
                else:
                    i = _member(s, n, i, st, depth == 1, &pending)
                    if i < 0:
                        return -1
                    continue
            elif i < n and s[i] == 93:
                i += 1
                depth -= 1
            else:
                continue
        elif c == 110 or c == 116 or c == 102 or c == 78 or c == 73:  # n t f N I
            j = _literal(s, n, i, c)
            if j < 0:
                return _fail(st, E_VALUE, i)
            i = j
        elif c == 45 and _word(s, n, i, b"-Infinity", 9):
            i += 9
        else:
            i = _scan_number(s, n, i, st, text)
            if i < 0:
                return -1
        # a value ended at s[i]: close what it closes, up to the next value
        while True:
            if depth == 0:
                return i
            if pending and depth == 1:
                st.named_end = i
                pending = False
            i = _skip_ws(s, n, i)
            if i >= n:
                return _fail(st, E_DELIM, i)
            c = s[i]
            if c == 44:  # ','
                i = _skip_ws(s, n, i + 1)
                if is_object[depth]:
                    i = _member(s, n, i, st, depth == 1, &pending)
                    if i < 0:
                        return -1
                break
            if c == (125 if is_object[depth] else 93):
                i += 1
                depth -= 1
            else:
                return _fail(st, E_DELIM, i)


cdef class ObjectScanner:
    """Walks the members of the JSON object that starts at ``text[pos]`` (no leading whitespace skipped)."""

    cdef object _text
    cdef object _name
    cdef Py_ssize_t _idx
    cdef Py_ssize_t _end
    cdef int _state
    cdef object _error

    def __init__(self, text, pos, name):
        self._idx = <Py_ssize_t>check_start(text, pos, name) + 1
        ldfast_jsonscan_ready(text)
        ldfast_jsonscan_ready(name)
        self._text = text
        self._name = name
        self._state = S_READY
        self._end = -1
        self._error = ""

    @property
    def end(self):
        """Index just past the object's closing '}'; -1 until the closing '}' has been reached."""
        return self._end

    def next_items(self, limit):
        """Up to ``limit`` further members as ``(key, value_start, value_end, named)``; [] once finished.

        ``text[value_start:value_end]`` is the value's text; ``named`` is the decoded value of the
        value's own top-level member called ``name`` (the last one, as json) when the value is an
        object that has one, else None. Raises ValueError on invalid JSON, and again on every later
        call once it has.
        """
        cdef Py_ssize_t n = limit
        cdef int kind
        cdef void* data
        if n < 1:
            raise ValueError("limit must be at least 1, not %d" % n)
        if self._state == S_FAILED:
            raise ValueError(self._error)
        if self._state == S_DONE:
            return []
        kind = PyUnicode_KIND(self._text)
        data = PyUnicode_DATA(self._text)
        try:
            if kind == 1:
                return _walk(self, <const uint8_t*>data, n)
            elif kind == 2:
                return _walk(self, <const uint16_t*>data, n)
            return _walk(self, <const uint32_t*>data, n)
        except ValueError as exc:
            self._state = S_FAILED
            self._error = str(exc)
            raise


cdef _raise(ObjectScanner self, Scan* st):
    raise ValueError(error_message(_MESSAGES[st.err], self._text, st.err_pos))


cdef list _walk(ObjectScanner self, const cp_t* s, Py_ssize_t limit):
    cdef object text = self._text
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef Py_ssize_t i, start, end
    cdef Scan st
    cdef list items = []
    st.err = 0
    st.name_kind = PyUnicode_KIND(self._name)
    st.name_data = PyUnicode_DATA(self._name)
    st.name_len = PyUnicode_GET_LENGTH(self._name)
    i = _skip_ws(s, n, self._idx)
    if self._state == S_READY:
        if i < n and s[i] == 125:
            return _finish(self, i, items)
        self._state = S_MORE
    while True:
        if i >= n or s[i] != 34:
            _fail(&st, E_PROPERTY, i)
            _raise(self, &st)
        end = _scan_string(s, n, i + 1, &st)
        if end < 0:
            decode_key(text, i)  # raises json's message
            _raise(self, &st)
        if st.escaped:
            key = decode_key(text, i)[0]
        else:
            key = PyUnicode_Substring(text, i + 1, end - 1)
        i = _skip_ws(s, n, end)
        if i >= n or s[i] != 58:
            _fail(&st, E_COLON, i)
            _raise(self, &st)
        start = _skip_ws(s, n, i + 1)
        end = _scan_value(s, n, start, &st, text)
        if end < 0:
            decode_value(text, start)  # raises json's message, unless json takes deeper nesting
            _raise(self, &st)
        items.append((key, start, end, decode_value(text, st.named_start)[0] if st.named_start >= 0 else None))
        i = _skip_ws(s, n, end)
        if i < n and s[i] == 125:
            return _finish(self, i, items)
        if i >= n or s[i] != 44:
            _fail(&st, E_DELIM, i)
            _raise(self, &st)
        i = _skip_ws(s, n, i + 1)
        if len(items) >= limit:
            self._idx = i
            return items


cdef list _finish(ObjectScanner self, Py_ssize_t brace, list items):
    self._state = S_DONE
    self._idx = self._end = brace + 1
    return items
