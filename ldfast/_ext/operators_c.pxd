# Types for compiling operators_py.py as operators_c (operators_c.py links to operators_py.py).
cimport cython

# The operator codes are C constants in the compiled twin (OP_CODES maps names to them).
cdef int OP_UNKNOWN, OP_IN, OP_STARTS_WITH, OP_ENDS_WITH, OP_CONTAINS, OP_MATCHES, OP_LT, OP_LTE, OP_GT, OP_GTE
cdef int OP_BEFORE, OP_AFTER, OP_SEMVER_EQ, OP_SEMVER_LT, OP_SEMVER_GT, OP_SEGMENT_MATCH


cdef class InValues:
    cdef public frozenset hashed
    cdef public frozenset bools
    cdef public tuple all_values


cdef class RegexValues:
    cdef public tuple patterns
    cdef public dict cache
    cpdef bint search(self, object value) except -1


cdef class NumBounds:
    cdef public double lo
    cdef public double hi
    cdef public bint has_values
    cdef public bint overflow


@cython.locals(t=object)
cpdef bint is_number(object value) except -1

@cython.locals(t=object, result=object)
cpdef object parse_time(object value)

@cython.locals(result=object)
cpdef object parse_semver(object value)

@cython.locals(t=object, x=double, cache=dict, inv=InValues, rv=RegexValues, nb=NumBounds, hit=object, text=str,
               strings=tuple)
cpdef bint match_value(int op, object pre, object value) except -1
