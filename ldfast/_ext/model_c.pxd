# Internal model objects reference only other model objects and JSON data, never back: no cycles,
# so they are not tracked by the cycle collector (@cython.no_gc); EvaluationDetail, public, is.
cimport cython

# Types for compiling model_py.py as model_c (model_c.py links to model_py.py).
cdef class EvaluationDetail:
    cdef public object _value
    cdef public object _variation_index
    cdef public object _reason
    cdef public object _experiment

@cython.no_gc
cdef class AttrRef:
    cdef public object path
    cdef public object first
    cdef public tuple rest
    cdef public object error
    cdef public Py_ssize_t depth
    cdef public int builtin

@cython.no_gc
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

@cython.no_gc
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

@cython.no_gc
cdef class VariationOrRollout:
    cdef public object variation
    cdef public Rollout rollout
    cdef public EvaluationDetail detail

@cython.no_gc
cdef class Rule:
    cdef public object id
    cdef public tuple clauses
    cdef public bint track_events
    cdef public VariationOrRollout outcome
    cdef public dict reason

@cython.no_gc
cdef class Prerequisite:
    cdef public object key
    cdef public object variation
    cdef public EvaluationDetail failed

@cython.no_gc
cdef class Target:
    cdef public object context_kind
    cdef public object variation
    cdef public frozenset values
    cdef public EvaluationDetail detail

@cython.no_gc
cdef class TargetCheck:
    cdef public str kind
    cdef public frozenset keys
    cdef public EvaluationDetail detail

@cython.no_gc
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
    cdef public object raw
    cdef public object error
    cdef public bint uses_state

@cython.no_gc
cdef class SegmentRule:
    cdef public tuple clauses
    cdef public object weight
    cdef public AttrRef bucket_by
    cdef public object rollout_context_kind
    cdef public bytes prefix

@cython.no_gc
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
    cdef public object raw
    cdef public object error
    cdef public bint refers_to_segments
