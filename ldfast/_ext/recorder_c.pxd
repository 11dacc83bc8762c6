# Types for compiling recorder_py.py as recorder_c (recorder_c.py links to recorder_py.py).
cimport cython

from ldfast._ext.context_c cimport Context
from ldfast._ext.model_c cimport EvaluationDetail, Flag


@cython.no_gc  # links to contexts, flags and JSON values only: never part of a cycle
cdef class EventInputEvaluation:
    cdef public object timestamp
    cdef public object context
    cdef public object key
    cdef public object flag
    cdef public object version
    cdef public object variation
    cdef public object value
    cdef public object reason
    cdef public object default_value
    cdef public object prereq_of
    cdef public object track_events
    cdef public object exclude_from_summaries
    cdef public object sampling_ratio
    cdef public object debug_until

@cython.no_gc  # links to contexts, flags and JSON values only: never part of a cycle
cdef class EventInputIdentify:
    cdef public object timestamp
    cdef public object context
    cdef public object sampling_ratio

@cython.no_gc  # links to contexts, flags and JSON values only: never part of a cycle
cdef class EventInputCustom:
    cdef public object timestamp
    cdef public object context
    cdef public object key
    cdef public object data
    cdef public object metric_value
    cdef public object sampling_ratio

@cython.no_gc  # links to contexts, flags and JSON values only: never part of a cycle
cdef class IndexEvent:
    cdef public object timestamp
    cdef public object context

@cython.no_gc  # links to contexts, flags and JSON values only: never part of a cycle
cdef class DebugEvent:
    cdef public EventInputEvaluation original_input


@cython.locals(rules=tuple)
cpdef bint is_experiment(Flag flag, dict reason) except -1


@cython.final
@cython.no_gc  # links only to older counters and JSON values: never part of a cycle
cdef class SummaryCounter:
    cdef public long long count
    cdef public object value
    cdef public object variation
    cdef public object version
    cdef public SummaryCounter older

@cython.final
@cython.no_gc
cdef class FlagCounts:
    cdef public object default
    cdef public set kinds
    cdef public object last_kind
    cdef public dict by_variation
    cdef public list counters
    cdef public SummaryCounter last

cdef class EventSummary:
    cdef public object start_date
    cdef public object end_date
    cdef public dict flags

@cython.final
cdef class SummaryTable:
    cdef public double start
    cdef public double end
    cdef public dict flags
    @cython.locals(entry=FlagCounts, counter=SummaryCounter, newest=SummaryCounter, c=Context, multi=list)
    cdef object count(self, object key, Context context, object variation, object version, object value,
                      object default, double ts)
    cpdef count_event(self, EventInputEvaluation event)

@cython.locals(entry=FlagCounts, counter=SummaryCounter)
cpdef dict make_summary_event(EventSummary summary)

@cython.final
cdef class ContextKeyLRU:
    cdef Py_ssize_t _capacity
    cdef object _keys
    cdef object _newest
    cpdef bint put(self, object key) except -1

@cython.locals(c=Context, multi=list)
cdef Context _without_anonymous(Context context)

cpdef bint sample(object ratio, object random) except -1
cdef bint _window_open(object until, object now_ms, object server_ms) except -1

@cython.final
cdef class Outbox:
    cdef public list events
    cdef public Py_ssize_t capacity
    cdef public bint full
    cdef public long long dropped
    cpdef add(self, object event)
    @cython.locals(i=Py_ssize_t)
    cpdef process(self, object inbox, Py_ssize_t n, object now_ms, object server_ms, object random)
    @cython.locals(ev=EventInputEvaluation, ratio=object, until=object)
    cdef _process(self, object event, object now_ms, object server_ms, object random)

cpdef object track_context(object event_name, object context, object data)
@cython.locals(t=object, v=double)
cpdef object track_metric(object event_name, object metric_value)

cpdef object current_time_millis()

@cython.final
cdef class Recorder:
    cdef public bint enabled
    cdef object _inbox
    cdef Py_ssize_t _capacity
    cdef object _wake
    cdef public bint wake_pending
    cdef public bint inbox_full
    cdef public long long inbox_dropped
    cdef SummaryTable _table
    cdef ContextKeyLRU _keys
    cdef public long long deduplicated
    cdef bint _omit_anonymous
    cdef object _lock
    @cython.locals(pflag=Flag, item=tuple)
    cpdef evaluated(self, Flag flag, Context context, EvaluationDetail detail, object default, bint detailed,
                    list prerequisites)
    cpdef unknown(self, object key, Context context, object default, object reason, bint detailed)
    cpdef failed(self, Flag flag, Context context, object default, object reason, bint detailed)
    @cython.locals(event=EventInputCustom)
    cpdef track(self, object event_name, object context, object data, object metric_value)
    cdef _queue(self, object index, object event)
    cdef _overflow(self)
    @cython.locals(experiment=bint, variation=object, value=object, reason=object, known=object)
    cdef _evaluation(self, Flag flag, Context context, EvaluationDetail detail, object default, bint detailed,
                     object parent, bint main)
    @cython.locals(count=bint, debug_until=object, indexable=Context, lock=object, ts=double, timestamp=object,
                   index=object, event=object)
    cdef _record(self, Flag flag, object key, object version, Context context, object variation, object value,
                 object default, object reason, object parent, bint track)
    @cython.locals(indexable=Context, lock=object, index=object)
    cdef _recorded_evaluation(self, EventInputEvaluation event)
    @cython.locals(context=Context, lock=object)
    cdef _identify(self, EventInputIdentify event)
    @cython.locals(context=Context, lock=object)
    cdef _unindexed(self, object event)
    @cython.locals(indexable=Context, lock=object, index=object)
    cdef _other(self, EventInputCustom event)
    cdef Context _note(self, Context context)
