# Types for compiling model_py.py as model_c (model_c.py links to model_py.py).
# Model objects form trees (no cycles): the compiled twin untracks them from the cycle collector
# as it builds them (_untrack/seal in model_py.py; @cython.no_gc is not honoured in pure mode).
cimport cython

cdef extern from "Python.h":
    bint PyObject_IS_GC(object)
    void PyObject_GC_UnTrack(object)

cdef bint _COMPILED

cdef void _untrack(object obj)

@cython.locals(t=object)
cpdef object seal(object value)

@cython.locals(t=object)
cdef void _untrack_pre(object pre)

cdef void _untrack_tuples(object value)

# typed property access: C calls within the module
cdef object _opt(object data, object name, object typ)
cdef object _req(object data, object name, object typ)
cdef bint _opt_bool(object data, object name) except -1
cdef object _list_of(object items, object name, object typ)
cdef object _opt_list(object data, object name, object typ=*)
cdef object _req_list(object data, object name, object typ=*)
cdef object _check_dict(object data, object what)

cdef class EvaluationDetail:
    cdef public object _value
    cdef public object _variation_index
    cdef public object _reason
    cdef public object _experiment

cdef class AttrRef:
    cdef public object path
    cdef public object first
    cdef public tuple rest
    cdef public object error
    cdef public Py_ssize_t depth
    cdef public int builtin

cdef class Clause:
    cdef public int op
    cdef public object op_name
    cdef public AttrRef attr
    cdef public bint is_kind
    cdef public bint is_segment_match
    cdef public bint negate
    cdef public object context_kind
    cdef public str kind
    cdef public list values
    cdef public object pre

cdef class Rollout:
    cdef public object context_kind
    cdef public AttrRef bucket_by
    cdef public bint is_experiment
    cdef public object seed
    cdef public bytes prefix
    cdef public tuple bounds
    cdef public bint overflow
    cdef public tuple details
    cdef public tuple exp_details
    cdef public tuple variations

cdef class VariationOrRollout:
    cdef public object variation
    cdef public Rollout rollout
    cdef public EvaluationDetail detail

cdef class Rule:
    cdef public object id
    cdef public tuple clauses
    cdef public bint track_events
    cdef public VariationOrRollout outcome
    cdef public dict reason

cdef class Prerequisite:
    cdef public object key
    cdef public object variation
    cdef public EvaluationDetail failed

cdef class Target:
    cdef public object context_kind
    cdef public object variation
    cdef public frozenset values
    cdef public EvaluationDetail detail

cdef class TargetCheck:
    cdef public str kind
    cdef public frozenset keys
    cdef public EvaluationDetail detail

cdef class Flag:
    cdef public object key
    cdef public object version
    cdef public bint deleted
    cdef public bint on
    cdef public list variations
    cdef public object off_variation
    cdef public EvaluationDetail off_detail
    cdef public VariationOrRollout fallthrough
    cdef public tuple prerequisites
    cdef public tuple targets
    cdef public tuple rules
    cdef public object salt
    cdef public bint track_events
    cdef public bint track_events_fallthrough
    cdef public object debug_events_until_date
    cdef public bint exclude_from_summaries
    cdef public object sampling_ratio
    cdef public bint client_side
    cdef public object _raw
    cdef public object raw_json
    cdef public object error
    cdef public bint uses_state
    cdef public tuple segment_keys
    cdef public tuple _pending

cdef class SegmentRule:
    cdef public tuple clauses
    cdef public object weight
    cdef public AttrRef bucket_by
    cdef public object rollout_context_kind
    cdef public bytes prefix

cdef class Segment:
    cdef public object key
    cdef public object version
    cdef public bint deleted
    cdef public frozenset included
    cdef public frozenset excluded
    cdef public tuple included_contexts
    cdef public tuple excluded_contexts
    cdef public tuple rules
    cdef public object salt
    cdef public bint unbounded
    cdef public object unbounded_context_kind
    cdef public object generation
    cdef public object _raw
    cdef public object raw_json
    cdef public object error
    cdef public bint refers_to_segments
    cdef public tuple segment_keys
