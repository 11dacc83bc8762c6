"""The event processor (ldfast.events.processor) and diagnostic events (ldfast.events.diagnostics).

Unit tests run on a MemoryReactorClock with a fake treq-style client (every request waits until the
test answers it). Loopback tests run the processor on a ReactorThread against the fake LaunchDarkly
service over real HTTP.
"""
import json
import logging
import os
import platform
import subprocess
import sys
import threading
import uuid

import orjson
import pytest
from twisted.internet.testing import MemoryReactorClock

import ldclient.config as official_config
from ldclient.impl.events import diagnostics as official_diagnostics
from ldfast._reactor import ReactorThread
from ldfast.config import Config, HTTPConfig
from ldfast.context import Context
from ldfast.events import diagnostics
from ldfast.events.delivery import RETRY_DELAY
from ldfast.events.diagnostics import DiagnosticAccumulator, create_diagnostic_id, create_diagnostic_init
from ldfast.events.processor import BATCH, FORMAT_CHUNK, MAX_DELIVERIES, STOP_TIMEOUT, EventProcessor, NullEventProcessor
from ldfast.events.types import EventInputCustom, EventInputEvaluation, EventInputIdentify
from ldfast.model import parse_flag
from ldfast.version import VERSION
from tests.support.fake_ld import FakeLaunchDarklyThread
from tests.test_event_delivery import FakeHTTP, assert_no_result, result_of

SDK_KEY = "sdk-secret-key-123456"
NOW = 1_764_064_800  # the test clock's time, in seconds (Tue, 25 Nov 2025 10:00:00 GMT)
NOW_MS = NOW * 1000
USER = Context.create("user-a")
OTHER = Context.create("user-b")
ANON = Context.builder("anon-1").anonymous(True).build()


def http_date(ms):
    from email.utils import formatdate

    return formatdate(ms / 1000, usegmt=True)


def make_flag(**props):
    raw = {"key": "flag", "version": 7, "on": True, "variations": ["a", "b"], "fallthrough": {"variation": 0},
           "offVariation": 1, "salt": "s"}
    raw.update(props)
    return parse_flag(raw)


def evaluation(flag=None, context=USER, timestamp=NOW_MS, track=None, value="a", variation=0, default="z"):
    flag = make_flag() if flag is None else flag
    return EventInputEvaluation(timestamp, context, flag.key, flag, variation, value, None, default, None,
                                flag.track_events if track is None else track)


def unknown_flag(key="nope", context=USER, timestamp=NOW_MS):
    return EventInputEvaluation(timestamp, context, key, None, None, "z", None, "z")


class ThreadClock(MemoryReactorClock):
    """A MemoryReactorClock whose callFromThread (thread-safe, like a reactor's) queues until run."""

    def __init__(self):
        super().__init__()
        self.from_threads = []
        self._lock = threading.Lock()

    def callFromThread(self, f, *args, **kwargs):
        with self._lock:
            self.from_threads.append((f, args, kwargs))

    def run_thread_calls(self):
        while True:
            with self._lock:
                calls, self.from_threads = self.from_threads, []
            if not calls:
                return
            for f, args, kwargs in calls:
                f(*args, **kwargs)


class Harness:
    def __init__(self, config=None, start=True, **options):
        if config is None:
            options.setdefault("diagnostic_opt_out", True)
            config = Config(SDK_KEY, **options)
        self.config = config
        self.clock = ThreadClock()
        self.clock.advance(NOW)
        self.http = FakeHTTP()
        self.processor = EventProcessor(config, reactor=self.clock, http_client=self.http)
        if start:
            self.processor.start()

    def send(self, *events):
        for e in events:
            self.processor.send_event(e)

    def pump(self):
        """Run what other threads asked for and every reactor turn due now."""
        self.clock.run_thread_calls()
        for _ in range(1000):
            if not any(c.getTime() <= self.clock.seconds() for c in self.clock.getDelayedCalls()):
                return
            self.clock.advance(0)

    def bulk(self):
        return [r for r in self.http.requests if r.url.endswith("/bulk")]

    def diagnostic(self):
        return [r for r in self.http.requests if r.url.endswith("/diagnostic")]

    def flush_and_accept(self, **headers):
        d = self.processor.flush()
        self.pump()
        req = self.bulk()[-1]
        req.respond(202, headers)
        assert result_of(d) is True
        return req.json


def kinds(payload):
    return [e["kind"] for e in payload]


# -- flushing -------------------------------------------------------------------------------------

def test_events_are_sent_every_flush_interval_not_before():
    h = Harness(flush_interval=5)
    h.send(evaluation(track=True), EventInputIdentify(NOW_MS + 1, OTHER))
    h.clock.advance(4.9)
    assert h.http.requests == []
    h.clock.advance(0.1)
    [req] = h.bulk()
    assert req.json == [
        {"kind": "index", "creationDate": NOW_MS, "context": {"key": "user-a", "kind": "user"}},
        {"kind": "feature", "creationDate": NOW_MS, "key": "flag", "value": "a", "default": "z", "version": 7,
         "variation": 0, "context": {"key": "user-a", "kind": "user"}},
        {"kind": "identify", "creationDate": NOW_MS + 1, "context": {"key": "user-b", "kind": "user"}},
        {"kind": "summary", "startDate": NOW_MS, "endDate": NOW_MS, "features": {"flag": {
            "default": "z", "contextKinds": ["user"], "counters": [
                {"count": 1, "value": "a", "variation": 0, "version": 7}]}}},
    ]
    assert req.data == orjson.dumps(req.json)  # compact JSON
    req.respond(202)
    h.clock.advance(5)
    assert len(h.bulk()) == 1  # nothing new: nothing sent


def test_a_flush_with_nothing_pending_sends_nothing_and_fires_true():
    h = Harness()
    h.clock.advance(60)
    assert result_of(h.processor.flush()) is True
    assert h.http.requests == []


def test_flush_fires_true_when_the_payload_is_accepted():
    h = Harness()
    h.send(unknown_flag())
    d = h.processor.flush()
    assert_no_result(d)
    [req] = h.bulk()
    assert kinds(req.json) == ["index", "summary"]
    req.respond(202)
    assert result_of(d) is True


def test_flush_fires_false_when_the_payload_is_finally_dropped():
    h = Harness()
    h.send(unknown_flag())
    d = h.processor.flush()
    h.bulk()[0].respond(503)
    h.clock.advance(RETRY_DELAY)
    assert_no_result(d)
    first, second = h.bulk()
    assert second.headers["X-LaunchDarkly-Payload-ID"] == first.headers["X-LaunchDarkly-Payload-ID"]
    assert second.data == first.data
    second.respond(503)
    assert result_of(d) is False  # a result, never an errback
    # the events are gone; the processor goes on
    h.send(unknown_flag(key="other"))
    assert h.flush_and_accept()[-1]["features"].keys() == {"other"}


def test_flush_also_waits_for_a_payload_already_under_way():
    h = Harness(flush_interval=5)
    h.send(unknown_flag())
    h.clock.advance(5)
    [periodic] = h.bulk()
    nothing_new = h.processor.flush()
    h.send(unknown_flag(key="later"))
    d = h.processor.flush()
    mine = h.bulk()[1]
    mine.respond(202)
    assert_no_result(d)
    assert_no_result(nothing_new)
    periodic.respond(500)
    h.clock.advance(RETRY_DELAY)
    h.bulk()[2].respond(202)
    assert result_of(d) is True
    assert result_of(nothing_new) is True


def test_the_summary_is_reset_when_a_payload_is_handed_off():
    h = Harness()
    h.send(evaluation(), evaluation(timestamp=NOW_MS + 5))
    first = h.flush_and_accept()
    assert first[-1]["features"]["flag"]["counters"][0]["count"] == 2
    assert (first[-1]["startDate"], first[-1]["endDate"]) == (NOW_MS, NOW_MS + 5)
    h.send(evaluation(timestamp=NOW_MS + 10))
    second = h.flush_and_accept()
    assert second[-1]["features"]["flag"]["counters"][0]["count"] == 1
    assert (second[-1]["startDate"], second[-1]["endDate"]) == (NOW_MS + 10, NOW_MS + 10)


def test_at_most_five_deliveries_at_once_then_the_buffer_waits():
    h = Harness(flush_interval=1)
    for i in range(MAX_DELIVERIES + 2):
        h.send(unknown_flag(key="k%d" % i))
        h.clock.advance(1)
    assert len(h.bulk()) == MAX_DELIVERIES  # the last two periods stay in the buffer
    d = h.processor.flush()
    assert len(h.bulk()) == MAX_DELIVERIES
    h.bulk()[0].respond(202)
    assert len(h.bulk()) == MAX_DELIVERIES + 1
    waiting = h.bulk()[-1].json
    assert waiting[-1]["features"].keys() == {"k5", "k6"}
    for req in h.bulk()[1:]:
        req.respond(202)
    assert result_of(d) is True


def test_the_first_flush_call_sends_a_payload_even_when_many_are_buffered():
    h = Harness(events_max_pending=10000)
    n = 2 * FORMAT_CHUNK + 17
    h.send(*[EventInputIdentify(NOW_MS + i, Context.create("u%d" % i)) for i in range(n)])
    h.clock.run_thread_calls()  # the first batch is processed now, the rest in later turns
    d = h.processor.flush()
    assert h.bulk() == []  # processing and formatting continue in later reactor turns
    h.pump()
    [req] = h.bulk()
    payload = req.json
    assert len(payload) == n
    assert [e["context"]["key"] for e in payload] == ["u%d" % i for i in range(n)]
    req.respond(202)
    assert result_of(d) is True


def test_inputs_are_processed_in_batches_per_reactor_turn():
    h = Harness(events_max_pending=10000)
    h.send(*[unknown_flag(context=Context.create("u%d" % i)) for i in range(BATCH + 10)])
    h.clock.run_thread_calls()
    assert len(h.processor._inbox) == 10
    h.clock.advance(0)
    assert len(h.processor._inbox) == 0


def test_an_event_that_cannot_be_serialized_is_dropped_not_the_payload(caplog):
    h = Harness()
    h.send(EventInputCustom(NOW_MS, USER, "bad", {"x": object()}),
           EventInputCustom(NOW_MS, USER, "big", {"n": 2 ** 70, 3: "int key"}),
           EventInputCustom(NOW_MS, USER, "good", {"ok": True}, 1.5))
    with caplog.at_level(logging.WARNING, "ldfast.events.processor"):
        payload = h.flush_and_accept()
    assert [(e["kind"], e.get("key")) for e in payload] == [("index", None), ("custom", "big"), ("custom", "good")]
    assert payload[1]["data"] == {"n": 2 ** 70, "3": "int key"}
    assert payload[2]["metricValue"] == 1.5
    assert "cannot be serialized" in caplog.text


# -- disabling ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_sdk_key_disables_events_for_good(code):
    h = Harness(flush_interval=5)
    h.send(unknown_flag())
    d = h.processor.flush()
    h.bulk()[0].respond(code)
    assert result_of(d) is False
    assert h.processor.disabled
    h.send(unknown_flag(), EventInputIdentify(NOW_MS, OTHER))
    assert len(h.processor._inbox) == 0
    assert result_of(h.processor.flush()) is False
    h.clock.advance(60)
    h.pump()
    assert len(h.http.requests) == 1
    assert result_of(h.processor.stop()) is False
    assert h.clock.getDelayedCalls() == []


def test_events_buffered_when_disabled_are_dropped():
    h = Harness(flush_interval=5)
    h.send(unknown_flag())
    h.clock.advance(5)
    h.send(unknown_flag(key="meanwhile"))
    h.pump()
    h.bulk()[0].respond(401)
    h.clock.advance(5)
    assert len(h.http.requests) == 1
    assert h.processor._outbox.events == []


# -- capacity -------------------------------------------------------------------------------------

def test_a_full_input_queue_drops_and_counts_with_one_warning_per_flush(caplog):
    h = Harness(events_max_pending=3)
    warning = "Events are being produced faster than they can be processed; some events will be dropped"
    with caplog.at_level(logging.WARNING):
        h.send(*[EventInputIdentify(NOW_MS, USER)] * 5)  # the reactor has not run yet
        assert len(h.processor._inbox) == 3
        assert h.processor.dropped_events == 2
        assert len(caplog.records) == 1
        h.pump()  # the queue drains
        h.send(*[EventInputIdentify(NOW_MS, USER)] * 2)  # room for these
        h.send(*[EventInputIdentify(NOW_MS, USER)] * 3)  # full again: counted, not warned again
        assert h.processor.dropped_events == 4
        assert [r.getMessage() for r in caplog.records].count(warning) == 1
        h.flush_and_accept()
        h.send(*[EventInputIdentify(NOW_MS, USER)] * 4)  # after a flush: warned again
    assert h.processor.recorder.inbox_dropped == 5
    assert [r.getMessage() for r in caplog.records].count(warning) == 2


def test_a_full_output_buffer_drops_and_counts_but_still_summarizes(caplog):
    h = Harness(events_max_pending=2)
    with caplog.at_level(logging.WARNING, "ldfast.events.processor"):
        for i in range(4):
            h.send(evaluation(flag=make_flag(trackEvents=True), context=Context.create("u%d" % i)))
            h.pump()
    assert h.processor.dropped_events == 6  # 8 output events (index + feature each), room for 2
    assert [r.getMessage() for r in caplog.records] == [
        "Exceeded event queue capacity. Increase capacity to avoid dropping events."]
    payload = h.flush_and_accept()
    assert kinds(payload) == ["index", "feature", "summary"]
    assert payload[-1]["features"]["flag"]["counters"][0]["count"] == 4


# -- index events and the context-key cache -------------------------------------------------------

def test_a_context_gets_one_index_event_until_the_key_cache_is_cleared():
    h = Harness(context_keys_flush_interval=300)
    h.send(evaluation(), evaluation(), EventInputCustom(NOW_MS, USER, "click"))
    h.pump()
    assert h.processor.deduplicated_contexts == 2
    assert kinds(h.flush_and_accept()) == ["index", "custom", "summary"]
    h.clock.advance(299)
    h.send(evaluation())
    assert kinds(h.flush_and_accept()) == ["summary"]
    h.clock.advance(1)  # the periodic clear
    h.send(evaluation())
    assert kinds(h.flush_and_accept()) == ["index", "summary"]


def test_the_key_cache_evicts_the_oldest_key_at_capacity():
    h = Harness(context_keys_capacity=1)
    h.send(unknown_flag(context=USER), unknown_flag(context=OTHER), unknown_flag(context=USER))
    payload = h.flush_and_accept()
    assert [e["context"]["key"] for e in payload if e["kind"] == "index"] == ["user-a", "user-b", "user-a"]


def test_identify_has_no_index_but_marks_the_context_seen():
    h = Harness()
    h.send(EventInputIdentify(NOW_MS, USER), evaluation())
    assert kinds(h.flush_and_accept()) == ["identify", "summary"]


def test_multi_context_index_uses_the_fully_qualified_key():
    h = Harness()
    org = Context.create("o1", "org")
    multi = Context.create_multi(USER, org)
    h.send(unknown_flag(context=multi), unknown_flag(context=Context.create_multi(org, USER)), unknown_flag(context=org))
    payload = h.flush_and_accept()
    assert kinds(payload) == ["index", "index", "summary"]
    assert payload[0]["context"]["kind"] == "multi"


def test_omit_anonymous_contexts():
    h = Harness(omit_anonymous_contexts=True)
    h.send(EventInputIdentify(NOW_MS, ANON), evaluation(context=ANON, track=True),
           EventInputIdentify(NOW_MS, Context.create_multi(ANON, Context.create("o1", "org"))))
    payload = h.flush_and_accept()
    assert kinds(payload) == ["feature", "identify", "summary"]
    assert payload[0]["context"] == {"key": "anon-1", "kind": "user", "anonymous": True}
    assert payload[1]["context"] == {"key": "o1", "kind": "org"}


# -- debug events ---------------------------------------------------------------------------------

def test_debug_events_while_the_window_is_open_on_the_local_clock():
    h = Harness()
    anon_user = Context.builder("u").anonymous(True).name("Ann").build()
    h.send(evaluation(flag=make_flag(debugEventsUntilDate=NOW_MS + 1000), context=anon_user))
    payload = h.flush_and_accept()
    assert kinds(payload) == ["index", "debug", "summary"]
    assert payload[1]["context"] == {"key": "u", "kind": "user", "anonymous": True, "name": "Ann"}  # not redacted
    h.clock.advance(1)  # now == the cutoff: closed
    h.send(evaluation(flag=make_flag(debugEventsUntilDate=NOW_MS + 1000)))
    assert kinds(h.flush_and_accept()) == ["index", "summary"]


def test_debug_events_stop_when_the_server_clock_is_past_the_window():
    h = Harness()
    h.send(unknown_flag())
    h.flush_and_accept(date=http_date(NOW_MS + 60_000))  # the server is a minute ahead
    assert h.processor._sender.last_known_past_time == NOW_MS + 60_000
    h.send(evaluation(flag=make_flag(debugEventsUntilDate=NOW_MS + 30_000), track=True),
           evaluation(flag=make_flag(key="f2", debugEventsUntilDate=NOW_MS + 90_000)))
    assert kinds(h.flush_and_accept()) == ["feature", "debug", "summary"]


def test_no_debug_event_for_an_unknown_flag_or_a_malformed_date():
    h = Harness()
    h.send(unknown_flag(), evaluation(flag=make_flag(debugEventsUntilDate="tomorrow")))
    assert kinds(h.flush_and_accept()) == ["index", "summary"]


# -- sampling and summaries -----------------------------------------------------------------------

def test_sampling_applies_to_full_and_debug_events_not_to_index_or_summary():
    h = Harness()
    never = make_flag(trackEvents=True, samplingRatio=0, debugEventsUntilDate=NOW_MS + 1000)
    h.send(evaluation(flag=never))
    assert kinds(h.flush_and_accept()) == ["index", "summary"]
    half = make_flag(trackEvents=True, samplingRatio=2)
    h.processor._random = lambda: 0.49
    h.send(evaluation(flag=half))
    assert kinds(h.flush_and_accept()) == ["feature", "summary"]
    h.processor._random = lambda: 0.5
    h.send(evaluation(flag=half))
    assert kinds(h.flush_and_accept()) == ["summary"]


def test_exclude_from_summaries():
    h = Harness()
    h.send(evaluation(flag=make_flag(excludeFromSummaries=True, trackEvents=True)))
    assert kinds(h.flush_and_accept()) == ["index", "feature"]


# -- stopping -------------------------------------------------------------------------------------

def test_stop_flushes_what_is_pending_then_stops():
    h = Harness()
    h.send(evaluation(track=True))
    d = h.processor.stop()
    [req] = h.bulk()
    assert kinds(req.json) == ["index", "feature", "summary"]
    assert_no_result(d)
    req.respond(202)
    assert result_of(d) is True
    assert h.clock.getDelayedCalls() == []  # timers and the deadline are gone
    h.send(evaluation())
    assert len(h.processor._inbox) == 0
    assert result_of(h.processor.flush()) is False
    assert result_of(h.processor.stop()) is True


def test_stop_waits_for_a_retry_within_its_bound():
    h = Harness()
    h.send(unknown_flag())
    d = h.processor.stop()
    h.bulk()[0].respond(500)
    h.clock.advance(RETRY_DELAY)
    h.bulk()[1].respond(202)
    assert result_of(d) is True


def test_stop_is_bounded_whatever_the_server_does(caplog):
    h = Harness(flush_interval=1)
    for i in range(MAX_DELIVERIES + 1):  # five deliveries hang, one period waits in the buffer
        h.send(unknown_flag(key="k%d" % i))
        h.clock.advance(1)
    d = h.processor.stop()
    h.clock.advance(STOP_TIMEOUT - 0.01)
    assert_no_result(d)
    with caplog.at_level(logging.WARNING, "ldfast.events.processor"):
        h.clock.advance(0.01)
    assert result_of(d) is False
    assert all(r.cancelled for r in h.bulk())
    assert len(h.bulk()) == MAX_DELIVERIES
    assert "giving up" in caplog.text
    h.pump()
    assert h.clock.getDelayedCalls() == []


def test_stop_before_start():
    h = Harness(start=False)
    h.send(unknown_flag())
    d = h.processor.stop()
    h.bulk()[0].respond(202)
    assert result_of(d) is True


def test_null_event_processor():
    p = NullEventProcessor()
    p.start()
    p.send_event(unknown_flag())
    assert result_of(p.flush()) is True
    assert result_of(p.stop()) is True


def test_the_processor_never_touches_the_global_reactor():
    # In a fresh interpreter: start, flush, retry, periodic timers and stop on a Clock must not
    # import twisted.internet.reactor (importing it installs a reactor; LoopingCall, for one, does).
    script = """
import sys
from tests.test_event_processor import Harness, unknown_flag
from tests.test_event_delivery import result_of
h = Harness()
h.send(unknown_flag())
d = h.processor.flush()
h.bulk()[0].respond(500)
h.clock.advance(1)
h.bulk()[1].respond(202)
assert result_of(d) is True
h.clock.advance(900)
h.send(unknown_flag())
s = h.processor.stop()
h.bulk()[-1].respond(202)
assert result_of(s) is True
assert "twisted.internet.reactor" not in sys.modules, "the global reactor was imported"
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- threads --------------------------------------------------------------------------------------

def test_send_event_from_many_threads_loses_nothing():
    h = Harness(events_max_pending=100_000)
    per_thread, threads = 5000, 8
    flag = make_flag()
    barrier = threading.Barrier(threads)

    def produce(n):
        ctx = Context.create("t%d" % n)
        barrier.wait()
        for _ in range(per_thread):
            h.processor.send_event(evaluation(flag=flag, context=ctx))

    workers = [threading.Thread(target=produce, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert 1 <= len(h.clock.from_threads) <= threads  # wake-ups, not one per event
    h.pump()
    payload = h.flush_and_accept()
    assert h.processor.dropped_events == 0
    assert payload[-1]["features"]["flag"]["counters"][0]["count"] == threads * per_thread
    assert sorted(e["context"]["key"] for e in payload if e["kind"] == "index") == ["t%d" % n for n in range(threads)]


def test_wake_ups_are_coalesced():
    h = Harness()
    h.send(*[EventInputIdentify(NOW_MS, USER)] * 50)
    assert len(h.clock.from_threads) == 1
    h.pump()
    h.send(EventInputIdentify(NOW_MS, USER))
    assert len(h.clock.from_threads) == 1


def test_an_evaluation_that_needs_only_a_summary_counter_wakes_nothing():
    h = Harness()
    h.send(unknown_flag(), evaluation())  # the first one has an index event
    assert len(h.clock.from_threads) == 1
    h.pump()
    h.send(*[unknown_flag()] * 20, *[evaluation()] * 20)  # the context is known: counters only
    assert h.clock.from_threads == [] and len(h.processor._inbox) == 0
    payload = h.flush_and_accept()
    assert kinds(payload) == ["index", "summary"]
    features = payload[-1]["features"]
    assert features["nope"]["counters"] == [{"count": 21, "value": "z", "unknown": True}]
    assert features["flag"]["counters"] == [{"count": 21, "value": "a", "variation": 0, "version": 7}]


# -- diagnostics ----------------------------------------------------------------------------------

def test_diagnostic_init_at_start_then_periodic_statistics():
    config = Config(SDK_KEY, diagnostic_recording_interval=60, events_max_pending=2)
    h = Harness(config, start=False)
    diag = h.processor.diagnostics
    assert diag is not None and diag.data_since_date == NOW_MS
    h.processor.start()
    [init] = h.diagnostic()
    body = init.json
    assert body["kind"] == "diagnostic-init"
    assert body["creationDate"] == NOW_MS
    assert body["id"]["sdkKeySuffix"] == "123456"
    assert uuid.UUID(body["id"]["diagnosticId"]).version == 4
    assert body["sdk"] == {"name": "python-server-sdk", "version": VERSION, "wrapperName": None, "wrapperVersion": None}
    assert "X-LaunchDarkly-Payload-ID" not in init.headers
    init.respond(202)

    diag.record_stream_init(NOW_MS + 10, 120, False)
    h.send(*[EventInputIdentify(NOW_MS, USER)] * 4)  # 2 dropped at the input queue; 3 deduplicated
    h.pump()  # the buffer holds 2 identify events
    h.send(unknown_flag(), unknown_flag(context=OTHER), unknown_flag(context=Context.create("third")))
    h.pump()  # 1 more deduplicated (a counter only), 2 index events dropped at the full buffer
    h.clock.advance(5)  # periodic flush of 2 events; the later (empty) ones make eventsInLastBatch 0
    h.bulk()[0].respond(202)
    h.clock.advance(55)
    periodic = h.diagnostic()[1].json
    assert periodic == {
        "kind": "diagnostic", "creationDate": NOW_MS + 60_000, "id": body["id"], "dataSinceDate": NOW_MS,
        "droppedEvents": 4, "deduplicatedUsers": 4, "eventsInLastBatch": 0,
        "streamInits": [{"timestamp": NOW_MS + 10, "durationMillis": 120, "failed": False}],
    }
    h.diagnostic()[1].respond(202)
    h.clock.advance(60)
    second = h.diagnostic()[2].json
    assert (second["dataSinceDate"], second["droppedEvents"], second["deduplicatedUsers"], second["streamInits"]) == (
        NOW_MS + 60_000, 0, 0, [])


def test_events_in_last_batch_counts_the_last_handed_off_payload():
    h = Harness(Config(SDK_KEY, diagnostic_recording_interval=60, flush_interval=100))
    h.send(EventInputIdentify(NOW_MS, USER), EventInputIdentify(NOW_MS, OTHER))
    h.pump()
    h.processor.flush()
    h.clock.advance(60)
    assert h.diagnostic()[-1].json["eventsInLastBatch"] == 2


@pytest.mark.parametrize("options", [{"diagnostic_opt_out": True}, {"send_events": False}, {"offline": True}])
def test_no_diagnostic_events_when_opted_out_or_not_sending(options):
    h = Harness(Config(SDK_KEY, diagnostic_recording_interval=60, **options))
    assert h.processor.diagnostics is None
    h.clock.advance(600)
    assert h.diagnostic() == []


def test_a_shared_accumulator_is_used():
    config = Config(SDK_KEY)
    acc = DiagnosticAccumulator(create_diagnostic_id(config), now=lambda: 42)
    p = EventProcessor(config, reactor=ThreadClock(), http_client=FakeHTTP(), diagnostics=acc)
    assert p.diagnostics is acc
    p2 = EventProcessor(Config(SDK_KEY, diagnostic_opt_out=True), reactor=ThreadClock(), http_client=FakeHTTP(),
                        diagnostics=acc)
    assert p2.diagnostics is None


class DescribedStore:
    def describe_configuration(self, config):
        return "Redis"


class PlainStore:
    pass


COMPARED_CONFIGS = [
    {},
    {"base_uri": "https://relay.example.com", "events_uri": "https://ev.example.com", "stream": False,
     "use_ldd": True, "all_attributes_private": True, "events_max_pending": 500, "flush_interval": 2,
     "context_keys_capacity": 50, "context_keys_flush_interval": 60, "diagnostic_recording_interval": 120,
     "poll_interval": 45, "wrapper_name": "Flask", "wrapper_version": "3.0"},
    {"stream_uri": "https://stream.example.com", "flush_interval": 0.5, "diagnostic_recording_interval": 10},
    {"feature_store": "described"},
    {"feature_store": "plain"},
    {"http": {"connect_timeout": 2.5, "read_timeout": 7, "http_proxy": "http://proxy.example.com:3128"}},
]


@pytest.mark.parametrize("options", COMPARED_CONFIGS)
def test_diagnostic_init_is_the_official_sdks_for_the_same_config(options):
    def build(module, http_class):
        kw = dict(options)
        store = kw.pop("feature_store", None)
        if store is not None:
            kw["feature_store"] = DescribedStore() if store == "described" else PlainStore()
        if "http" in kw:
            kw["http"] = http_class(**kw["http"])
        return module(SDK_KEY, **kw)

    ours_config = build(Config, HTTPConfig)
    theirs_config = build(official_config.Config, official_config.HTTPConfig)
    diagnostic_id = create_diagnostic_id(ours_config)
    theirs_id = official_diagnostics.create_diagnostic_id(theirs_config)
    assert diagnostic_id.keys() == theirs_id.keys() and diagnostic_id["sdkKeySuffix"] == theirs_id["sdkKeySuffix"]
    ours = create_diagnostic_init(NOW_MS, diagnostic_id, ours_config)
    theirs = official_diagnostics.create_diagnostic_init(NOW_MS, diagnostic_id, theirs_config)
    assert ours["sdk"].pop("version") == VERSION
    theirs["sdk"].pop("version")
    assert ours == theirs
    assert list(ours) == list(theirs) and list(ours["configuration"]) == list(theirs["configuration"])
    # the same JSON too (30000, not 30000.0), where the official SDK writes whole numbers
    assert json.loads(orjson.dumps(ours)) == json.loads(json.dumps(theirs))


def test_diagnostic_periodic_event_is_the_official_shape():
    config = Config(SDK_KEY)
    times = iter([500, 1000])
    ours = DiagnosticAccumulator({"diagnosticId": "x", "sdkKeySuffix": "123456"}, now=lambda: next(times))
    theirs = official_diagnostics._DiagnosticAccumulator({"diagnosticId": "x", "sdkKeySuffix": "123456"})
    theirs.data_since_date = 500
    for acc in (ours, theirs):
        acc.record_stream_init(600, 20, True)
        acc.record_events_in_batch(9)
    a = ours.create_event_and_reset(3, 4)
    b = theirs.create_event_and_reset(3, 4)
    b["creationDate"] = 1000
    assert a == b and list(a) == list(b)
    assert ours.data_since_date == 1000
    assert ours.create_init_event(config)["creationDate"] == 500  # when the accumulator was made


def test_os_name_for_darwin(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert diagnostics._platform()["osName"] == "MacOS"


# -- loopback: a real reactor thread and the fake LaunchDarkly service over HTTP ------------------

@pytest.fixture
def loopback():
    fake = FakeLaunchDarklyThread()
    net = ReactorThread("events-test")
    processors = []

    def make(**options):
        options.setdefault("diagnostic_opt_out", True)
        config = Config(SDK_KEY, events_uri=fake.uri, **options)
        p = EventProcessor(config, reactor=net.reactor)
        net.call(p.start)
        processors.append(p)
        return p

    try:
        yield fake, net, make
    finally:
        try:
            for p in processors:
                net.call(p.stop, timeout=STOP_TIMEOUT + 5)
        finally:
            assert net.stop()
            fake.close()


def test_loopback_payload_headers_and_body(loopback):
    fake, net, make = loopback
    p = make(wrapper_name="Twisted", application={"id": "app1"})
    p.send_event(evaluation(track=True))
    assert net.call(p.flush) is True
    p.send_event(EventInputIdentify(NOW_MS, OTHER))
    assert net.call(p.flush) is True
    first, second = fake.wait_for_event_payloads(2, "/bulk")
    assert first.method == "POST"
    assert first.header("Authorization") == SDK_KEY
    assert first.header("User-Agent") == "PythonClient/" + VERSION
    assert first.header("Content-Type") == "application/json"
    assert first.header("X-LaunchDarkly-Event-Schema") == "4"
    assert first.header("X-LaunchDarkly-Wrapper") == "Twisted"
    assert first.header("X-LaunchDarkly-Tags") == "application-id/app1"
    assert first.header("Content-Encoding") is None  # gzip is not used
    assert first.body == orjson.dumps(first.json)
    assert kinds(first.json) == ["index", "feature", "summary"]
    assert kinds(second.json) == ["identify"]
    ids = [r.header("X-LaunchDarkly-Payload-ID") for r in (first, second)]
    assert len(set(ids)) == 2 and all(uuid.UUID(i).version == 4 for i in ids)
    assert p._sender.last_known_past_time > 0  # the fake's Date header was read
    assert fake.event_payloads("/diagnostic") == []


def test_loopback_retry_after_a_500_with_the_same_payload_id(loopback):
    fake, net, make = loopback
    p = make()
    fake.queue_event_statuses(500, 202)
    p.send_event(unknown_flag())
    assert net.call(p.flush, timeout=10) is True
    failed, accepted = fake.wait_for_event_payloads(2, "/bulk")
    assert failed.fault == 500 and accepted.fault is None
    assert failed.header("X-LaunchDarkly-Payload-ID") == accepted.header("X-LaunchDarkly-Payload-ID")
    assert failed.body == accepted.body
    assert accepted.time - failed.time >= RETRY_DELAY * 0.9


def test_loopback_401_disables(loopback):
    fake, net, make = loopback
    p = make()
    fake.queue_event_statuses(401)
    p.send_event(unknown_flag())
    assert net.call(p.flush) is False
    p.send_event(unknown_flag())
    assert net.call(p.flush) is False
    assert len(fake.event_payloads("/bulk")) == 1


def test_loopback_diagnostics_and_stop(loopback):
    fake, net, make = loopback
    p = make(diagnostic_opt_out=False)
    [init] = fake.wait_for_event_payloads(1, "/diagnostic")
    assert init.json["kind"] == "diagnostic-init"
    assert init.header("X-LaunchDarkly-Event-Schema") is None
    assert init.header("X-LaunchDarkly-Payload-ID") is None
    threads = [threading.Thread(target=lambda: [p.send_event(unknown_flag()) for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert net.call(p.stop) is True
    [bulk] = fake.wait_for_event_payloads(1, "/bulk")
    assert bulk.json[-1]["features"]["nope"]["counters"][0]["count"] == 2000


def test_loopback_stop_reports_false_when_the_server_is_gone(loopback):
    fake, net, make = loopback
    p = make(http=HTTPConfig(connect_timeout=1, read_timeout=1))
    fake.close()  # connection refused from now on
    p.send_event(unknown_flag())
    assert net.call(p.stop, timeout=STOP_TIMEOUT + 5) is False


def test_loopback_gzip_with_enable_event_compression(loopback):
    fake, net, make = loopback
    p = make(enable_event_compression=True)
    p.send_event(EventInputIdentify(NOW_MS, USER))
    assert net.call(p.flush) is True
    [req] = fake.wait_for_event_payloads(1, "/bulk")
    assert req.header("Content-Encoding") == "gzip"
    assert kinds(req.json) == ["identify"]  # the fake gunzipped it
