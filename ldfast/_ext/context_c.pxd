# Types for compiling context_py.py as context_c (context_c.py links to context_py.py).
cimport cython

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

cdef class DictContexts:
    cdef tuple _last
    @cython.locals(last=tuple)
    cpdef Context convert(self, object value)

@cython.locals(i=Py_ssize_t)
cdef bint _unchanged(dict value, tuple keys, tuple values)

cdef class ContextMultiBuilder:
    cdef public list _contexts
    cdef public bint _cow


@cython.locals(code=Py_ssize_t, names=dict, attributes=dict, private=list)
cpdef Context _single_from_dict(object props, object kind)

@cython.locals(code=Py_ssize_t, ccode=Py_ssize_t, names=dict, attributes=dict, private=list, has_key=bint,
               anonymous=object)
cpdef Context _from_old_user(object user)

@cython.locals(c=Context)
cpdef Context _new_single(str kind, object key, object name, object anonymous, dict attributes, list private,
                          bint allow_empty_key)

cpdef Context _from_dict(object props)

cdef dict _put(dict attributes, object name, object value)
