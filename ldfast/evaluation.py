"""Evaluation results: EvaluationDetail, reasons, BigSegmentsStatus, FeatureFlagsState.

Reasons are plain dicts, as in the official SDK. ldfast builds each flag's reason and detail
objects once, when the flag is stored, and returns those same objects on every evaluation: treat
``detail.reason`` as read-only.
"""
from __future__ import annotations

import json
import time

import orjson
from typing import Any, Dict, List, Optional

from ldfast._ext.model import EvaluationDetail, error_reason


class BigSegmentsStatus:
    """Values of ``bigSegmentsStatus`` in a reason."""

    HEALTHY = "HEALTHY"
    STALE = "STALE"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    STORE_ERROR = "STORE_ERROR"


class FeatureFlagsState:
    """All flags' values and metadata for one context (see ``LDClient.all_flags_state``)."""

    __slots__ = ("_values", "_meta", "_valid")

    def __init__(self, valid: bool):
        self._values: Dict[str, Any] = {}
        self._meta: Dict[str, Any] = {}
        self._valid = valid

    def add_flag(self, flag_state: dict[str, Any], with_reasons: bool, details_only_if_tracked: bool) -> None:
        """Add one flag's state (same dict shape as the official SDK's)."""
        self._add(flag_state["key"], flag_state["value"], flag_state["variation"], flag_state["reason"],
                  flag_state["version"], flag_state.get("prerequisites"),
                  flag_state.get("trackEvents", False), flag_state.get("trackReason", False),
                  flag_state.get("debugEventsUntilDate"), with_reasons, details_only_if_tracked)

    def _add(self, key: str, value: Any, variation: Optional[int], reason: Optional[dict[str, Any]], version: Any,
             prerequisites: Optional[List[str]], track_events: Any, track_reason: bool,
             debug_until: Any, with_reasons: bool, details_only_if_tracked: bool) -> None:
        self._values[key] = value
        meta: Dict[str, Any] = {}
        omit_details = False
        if details_only_if_tracked:
            if not track_events and not track_reason and not (
                debug_until is not None and debug_until > int(time.time() * 1000)
            ):
                omit_details = True
        if (with_reasons or track_reason) and reason is not None and not omit_details:
            meta["reason"] = reason
        if not omit_details:
            meta["version"] = version
        if prerequisites:
            meta["prerequisites"] = prerequisites
        if variation is not None:
            meta["variation"] = variation
        if track_events:
            meta["trackEvents"] = True
        if track_reason:
            meta["trackReason"] = True
        if debug_until is not None:
            meta["debugEventsUntilDate"] = debug_until
        self._meta[key] = meta

    @property
    def valid(self) -> bool:
        return self._valid

    def get_flag_value(self, key: str) -> object:
        return self._values.get(key)

    def get_flag_reason(self, key: str) -> Optional[dict[str, Any]]:
        meta = self._meta.get(key)
        return None if meta is None else meta.get("reason")

    def to_values_map(self) -> dict[str, Any]:
        return self._values

    def to_json_dict(self) -> dict[str, Any]:
        ret = self._values.copy()
        ret["$flagsState"] = self._meta
        ret["$valid"] = self._valid
        return ret

    def to_json_string(self) -> str:
        """The JSON of ``to_json_dict()`` (e.g. the bootstrap for LaunchDarkly's JavaScript SDK):
        the same data as the official SDK's ``json.dumps``, written compactly by orjson (non-ASCII
        as UTF-8, not ``\\u`` escapes); a value orjson cannot write (an integer beyond 64 bits)
        falls back to ``json.dumps``."""
        data = self.to_json_dict()
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data)

    def __getstate__(self) -> dict[str, Any]:
        return self.to_json_dict()


__all__ = ("EvaluationDetail", "BigSegmentsStatus", "FeatureFlagsState")
