"""Data source that reads flags and segments from local JSON or YAML files (``Files.new_data_source``).

A load merges every file into one data set and replaces the store's contents with it. Any error
in any file (missing file, bad syntax, wrong shape, a key used twice within a kind) means nothing
is loaded and the store keeps its previous data; the error is logged, never raised into the client.
With ``auto_update`` the files are watched (watchdog when installed and not ``force_polling``,
otherwise a daemon thread polls their modification times) and any change causes a full reload.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple, Union

from ldfast.versioned_data_kind import FEATURES, SEGMENTS, VersionedDataKind

try:  # PyYAML also parses JSON, so it is preferred when present.
    import yaml as _yaml
except ImportError:  # pragma: no cover - depends on the environment
    _yaml = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

PathArg = Union[str, "os.PathLike[str]"]
AllData = Dict[VersionedDataKind, Dict[str, Dict[str, Any]]]
# (mtime in ns, size, inode) of a file, or None when it cannot be read.
_FileSignature = Optional[Tuple[int, int, int]]


class _Store(Protocol):
    """The part of the feature store API that a data source writes to."""

    def init(self, all_data: AllData) -> None: ...


class _DataFileError(Exception):
    """A data file could not be turned into flags and segments; the message says why."""


class FileDataSource:
    """The update processor that ``Files.new_data_source`` creates for each client."""

    def __init__(
        self,
        store: _Store,
        ready: threading.Event,
        paths: Union[PathArg, Sequence[PathArg]],
        auto_update: bool = False,
        poll_interval: float = 1,
        force_polling: bool = False,
    ) -> None:
        self._store = store
        self._ready = ready
        self._paths: List[PathArg] = _as_path_list(paths)
        self._auto_update = auto_update
        self._poll_interval = poll_interval
        self._force_polling = force_polling
        self._inited = False
        self._stopped = False
        self._load_lock = threading.Lock()
        self._watcher: Optional[_Watcher] = None

    def start(self) -> None:
        """Load the files once, start watching them if asked to, then signal readiness."""
        try:
            self._load_all()
            if self._auto_update and not self._stopped:
                self._watcher = self._make_watcher()
        finally:
            # Readiness is signalled whether or not the load worked; initialized() tells them apart.
            self._ready.set()

    def stop(self) -> None:
        """Stop watching the files; the watcher thread has ended when this returns."""
        self._stopped = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def initialized(self) -> bool:
        """True once some load has succeeded."""
        return self._inited

    def is_alive(self) -> bool:
        """True until ``stop()`` is called."""
        return not self._stopped

    def reload(self) -> bool:
        """Load all files again now; True if the store was updated."""
        return self._load_all()

    # -- loading --------------------------------------------------------------------------------

    def _load_all(self) -> bool:
        with self._load_lock:
            all_data: AllData = {FEATURES: {}, SEGMENTS: {}}
            for path in self._paths:
                try:
                    _load_file(path, all_data)
                except (OSError, UnicodeDecodeError) as e:
                    log.error('Unable to load flag data from "%s": %s', os.fspath(path), _describe_os_error(e))
                    return False
                except _DataFileError as e:
                    log.error('Unable to load flag data from "%s": %s', os.fspath(path), e)
                    return False
                except Exception as e:  # bad syntax, or anything else the parser raises
                    log.error('Unable to load flag data from "%s": %s', os.fspath(path), _describe_parse_error(e))
                    log.debug("Details of the failed load of %s", os.fspath(path), exc_info=True)
                    return False
            try:
                self._store.init(all_data)
            except Exception as e:
                log.error("Unable to store data loaded from files: %s: %s", type(e).__name__, e)
                log.debug("Details of the failed store update", exc_info=True)
                return False
            self._inited = True
            log.info(
                "Loaded %s flag(s) and %s segment(s) from %s file(s)",
                len(all_data[FEATURES]), len(all_data[SEGMENTS]), len(self._paths),
            )
            return True

    # -- watching -------------------------------------------------------------------------------

    def _make_watcher(self) -> "_Watcher":
        resolved: List[str] = []
        for path in self._paths:
            try:
                resolved.append(os.path.realpath(path))
            except (OSError, ValueError, TypeError):
                log.warning('Cannot watch for changes to data file "%s" because it is an invalid path', path)
        if not self._force_polling:
            observer_factory = _watchdog_observer_factory()
            if observer_factory is not None:
                log.debug("Watching %s data file(s) with watchdog", len(resolved))
                return _WatchdogWatcher(resolved, self._reload_on_change, observer_factory)
        log.debug("Polling %s data file(s) every %s s", len(resolved), self._poll_interval)
        return _PollingWatcher(resolved, self._reload_on_change, self._poll_interval)

    def _reload_on_change(self) -> None:
        if not self._stopped:
            log.debug("A data file changed; reloading")
            self._load_all()


def _as_path_list(paths: Union[PathArg, Sequence[PathArg]]) -> List[PathArg]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [paths]
    return list(paths)


def _describe_os_error(e: Exception) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return "%s: %s" % (type(e).__name__, e)


def _describe_parse_error(e: Exception) -> str:
    """A one-line description of a parse error that does not quote the file's content."""
    if isinstance(e, json.JSONDecodeError):
        return "invalid JSON at line %d, column %d: %s" % (e.lineno, e.colno, e.msg)
    if _yaml is not None and isinstance(e, _yaml.MarkedYAMLError):
        mark = e.problem_mark
        if mark is not None:
            return "invalid syntax at line %d, column %d: %s" % (mark.line + 1, mark.column + 1, e.problem)
        return "invalid syntax: %s" % (e.problem or type(e).__name__)
    if _yaml is not None and isinstance(e, _yaml.YAMLError):
        return "invalid syntax (%s)" % type(e).__name__
    return "%s: %s" % (type(e).__name__, e)


def _parse(content: str) -> Any:
    if _yaml is not None:
        return _yaml.safe_load(content)
    return json.loads(content)


def _load_file(path: PathArg, all_data: AllData) -> None:
    with open(path, "r", encoding="utf-8") as f:
        content = f.read()
    parsed = _parse(content)
    if not isinstance(parsed, dict):
        raise _DataFileError("the file must contain an object (with flags, flagValues or segments), not %s"
                             % _type_name(parsed))
    for item in _section(parsed, "flags").values():
        _add_item(all_data, FEATURES, _full_item(item, "flags"))
    for key, value in _section(parsed, "flagValues").items():
        _add_item(all_data, FEATURES, _flag_with_value(key, value))
    for item in _section(parsed, "segments").values():
        _add_item(all_data, SEGMENTS, _full_item(item, "segments"))


def _section(parsed: Mapping[str, Any], name: str) -> Mapping[Any, Any]:
    if name not in parsed:
        return {}
    value = parsed[name]
    if not isinstance(value, dict):
        raise _DataFileError('"%s" must be an object, not %s' % (name, _type_name(value)))
    return value


def _full_item(item: Any, section: str) -> Any:
    if not isinstance(item, dict):
        raise _DataFileError('every item in "%s" must be an object, found %s' % (section, _type_name(item)))
    if "version" not in item:
        item["version"] = 1
    return item


def _flag_with_value(key: Any, value: Any) -> dict[str, Any]:
    return {"key": key, "version": 1, "on": True, "fallthrough": {"variation": 0}, "variations": [value]}


def _add_item(all_data: AllData, kind: VersionedDataKind, item: dict[str, Any]) -> None:
    key = item.get("key")
    if key is None:
        # The map key is not used in place of a missing "key" (as in the official SDK); such an
        # item could never be evaluated, so it is left out.
        log.warning("Ignoring an item in %s that has no \"key\" property", kind.namespace)
        return
    items = all_data[kind]
    if key in items:
        raise _DataFileError('In %s, key "%s" was used more than once' % (kind.namespace, key))
    items[key] = item


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (empty or null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a %s" % type(value).__name__


class _Watcher(Protocol):
    def stop(self) -> None: ...


class _PollingWatcher:
    """Polls the files' modification times on a daemon thread and reloads when one changes."""

    def __init__(self, paths: Iterable[str], on_change: Callable[[], None], interval: float) -> None:
        self._paths = list(paths)
        self._on_change = on_change
        self._interval = max(float(interval), 0.001)
        self._stop_event = threading.Event()
        self._signatures = self._read_signatures()
        self._thread = threading.Thread(target=self._run, name="ldfast.files.poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop_event.set()
        if self._thread is not threading.current_thread():
            self._thread.join(max(self._interval, 1.0) + 5.0)

    def _run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                self._poll_once()
            except Exception:  # never let the watcher thread die
                log.exception("Unexpected error while checking data files for changes")

    def _poll_once(self) -> None:
        # Signatures are read before the reload, so a write that lands during it is seen next time.
        new = self._read_signatures()
        changed = any(sig is not None and sig != self._signatures.get(path) for path, sig in new.items())
        self._signatures = new
        if changed:
            self._on_change()

    def _read_signatures(self) -> Dict[str, _FileSignature]:
        result: Dict[str, _FileSignature] = {}
        for path in self._paths:
            try:
                st = os.stat(path)
            except OSError:
                result[path] = None
            else:
                result[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
        return result


def _watchdog_observer_factory() -> Optional[Callable[[], Any]]:
    """watchdog's Observer class when watchdog is importable, else None."""
    try:
        import watchdog.events  # noqa: F401
        import watchdog.observers
    except ImportError:
        return None
    return watchdog.observers.Observer  # type: ignore[no-any-return]


class _WatchdogWatcher:
    """Reloads when watchdog reports an event on one of the files (native filesystem notifications)."""

    def __init__(self, paths: Iterable[str], on_change: Callable[[], None], observer_factory: Callable[[], Any]) -> None:
        import watchdog.events

        watched = frozenset(paths)

        class _Handler(watchdog.events.FileSystemEventHandler):  # type: ignore[misc]
            def on_any_event(self, event: Any) -> None:
                touched = {os.fsdecode(p) for p in (getattr(event, "src_path", None), getattr(event, "dest_path", None)) if p}
                if touched & watched:
                    on_change()

        self._observer = observer_factory()
        handler = _Handler()
        for directory in sorted({os.path.dirname(p) for p in watched}):
            self._observer.schedule(handler, directory)
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join()


class FileDataSourceFactory:
    """The factory that ``Files.new_data_source`` returns; the client calls it as ``(config, store, ready)``."""

    def __init__(
        self,
        paths: Union[PathArg, Sequence[PathArg]],
        auto_update: bool,
        poll_interval: float,
        force_polling: bool,
    ) -> None:
        self._paths = _as_path_list(paths)
        self._auto_update = auto_update
        self._poll_interval = poll_interval
        self._force_polling = force_polling

    def __call__(self, config: Any, store: _Store, ready: threading.Event) -> FileDataSource:
        return FileDataSource(store, ready, self._paths, self._auto_update, self._poll_interval, self._force_polling)

    def __repr__(self) -> str:
        return "Files.new_data_source(paths=%r, auto_update=%r)" % ([os.fspath(p) for p in self._paths], self._auto_update)
