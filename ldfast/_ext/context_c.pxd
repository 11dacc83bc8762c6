# Types for compiling context_py.py as context_c (context_c.py links to context_py.py).
cdef class Context:
    cdef public str _kind
    cdef public object _key
    cdef public object _name
    cdef public object _anonymous
    cdef public dict _attributes
    cdef public list _private
    cdef public list _multi
    cdef public dict _by_kind
    cdef public object _full_key
    cdef public object _error

cdef class ContextBuilder:
    cdef public object _key
    cdef public object _kind
    cdef public object _name
    cdef public object _anonymous
    cdef public dict _attributes
    cdef public list _private
    cdef public bint _cow_attrs
    cdef public bint _cow_private
    cdef public bint _allow_empty

cdef class ContextMultiBuilder:
    cdef public list _contexts
    cdef public bint _cow
