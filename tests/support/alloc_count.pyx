# cython: language_level=3
"""Test helper: counts the object allocator's allocations (PYMEM_DOMAIN_OBJ) between start/stop."""
cdef extern from "Python.h":
    ctypedef struct PyMemAllocatorEx:
        void* ctx
        void* (*malloc)(void* ctx, size_t size) noexcept nogil
        void* (*calloc)(void* ctx, size_t nelem, size_t elsize) noexcept nogil
        void* (*realloc)(void* ctx, void* ptr, size_t new_size) noexcept nogil
        void (*free)(void* ctx, void* ptr) noexcept nogil
    ctypedef enum PyMemAllocatorDomain:
        PYMEM_DOMAIN_OBJ
    void PyMem_GetAllocator(PyMemAllocatorDomain domain, PyMemAllocatorEx* allocator)
    void PyMem_SetAllocator(PyMemAllocatorDomain domain, PyMemAllocatorEx* allocator)

cdef PyMemAllocatorEx _orig
cdef PyMemAllocatorEx _counting
cdef size_t _count = 0
cdef bint _active = False


cdef void* _malloc(void* ctx, size_t size) noexcept nogil:
    global _count
    _count += 1
    return _orig.malloc(_orig.ctx, size)


cdef void* _calloc(void* ctx, size_t nelem, size_t elsize) noexcept nogil:
    global _count
    _count += 1
    return _orig.calloc(_orig.ctx, nelem, elsize)


cdef void* _realloc(void* ctx, void* ptr, size_t new_size) noexcept nogil:
    global _count
    if ptr == NULL:
        _count += 1
    return _orig.realloc(_orig.ctx, ptr, new_size)


cdef void _free(void* ctx, void* ptr) noexcept nogil:
    _orig.free(_orig.ctx, ptr)


def start():
    global _count, _active
    if _active:
        raise RuntimeError("already counting")
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &_orig)
    _counting.ctx = NULL
    _counting.malloc = _malloc
    _counting.calloc = _calloc
    _counting.realloc = _realloc
    _counting.free = _free
    _count = 0
    _active = True
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &_counting)


def stop():
    """Restore the allocator; the number of allocations made since start()."""
    global _active
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &_orig)
    _active = False
    return _count
