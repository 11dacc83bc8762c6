# Types for compiling eventfmt_py.py as eventfmt_c (eventfmt_c.py links to eventfmt_py.py).
cimport cython

from ldfast._ext.context_c cimport Context
from ldfast._ext.recorder_c cimport (DebugEvent, EventInputCustom, EventInputEvaluation, EventInputIdentify,
                                     IndexEvent)
from ldfast._ext.recorder_c cimport make_summary_event as _make_summary_event


cdef class ContextFormatter:
    cdef bint _all_private
    cdef tuple _config_paths
    cdef tuple _refs
    cdef dict _merged
    @cython.locals(multi=list, out=dict, c=Context)
    cpdef dict format(self, Context context, bint redact_anonymous)
    @cython.locals(key=tuple, refs=tuple)
    cdef tuple _refs_for(self, list own)
    @cython.locals(out=dict, name=object, attributes=dict, redacted=list, own=list, refs=tuple, top=frozenset,
                   nested=dict, prefixes=frozenset, attr=object, value=object, path=tuple)
    cdef dict _single(self, Context context, bint include_kind, bint redact_anonymous)

@cython.locals(out=dict, sub=tuple, written=object)
cdef dict _redact_nested(tuple path, dict value, dict nested, frozenset prefixes, list redacted)

cdef class EventOutputFormatter:
    cdef ContextFormatter _contexts
    @cython.locals(out=list, redacted=dict, plain=dict)
    cpdef list make_output_events(self, object events, object summary)
    @cython.locals(fragments=bint, redacted=dict, plain=dict, out=list, parts=list, dropped=Py_ssize_t,
                   n=Py_ssize_t, i=Py_ssize_t)
    cpdef bytes serialize(self, list events, object summary, list contexts=*)
    @cython.locals(formatted=object)
    cdef object _context(self, Context context, bint redact_anonymous, dict cache, bint fragment)
    @cython.locals(out=dict, ev=EventInputEvaluation, original=EventInputEvaluation)
    cdef dict _output_event(self, object e, dict redacted, dict plain, bint fragment)

@cython.locals(out=dict)
cdef dict _eval_props(EventInputEvaluation e, str kind)
