# cython: language_level=3, boundscheck=False, wraparound=False
"""Bucketing, compiled twin: LaunchDarkly's SHA-1 bucket, with SHA-1 computed here in C.

Same answers as bucketing_py.py: the hash covers ``prefix`` then the value's UTF-8 bytes, streamed
without building the concatenation; the bucket is the first 15 hex digits over 2**60 - 1.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy
from cpython.unicode cimport PyUnicode_Check
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL

cdef extern from "_sha1_shani.h":
    int ldfast_sha1_shani_available() nogil
    void ldfast_sha1_block_shani(uint32_t* state, const uint8_t* data) nogil

cdef double _SCALE = <double>0xFFFFFFFFFFFFFFF
cdef bint _SHANI = ldfast_sha1_shani_available()

ctypedef struct sha1_ctx:
    uint32_t h[5]
    uint8_t buf[64]
    Py_ssize_t buflen
    uint64_t total


cdef inline uint32_t _rol(uint32_t x, int n) noexcept nogil:
    return (x << n) | (x >> (32 - n))


cdef void _block(sha1_ctx* c, const uint8_t* p) noexcept nogil:
    if _SHANI:
        ldfast_sha1_block_shani(c.h, p)
        return
    _block_portable(c, p)


cdef void _block_portable(sha1_ctx* c, const uint8_t* p) noexcept nogil:
    cdef uint32_t w[80]
    cdef uint32_t a, b, cc, d, e, t
    cdef uint32_t k0 = 0x5A827999, k1 = 0x6ED9EBA1, k2 = 0x8F1BBCDC, k3 = 0xCA62C1D6
    cdef int i
    for i in range(16):
        w[i] = (<uint32_t>p[4 * i] << 24) | (<uint32_t>p[4 * i + 1] << 16) | (<uint32_t>p[4 * i + 2] << 8) | <uint32_t>p[4 * i + 3]
    for i in range(16, 80):
        w[i] = _rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1)
    a = c.h[0]
    b = c.h[1]
    cc = c.h[2]
    d = c.h[3]
    e = c.h[4]
    for i in range(0, 20):
        t = _rol(a, 5) + ((b & cc) | ((~b) & d)) + e + k0 + w[i]
        e = d
        d = cc
        cc = _rol(b, 30)
        b = a
        a = t
    for i in range(20, 40):
        t = _rol(a, 5) + (b ^ cc ^ d) + e + k1 + w[i]
        e = d
        d = cc
        cc = _rol(b, 30)
        b = a
        a = t
    for i in range(40, 60):
        t = _rol(a, 5) + ((b & cc) | (b & d) | (cc & d)) + e + k2 + w[i]
        e = d
        d = cc
        cc = _rol(b, 30)
        b = a
        a = t
    for i in range(60, 80):
        t = _rol(a, 5) + (b ^ cc ^ d) + e + k3 + w[i]
        e = d
        d = cc
        cc = _rol(b, 30)
        b = a
        a = t
    c.h[0] += a
    c.h[1] += b
    c.h[2] += cc
    c.h[3] += d
    c.h[4] += e


cdef void _init(sha1_ctx* c) noexcept nogil:
    c.h[0] = 0x67452301
    c.h[1] = 0xEFCDAB89
    c.h[2] = 0x98BADCFE
    c.h[3] = 0x10325476
    c.h[4] = 0xC3D2E1F0
    c.buflen = 0
    c.total = 0


cdef void _update(sha1_ctx* c, const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t take
    c.total += n
    if c.buflen:
        take = 64 - c.buflen
        if take > n:
            take = n
        memcpy(c.buf + c.buflen, p, take)
        c.buflen += take
        p += take
        n -= take
        if c.buflen == 64:
            _block(c, c.buf)
            c.buflen = 0
    while n >= 64:
        _block(c, p)
        p += 64
        n -= 64
    if n:
        memcpy(c.buf, p, n)
        c.buflen = n


cdef uint64_t _final64(sha1_ctx* c) noexcept nogil:
    """Finish the hash; the first 8 bytes of the digest, big-endian."""
    cdef uint64_t bits = c.total * 8
    cdef uint8_t pad[72]
    cdef Py_ssize_t padlen = 56 - c.buflen if c.buflen < 56 else 120 - c.buflen
    cdef int i
    pad[0] = 0x80
    for i in range(1, padlen):
        pad[i] = 0
    for i in range(8):
        pad[padlen + i] = <uint8_t>(bits >> (56 - 8 * i))
    _update(c, pad, padlen + 8)
    return (<uint64_t>c.h[0] << 32) | c.h[1]


def sha1_uses_cpu_extensions() -> bool:
    """Whether SHA-1 runs on the CPU's SHA instructions (else portable C)."""
    return bool(_SHANI)


def _sha1_prefix64(bytes data, bint portable=False):
    """The first 8 digest bytes of SHA-1(data) as an int (for tests of both block functions)."""
    global _SHANI
    cdef bint saved = _SHANI
    cdef sha1_ctx ctx
    if portable:
        _SHANI = False
    try:
        _init(&ctx)
        _update(&ctx, <const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        return _final64(&ctx)
    finally:
        _SHANI = saved


cpdef bytes bucket_prefix(object key, object salt, object seed):
    """The hash prefix, encoded once per rollout: ``"{seed}."`` or ``"{key}.{salt}."``."""
    if seed is not None:
        return ("%s." % (seed,)).encode("utf-8")
    return ("%s.%s." % (key, salt)).encode("utf-8")


cpdef double bucket_value(bytes prefix, object value) except? -1.0:
    """The bucket in [0, 1) of an attribute value; 0.0 for values that cannot be bucketed."""
    cdef object text
    cdef const char* data
    cdef Py_ssize_t size
    cdef sha1_ctx ctx
    t = type(value)
    if t is str:
        text = value
    elif t is int:
        text = str(value)
    elif isinstance(value, str) and t is not bool:
        text = str(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        text = "%s" % value
    else:
        return 0.0
    data = PyUnicode_AsUTF8AndSize(text, &size)
    _init(&ctx)
    _update(&ctx, <const uint8_t*>PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix))
    _update(&ctx, <const uint8_t*>data, size)
    return <double>(_final64(&ctx) >> 4) / _SCALE
