# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The text of one long SSE line, decoded as its fragments arrive; compiled twin.

Same answers as linetext_py.py (``bytes.decode("utf-8", "replace")`` of the whole line). While
every byte so far is ASCII, the fragments are copied straight into the final str, a compact ASCII
str this object alone holds, grown geometrically with ``PyUnicode_Resize`` (a realloc: for large
sizes the pages already written are remapped, not copied) and cut to its length at the end: the
new memory is touched a fragment at a time, as the data arrives, and the end costs no join of
megabytes. At the first non-ASCII byte the text so far becomes the first part and the rest goes
through an incremental UTF-8 decoder, as the pure twin does (the ASCII prefix ends on a character
boundary, so the decoder starting there decodes as one run over the whole would).
"""
from cpython.object cimport PyObject
from cpython.ref cimport Py_XDECREF
from libc.string cimport memcpy

from ldfast._ext.linetext_py import _utf8_decoder

cdef extern from "Python.h":
    PyObject* PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar) except NULL
    int PyUnicode_Resize(PyObject** unicode, Py_ssize_t length) except -1
    void* PyUnicode_DATA(PyObject* o)

cdef Py_ssize_t _FIRST = 1 << 16


cdef class LineText:
    cdef PyObject* _text  # the ASCII str being written (only this object refers to it), or NULL
    cdef Py_ssize_t _len  # chars written
    cdef Py_ssize_t _cap  # the str's length: its room
    cdef object _decoder  # once a non-ASCII byte was seen
    cdef list _parts

    def __cinit__(self):
        self._text = NULL
        self._len = 0
        self._cap = 0
        self._parts = None

    def __dealloc__(self):
        Py_XDECREF(self._text)
        self._text = NULL

    cpdef add(self, fragment, bint final=False):
        """The next fragment of raw bytes (bytes or a bytes-like object); ``final`` flushes the decoder."""
        cdef const unsigned char[::1] data
        cdef Py_ssize_t n, i, need, cap
        cdef unsigned char seen = 0
        if self._parts is not None:
            self._parts.append(self._decoder.decode(fragment, final))
            return
        data = fragment
        n = data.shape[0]
        if n == 0:
            return
        for i in range(n):  # (an OR over the bytes: a loop the C compiler vectorizes)
            seen |= data[i]
        if seen >= 0x80:
            self._to_parts()
            self._parts.append(self._decoder.decode(fragment, final))
            return
        need = self._len + n
        if self._text == NULL:
            cap = need if need > _FIRST else _FIRST
            self._text = PyUnicode_New(cap, 127)
            self._cap = cap
        elif need > self._cap:
            cap = self._cap * 2
            if cap < need:
                cap = need
            PyUnicode_Resize(&self._text, cap)  # (on failure it is left as it was, still ours)
            self._cap = cap
        memcpy(<char*>PyUnicode_DATA(self._text) + self._len, &data[0], n)
        self._len = need

    cdef _to_parts(self):
        """Leave the ASCII path: the text so far becomes the first part."""
        self._decoder = _utf8_decoder("replace")
        self._parts = []
        if self._text != NULL:
            self._parts.append(self._take())

    cdef str _take(self):
        """The ASCII text written so far, cut to its length, handed over (this object lets go of it)."""
        cdef str text
        PyUnicode_Resize(&self._text, self._len)
        text = <str>self._text  # (a new reference)
        Py_XDECREF(self._text)
        self._text = NULL
        self._len = self._cap = 0
        return text

    cpdef str finish(self, last):
        """The value, once ``last`` (the final fragment, possibly empty) is added. Call once."""
        cdef list parts
        self.add(last, True)
        if self._parts is None:
            if self._text == NULL:
                return ""
            return self._take()
        parts, self._parts = self._parts, []
        return "".join(parts)
