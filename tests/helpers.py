"""Test helpers: clients over in-memory data."""
from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator, Optional

import ldfast
from ldfast.versioned_data_kind import FEATURES, SEGMENTS


class StaticDataSource:
    """A data source that stores a fixed data set when started."""

    def __init__(self, store: Any, ready: threading.Event, flags: dict, segments: dict):
        self._store = store
        self._ready = ready
        self._data = {FEATURES: flags, SEGMENTS: segments}
        self._initialized = False

    def start(self) -> None:
        self._store.init(self._data)
        self._initialized = True
        self._ready.set()

    def stop(self) -> None:
        pass

    def initialized(self) -> bool:
        return self._initialized

    def is_alive(self) -> bool:
        return False


def static_source(flags: dict, segments: Optional[dict] = None):
    def factory(config: Any, store: Any, ready: threading.Event) -> StaticDataSource:
        return StaticDataSource(store, ready, flags, segments or {})

    return factory


def local_client(flags: dict, segments: Optional[dict] = None, **config: Any) -> ldfast.LDClient:
    """An ldfast client whose store holds these raw flags and segments (keyed by key), events off."""
    cfg = ldfast.Config("sdk-key", update_processor_class=static_source(flags, segments),
                        send_events=False, **config)
    return ldfast.LDClient(config=cfg, start_wait=5)


@contextlib.contextmanager
def quiet_sdk_logs() -> Iterator[None]:
    """Silence both SDKs' loggers (the official SDK logs an error for every MALFORMED_FLAG
    evaluation and a warning for every invalid context: thousands of lines of noise)."""
    loggers = [logging.getLogger(name) for name in ("ldclient", "ldfast")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved):
            lg.setLevel(level)


def in_forked_child(fn: Any) -> "tuple[int, str]":
    """Run ``fn()`` in a forked child; (its exit code, what it returned as text). The child exits
    1 when ``fn`` returns None or raises, else 0; the parent waits for it."""
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            answer = fn()
            if answer is not None:
                os.write(write_end, str(answer).encode())
                code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read_end, 100).decode()
    os.close(read_end)
    return os.WEXITSTATUS(status), answer
