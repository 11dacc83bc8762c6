"""Tests for the file data source (ldfast.integrations.Files), alone and through ldfast.LDClient."""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from ldfast.integrations import Files
from ldfast.integrations import _files

WAIT = 10.0  # upper bound for anything a test waits for
LOGGER = "ldfast.integrations._files"

FLAG_JSON = {
    "key": "flag1",
    "on": True,
    "variations": ["fall", "off", "match"],
    "fallthrough": {"variation": 0},
    "offVariation": 1,
    "salt": "s",
    "rules": [{"id": "r0", "variation": 2,
               "clauses": [{"attribute": "name", "op": "in", "values": ["Lucy"], "negate": False}]}],
}
SEGMENT_JSON = {"key": "seg1", "included": ["u1"], "salt": "x"}

JSON_DATA = {
    "flags": {"ignored-map-key": FLAG_JSON},
    "flagValues": {"flag2": "value2", "flag3": {"nested": [1, True]}},
    "segments": {"also-ignored": SEGMENT_JSON},
}

YAML_DATA = """
---
flags:
  flag1:
    key: flag1
    "on": true
    variations: [fall, "off", match]
    fallthrough:
      variation: 0
    offVariation: 1
    salt: s
    rules:
      - id: r0
        variation: 2
        clauses:
          - attribute: name
            op: in
            values: [Lucy]
            negate: false
flagValues:
  flag2: value2
  flag3:
    nested: [1, true]
segments:
  seg1:
    key: seg1
    included: [u1]
    salt: x
"""

EXPECTED_FLAGS = {
    "flag1": dict(FLAG_JSON, version=1),
    "flag2": {"key": "flag2", "version": 1, "on": True, "fallthrough": {"variation": 0}, "variations": ["value2"]},
    "flag3": {"key": "flag3", "version": 1, "on": True, "fallthrough": {"variation": 0},
              "variations": [{"nested": [1, True]}]},
}
EXPECTED_SEGMENTS = {"seg1": dict(SEGMENT_JSON, version=1)}


class RecordingStore:
    """A feature store stand-in: keeps the last init, and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.flags: Dict[str, dict] = {}
        self.segments: Dict[str, dict] = {}
        self.init_count = 0
        self._cond = threading.Condition()

    def init(self, all_data: Any) -> None:
        by_ns = {kind.namespace: dict(items) for kind, items in all_data.items()}
        with self._cond:
            self.flags = by_ns.get("features", {})
            self.segments = by_ns.get("segments", {})
            self.init_count += 1
            self._cond.notify_all()

    def upsert(self, kind: Any, item: dict) -> None:  # pragma: no cover - file sources only init
        raise AssertionError("a file data source never upserts")

    def wait_for(self, predicate: Callable[["RecordingStore"], bool], timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data))


def write_text(path: Path, text: str) -> Path:
    # Replace the file in one step so a polling reader never sees it half written.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def start_source(paths: Any, **kwargs: Any) -> tuple:
    store, ready = RecordingStore(), threading.Event()
    source = Files.new_data_source(paths, **kwargs)(None, store, ready)
    source.start()
    return source, store, ready


@pytest.fixture
def sources() -> Iterator[List[Any]]:
    """Data sources a test started; each is stopped at the end of the test."""
    started: List[Any] = []
    yield started
    for source in started:
        source.stop()


def poll_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ldfast.files.poll"]


def error_messages(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]


# -- loading ---------------------------------------------------------------------------------


def test_loads_json_flags_flag_values_and_segments(tmp_path: Path) -> None:
    source, store, ready = start_source(str(write_json(tmp_path / "data.json", JSON_DATA)))
    assert ready.is_set()
    assert source.initialized()
    assert store.flags == EXPECTED_FLAGS
    assert store.segments == EXPECTED_SEGMENTS


def test_loads_yaml(tmp_path: Path) -> None:
    source, store, _ = start_source(write_text(tmp_path / "data.yml", YAML_DATA))
    assert source.initialized()
    assert store.flags == EXPECTED_FLAGS
    assert store.segments == EXPECTED_SEGMENTS


def test_explicit_version_is_kept(tmp_path: Path) -> None:
    data = {"flags": {"f": {"key": "f", "version": 7}}, "segments": {"s": {"key": "s", "version": 3}}}
    _, store, _ = start_source(str(write_json(tmp_path / "v.json", data)))
    assert store.flags["f"]["version"] == 7
    assert store.segments["s"]["version"] == 3


def test_merges_several_files(tmp_path: Path) -> None:
    a = write_json(tmp_path / "a.json", {"flags": {"x": FLAG_JSON}})
    b = write_text(tmp_path / "b.yaml", "flagValues:\n  flag2: value2\nsegments:\n  s: {key: seg1, included: [u1], salt: x}\n")
    c = write_json(tmp_path / "c.json", {"flagValues": {"flag3": {"nested": [1, True]}}})
    source, store, _ = start_source([str(a), b, str(c)])
    assert source.initialized()
    assert store.flags == EXPECTED_FLAGS
    assert store.segments == EXPECTED_SEGMENTS


def test_json_only_without_pyyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(_files, "_yaml", None)
    source, store, _ = start_source(str(write_json(tmp_path / "data.json", JSON_DATA)))
    assert source.initialized() and store.flags == EXPECTED_FLAGS
    source, store, _ = start_source(str(write_text(tmp_path / "data.yml", YAML_DATA)))
    assert not source.initialized() and store.init_count == 0
    assert any("data.yml" in m and "invalid JSON at line 2, column 1" in m for m in error_messages(caplog))


def test_same_data_as_official_file_source(tmp_path: Path) -> None:
    from ldclient.impl.integrations.files.file_data_source import _FileDataSource

    a = write_json(tmp_path / "a.json", JSON_DATA)
    b = write_text(tmp_path / "b.yml", "flagValues:\n  other: [1, 2]\nflags:\n  k: {key: fk, version: 4}\n")
    official_store = RecordingStore()
    _FileDataSource(official_store, None, threading.Event(), [str(a), str(b)], False, 1, False).start()
    _, store, _ = start_source([str(a), str(b)])
    assert json.dumps(store.flags, sort_keys=True) == json.dumps(official_store.flags, sort_keys=True)
    assert json.dumps(store.segments, sort_keys=True) == json.dumps(official_store.segments, sort_keys=True)


# -- errors: nothing is loaded, one error names the file and the problem ----------------------

DUPLICATE_CASES = {
    "flags across files": (
        [{"flags": {"a": {"key": "dup"}}}, {"flags": {"b": {"key": "dup"}}}], 'In features, key "dup" was used more than once'),
    "flags in one file": (
        [{"flags": {"a": {"key": "dup"}, "b": {"key": "dup"}}}], 'In features, key "dup" was used more than once'),
    "flags and flagValues": (
        [{"flags": {"a": {"key": "dup"}}, "flagValues": {"dup": 1}}], 'In features, key "dup" was used more than once'),
    "flagValues across files": (
        [{"flagValues": {"dup": 1}}, {"flagValues": {"dup": 2}}], 'In features, key "dup" was used more than once'),
    "segments across files": (
        [{"segments": {"a": {"key": "sdup"}}}, {"segments": {"a": {"key": "sdup"}}}],
        'In segments, key "sdup" was used more than once'),
}


@pytest.mark.parametrize("case", sorted(DUPLICATE_CASES))
def test_duplicate_keys_load_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str) -> None:
    contents, message = DUPLICATE_CASES[case]
    good = write_json(tmp_path / "good.json", {"flagValues": {"fine": True}})
    paths = [str(good)] + [str(write_json(tmp_path / ("f%d.json" % i), c)) for i, c in enumerate(contents)]
    source, store, ready = start_source(paths)
    assert ready.is_set()
    assert not source.initialized()
    assert store.init_count == 0
    errors = error_messages(caplog)
    assert len(errors) == 1
    assert message in errors[0]
    assert paths[-1] in errors[0]


def test_flag_and_segment_may_share_a_key(tmp_path: Path) -> None:
    data = {"flagValues": {"same": 1}, "segments": {"x": {"key": "same"}}}
    source, store, _ = start_source(str(write_json(tmp_path / "d.json", data)))
    assert source.initialized() and set(store.flags) == {"same"} and set(store.segments) == {"same"}


BAD_FILES = {
    "bad json": ("bad.json", '{"flagValues": {"a": 1,}', "invalid syntax at line 1, column 25"),
    "bad yaml": ("bad.yml", "flagValues:\n  a: [1, 2\n  b: 3\n", "invalid syntax at line 3, column 4"),
    "tab in yaml": ("tab.yml", "flagValues:\n\ta: 1\n", "invalid syntax at line 2, column 1"),
    "empty": ("empty.json", "", "not nothing (empty or null)"),
    "list at top": ("list.json", "[1, 2]", "not a list"),
    "section not an object": ("sec.json", '{"flags": [1]}', '"flags" must be an object'),
    "null section": ("null.yml", "flagValues:\n", '"flagValues" must be an object'),
    "item not an object": ("item.json", '{"segments": {"s": "text"}}', 'every item in "segments" must be an object'),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_loads_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str) -> None:
    name, text, expected = BAD_FILES[case]
    good = write_json(tmp_path / "good.json", JSON_DATA)
    bad = write_text(tmp_path / name, text)
    source, store, ready = start_source([str(good), str(bad)])
    assert ready.is_set()
    assert not source.initialized()
    assert store.init_count == 0
    errors = error_messages(caplog)
    assert len(errors) == 1
    assert str(bad) in errors[0] and expected in errors[0]
    # one line, and the file's content is not quoted
    assert "\n" not in errors[0]
    assert not [line for line in text.splitlines() if len(line.strip()) > 3 and line.strip() in errors[0]]


def test_missing_file_loads_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = write_json(tmp_path / "good.json", JSON_DATA)
    missing = tmp_path / "nope.json"
    source, store, ready = start_source([str(good), str(missing)])
    assert ready.is_set() and not source.initialized() and store.init_count == 0
    errors = error_messages(caplog)
    assert len(errors) == 1
    assert str(missing) in errors[0] and "No such file" in errors[0]


def test_failed_reload_keeps_previous_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_json(tmp_path / "d.json", JSON_DATA)
    source, store, _ = start_source(str(path))
    assert store.init_count == 1
    write_json(path, {"flagValues": {"flag1": 1}, "flags": {"x": {"key": "flag1"}}})
    assert source.reload() is False
    assert store.init_count == 1 and store.flags == EXPECTED_FLAGS
    assert source.initialized()
    path.unlink()
    assert source.reload() is False
    assert store.flags == EXPECTED_FLAGS
    assert len(error_messages(caplog)) == 2


def test_item_without_key_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = {"flags": {"nokey": {"on": True}}, "flagValues": {"ok": 1}}
    source, store, _ = start_source(str(write_json(tmp_path / "d.json", data)))
    assert source.initialized() and set(store.flags) == {"ok"}
    assert any("no \"key\"" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_store_failure_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenStore(RecordingStore):
        def init(self, all_data: Any) -> None:
            raise RuntimeError("disk on fire")

    ready = threading.Event()
    source = Files.new_data_source(str(write_json(tmp_path / "d.json", JSON_DATA)))(None, BrokenStore(), ready)
    source.start()
    assert ready.is_set() and not source.initialized()
    assert any("disk on fire" in m for m in error_messages(caplog))


def test_factory_accepts_single_path_or_pathlike(tmp_path: Path) -> None:
    path = write_json(tmp_path / "d.json", JSON_DATA)
    for arg in (str(path), path, [path]):
        source, store, _ = start_source(arg)
        assert source.initialized() and store.flags == EXPECTED_FLAGS
    assert "d.json" in repr(Files.new_data_source(path))


# -- auto update -----------------------------------------------------------------------------


def test_polling_picks_up_rewritten_file(tmp_path: Path, sources: List[Any]) -> None:
    path = write_json(tmp_path / "d.json", {"flagValues": {"f": "one"}})
    source, store, _ = start_source(str(path), auto_update=True, poll_interval=0.05, force_polling=True)
    sources.append(source)
    assert store.flags["f"]["variations"] == ["one"]
    write_json(path, {"flagValues": {"f": "two"}, "segments": {"s": {"key": "s"}}})
    assert store.wait_for(lambda s: s.flags.get("f", {}).get("variations") == ["two"])
    assert set(store.segments) == {"s"}


def test_polling_survives_a_bad_rewrite_and_loads_the_fix(tmp_path: Path, sources: List[Any],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = write_json(tmp_path / "d.json", {"flagValues": {"f": "one"}})
    source, store, _ = start_source(str(path), auto_update=True, poll_interval=0.05, force_polling=True)
    sources.append(source)
    write_text(path, "{ this is not json")
    deadline = time.monotonic() + WAIT
    while not error_messages(caplog) and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert error_messages(caplog), "the bad rewrite was never noticed"
    assert store.flags["f"]["variations"] == ["one"] and store.init_count == 1
    write_json(path, {"flagValues": {"f": "three"}})
    assert store.wait_for(lambda s: s.flags.get("f", {}).get("variations") == ["three"])


def test_polling_loads_a_file_created_later(tmp_path: Path, sources: List[Any]) -> None:
    path = tmp_path / "later.json"
    source, store, ready = start_source(str(path), auto_update=True, poll_interval=0.05, force_polling=True)
    sources.append(source)
    assert ready.is_set() and not source.initialized()
    write_json(path, {"flagValues": {"f": 1}})
    assert store.wait_for(lambda s: "f" in s.flags)
    assert source.initialized()


def test_stop_ends_the_polling_thread(tmp_path: Path) -> None:
    before = set(poll_threads())
    path = write_json(tmp_path / "d.json", JSON_DATA)
    source, _, _ = start_source(str(path), auto_update=True, poll_interval=0.05, force_polling=True)
    ours = [t for t in poll_threads() if t not in before]
    assert len(ours) == 1 and ours[0].daemon
    source.stop()
    assert not ours[0].is_alive()
    assert not source.is_alive()


def test_no_thread_without_auto_update(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    source, _, _ = start_source(str(write_json(tmp_path / "d.json", JSON_DATA)))
    assert set(threading.enumerate()) <= before
    source.stop()


# -- watchdog (a fake module standing in for the optional package) -----------------------------


class FakeObserver:
    instances: List["FakeObserver"] = []

    def __init__(self) -> None:
        self.scheduled: List[tuple] = []
        self.started = self.stopped = self.joined = False
        FakeObserver.instances.append(self)

    def schedule(self, handler: Any, path: str) -> None:
        self.scheduled.append((handler, path))

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def join(self, timeout: Optional[float] = None) -> None:
        self.joined = True

    def fire(self, src_path: str, dest_path: Optional[str] = None) -> None:
        event = types.SimpleNamespace(src_path=src_path, dest_path=dest_path)
        for handler, _ in self.scheduled:
            handler.on_any_event(event)


@pytest.fixture
def fake_watchdog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    package = types.ModuleType("watchdog")
    events = types.ModuleType("watchdog.events")
    observers = types.ModuleType("watchdog.observers")

    class FileSystemEventHandler:
        def on_any_event(self, event: Any) -> None:
            pass

    events.FileSystemEventHandler = FileSystemEventHandler  # type: ignore[attr-defined]
    observers.Observer = FakeObserver  # type: ignore[attr-defined]
    package.events = events  # type: ignore[attr-defined]
    package.observers = observers  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "watchdog", package)
    monkeypatch.setitem(sys.modules, "watchdog.events", events)
    monkeypatch.setitem(sys.modules, "watchdog.observers", observers)
    FakeObserver.instances.clear()
    yield
    FakeObserver.instances.clear()


def test_uses_watchdog_when_installed(tmp_path: Path, fake_watchdog: None) -> None:
    path = write_json(tmp_path / "d.json", {"flagValues": {"f": "one"}})
    before = set(poll_threads())
    source, store, _ = start_source(str(path), auto_update=True, poll_interval=0.05)
    try:
        assert set(poll_threads()) <= before
        (observer,) = FakeObserver.instances
        assert observer.started
        assert [p for _, p in observer.scheduled] == [os.path.realpath(str(tmp_path))]
        write_json(path, {"flagValues": {"f": "two"}})
        observer.fire(os.path.realpath(str(tmp_path / "unrelated.json")))
        assert store.init_count == 1
        observer.fire(os.path.realpath(str(path)))
        assert store.flags["f"]["variations"] == ["two"]
        # an editor that writes a temp file and renames it over ours
        write_json(path, {"flagValues": {"f": "three"}})
        observer.fire(os.path.realpath(str(tmp_path / "x.tmp")), os.path.realpath(str(path)))
        assert store.flags["f"]["variations"] == ["three"]
    finally:
        source.stop()
    assert observer.stopped and observer.joined


def test_force_polling_ignores_watchdog(tmp_path: Path, fake_watchdog: None, sources: List[Any]) -> None:
    path = write_json(tmp_path / "d.json", {"flagValues": {"f": "one"}})
    source, store, _ = start_source(str(path), auto_update=True, poll_interval=0.05, force_polling=True)
    sources.append(source)
    assert FakeObserver.instances == []
    write_json(path, {"flagValues": {"f": "two"}})
    assert store.wait_for(lambda s: s.flags.get("f", {}).get("variations") == ["two"])


# -- end to end, through ldfast.LDClient ----------------------------------------------------


def make_client(*paths: Any, **kwargs: Any) -> Any:
    import ldfast

    config = ldfast.Config("sdk-key", update_processor_class=Files.new_data_source(list(paths), **kwargs),
                           send_events=False)
    return ldfast.LDClient(config=config, start_wait=5)


def test_client_evaluates_file_flags_like_official(tmp_path: Path) -> None:
    import ldclient
    from ldclient.integrations import Files as OfficialFiles

    import ldfast

    path = str(write_text(tmp_path / "d.yml", YAML_DATA))
    client = make_client(path)
    official = ldclient.LDClient(
        config=ldclient.Config("sdk-key", update_processor_class=OfficialFiles.new_data_source([path]),
                               send_events=False),
        start_wait=5,
    )
    try:
        assert client.is_initialized()
        for spec in ({"kind": "user", "key": "u1", "name": "Lucy"}, {"kind": "user", "key": "u2"}):
            ctx, off_ctx = ldfast.Context.from_dict(spec), ldclient.Context.from_dict(spec)
            for key in ("flag1", "flag2", "flag3", "missing"):
                got = client.variation_detail(key, ctx, "default")
                want = official.variation_detail(key, off_ctx, "default")
                assert (json.dumps(got.value), got.variation_index, got.reason) == (
                    json.dumps(want.value), want.variation_index, want.reason), (key, spec)
        assert client.variation("flag1", ldfast.Context.create("x"), None) == "fall"
        assert client.variation("flag1", ldfast.Context.builder("x").name("Lucy").build(), None) == "match"
        assert client.all_flags_state(ldfast.Context.create("x")).to_json_dict()["flag2"] == "value2"
    finally:
        client.close()
        official.close()


def test_client_not_initialized_when_nothing_loaded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import ldfast

    client = make_client(str(tmp_path / "missing.json"))
    try:
        assert not client.is_initialized()
        assert client.variation("flag2", ldfast.Context.create("u"), "default") == "default"
    finally:
        client.close()
    assert any("missing.json" in m for m in error_messages(caplog))


def test_client_sees_auto_update_and_close_ends_thread(tmp_path: Path) -> None:
    import ldfast

    path = write_json(tmp_path / "d.json", {"flagValues": {"f": "one"}})
    before = set(poll_threads())
    client = make_client(str(path), auto_update=True, poll_interval=0.05, force_polling=True)
    ctx = ldfast.Context.create("u")
    try:
        ours = [t for t in poll_threads() if t not in before]
        assert len(ours) == 1
        assert client.variation("f", ctx, None) == "one"
        write_json(path, {"flagValues": {"f": "two"}})
        deadline = time.monotonic() + WAIT
        while client.variation("f", ctx, None) != "two" and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        assert client.variation("f", ctx, None) == "two"
    finally:
        client.close()
    assert not ours[0].is_alive()
