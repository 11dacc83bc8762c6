# Types for compiling evaluator_py.py as evaluator_c (evaluator_c.py links to evaluator_py.py).
cimport cython

from ldfast._ext.bucketing_c cimport bucket_value
from ldfast._ext.context_c cimport Context, DictContexts
from ldfast._ext.model_c cimport (AttrRef, Clause, EvaluationDetail, Flag, Prerequisite, Rollout, Rule, Segment,
                                  SegmentRule, TargetCheck, VariationOrRollout)
from ldfast._ext.operators_c cimport match_value
from ldfast._ext.recorder_c cimport Recorder


cdef extern from "Python.h":
    void PyObject_GC_UnTrack(object)

cdef bint _COMPILED

cdef void _untrack_leaf(object container)


@cython.no_gc  # short-lived, never part of a cycle
cdef class EvalState:
    cdef public dict flags
    cdef public dict segments
    cdef public object big_segments
    cdef public object original_key
    cdef public list prereq_stack
    cdef public list segment_stack
    cdef public Py_ssize_t depth
    cdef public list prereq_keys
    cdef public list events
    cdef public object bs_status
    cdef public dict bs_membership


@cython.locals(state=EvalState)
cdef EvalState _new_state(dict flags, dict segments, object big_segments, object original_key, list events,
                          list prereq_keys)


cdef class ClientCore:
    cdef public object store
    cdef public dict defaults
    cdef public bint offline
    cdef public bint ready
    cdef public object check_ready
    cdef public object big_segments
    cdef public Recorder events
    cdef public object read_missing
    cdef public DictContexts contexts
    cpdef object variation(self, object key, object context, object default)
    cpdef EvaluationDetail variation_detail(self, object key, object context, object default)
    @cython.locals(flags=dict, flag=Flag, store=object, events=Recorder, prerequisites=list, detail=EvaluationDetail)
    cpdef EvaluationDetail detail_for(self, object key, object context, object default, bint detailed=*)
    @cython.locals(flags=dict, snapshot=dict, segments=dict, flag=Flag, detail=EvaluationDetail, reason=dict, meta=dict,
                   prereqs=list, experiment=bint, track_events=bint, omit=bint)
    cpdef fill_flags_state(self, dict values, dict metas, object context, bint client_only, bint with_reasons,
                           bint details_only, object now_ms, dict part=*)

@cython.locals(rules=tuple, rule=Rule)
cpdef bint is_experiment(Flag flag, dict reason) except -1


@cython.locals(state=EvalState, detail=EvaluationDetail)
cpdef EvaluationDetail evaluate(Flag flag, Context context, dict flags, dict segments, object big_segments=*,
                                list events=*, list prereq_keys=*)

cdef inline Context _individual(Context context, str kind)

@cython.locals(c=Context, target=TargetCheck, rule=Rule, clause=Clause, failed=EvaluationDetail)
cdef EvaluationDetail _evaluate(Flag flag, Context context, EvalState state)

@cython.locals(pushed=bint, prereq=Prerequisite, pflag=Flag, result=EvaluationDetail)
cdef EvaluationDetail _check_prerequisites(Flag flag, Context context, EvalState state)

@cython.locals(rollout=Rollout, detail=EvaluationDetail, bucket=double, bounds=tuple, i=Py_ssize_t, n=Py_ssize_t)
cdef EvaluationDetail _outcome(VariationOrRollout outcome, Context context)

@cython.locals(c=Context)
cdef double _bucket(Context context, object kind, AttrRef bucket_by, bytes prefix) except? -2.0

@cython.locals(attrs=dict, builtin=int)
cdef object _attribute(Context c, AttrRef ref)

@cython.locals(c=Context, segment=Segment, segments=dict)
cdef bint _clause_matches(Clause clause, Context context, EvalState state) except -1

cdef bint _segment_matches(Segment segment, Context context, EvalState state) except -1

@cython.locals(c=Context, rule=SegmentRule)
cdef bint _simple_segment_matches(Segment segment, Context context, EvalState state, bint use_lists) except -1

@cython.locals(clause=Clause, bucket=double)
cdef bint _segment_rule_matches(SegmentRule rule, Context context, EvalState state) except -1

@cython.locals(c=Context, cache=dict)
cdef bint _big_segment_matches(Segment segment, Context context, EvalState state) except -1
