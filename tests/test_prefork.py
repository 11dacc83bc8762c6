"""The sync LDClient under real pre-forking WSGI servers: gunicorn (--preload, 2 workers) and uWSGI
(--master --processes 2, with and without --enable-threads and --lazy-apps).

The app (tests/support/wsgi_app.py) creates its client at import time and does nothing after fork.
In every worker, flag values must follow an update pushed over the stream and the worker's events
must reach the capture server; stopping the server must not hang on ``close()``.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support.fake_ld import FakeLaunchDarklyThread

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def _flag(version, value):
    return {"key": "live", "version": version, "on": True, "variations": ["default", value],
            "fallthrough": {"variation": 1}, "offVariation": 0, "trackEvents": True}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args, fake, tmp_path, name, **env_vars):
        self.port = _free_port()
        self.log_path = tmp_path / ("%s.log" % name)
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, LDFAST_TEST_URI=fake.uri, PYTHONPATH=ROOT, **env_vars)
        args = [a.replace("{port}", str(self.port)) for a in args]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def get(self, path, timeout=5.0):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout) as r:
            return json.loads(r.read())

    def wait_up(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited (%s):\n%s" % (self.proc.returncode, self.log()))
            try:
                return self.get("/flag", timeout=2)
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not answer:\n" + self.log())

    def until(self, predicate, what, timeout=20.0):
        """Requests /flag until ``predicate(answers_by_pid)`` holds; returns the latest answer per pid."""
        seen = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                answer = self.get("/flag")
            except OSError:
                time.sleep(0.05)
                continue
            seen[answer["pid"]] = answer
            if predicate(seen):
                return seen
        raise AssertionError("%s: not within %ss; last answers %r\n%s" % (what, timeout, seen, self.log()))

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig, timeout=20.0):
        """Stops the server; returns how long it took (fails if it hangs).

        Waits first until the server has finished starting: a uWSGI master loses a SIGTERM sent
        within about a second of its workers starting (reproduced with a plain WSGI app and no
        ldfast: 4 hangs in 8 runs), which is not what these tests are about.
        """
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "uWSGI" in self.log() and "spawned uWSGI worker 2" not in self.log():
            time.sleep(0.05)
        time.sleep(1.0)
        start = time.monotonic()
        try:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            raise AssertionError("the server did not stop within %ss:\n%s" % (timeout, self.log()))
        finally:
            self._log.close()
        return time.monotonic() - start

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        if not self._log.closed:
            self._log.close()


def _exercise(server, fake, update=None):
    """Both workers serve v1, follow an update to v2 (pushed over the stream, or ``update()``), and
    deliver their events."""
    server.wait_up()
    workers = server.until(lambda seen: len(seen) >= 2, "two workers answering")
    # the data in memory at fork is served at once (a worker's own stream may still be connecting)
    assert all(a["value"] == "v1" for a in workers.values()), workers
    assert len(workers) == 2
    server.until(lambda seen: len(seen) >= 2 and all(a["initialized"] for a in seen.values()),
                 "every worker's own stream connected")
    if update is None:
        fake.patch("flags", _flag(2, "v2"))
    else:
        update()
    server.until(lambda seen: len(seen) >= 2 and all(a["value"] == "v2" for a in seen.values()),
                 "every worker following the streamed update")

    def keys():
        return {e.get("context", {}).get("key") for p in fake.event_payloads("/bulk") for e in p.json}

    deadline = time.monotonic() + 20
    wanted = {"worker-%d" % pid for pid in workers}
    while not wanted <= keys() and time.monotonic() < deadline:
        server.get("/flush")
        time.sleep(0.2)
    assert wanted <= keys(), (wanted, keys(), server.log())
    return workers


@pytest.fixture
def fake():
    with FakeLaunchDarklyThread({"live": _flag(1, "v1")}) as fake:
        yield fake


def serve_and_stop(server, fake):
    """Exercise a pre-forking server (flags live in every worker, events delivered), then SIGTERM:
    it stops cleanly within its graceful timeout."""
    try:
        _exercise(server, fake)
        took = server.stop(signal.SIGTERM)
        assert took < 15, took
        assert server.proc.returncode == 0, server.log()
    finally:
        server.kill()


def test_gunicorn_preload_two_workers(fake, tmp_path):
    serve_and_stop(Server([os.path.join(BIN, "gunicorn"), "--preload", "-w", "2", "-b", "127.0.0.1:{port}",
                           "--graceful-timeout", "30", "tests.support.wsgi_app:application"], fake, tmp_path,
                          "gunicorn"), fake)


UWSGI = [os.path.join(BIN, "uwsgi"), "--http-socket", "127.0.0.1:{port}", "--master", "--processes", "2",
         "--wsgi-file", "tests/support/wsgi_app.py", "--callable", "application", "--die-on-term",
         "--need-app", "--reload-mercy", "30", "--worker-reload-mercy", "30", "--disable-logging"]


@pytest.mark.parametrize("lazy", [False, True], ids=["preloaded", "lazy-apps"])
def test_uwsgi_master_two_processes_enable_threads(fake, tmp_path, lazy):
    server = Server(UWSGI + ["--enable-threads"] + (["--lazy-apps"] if lazy else []), fake, tmp_path, "uwsgi")
    try:
        _exercise(server, fake)
        assert "without the enable-threads option" not in server.log()
        took = server.stop(signal.SIGTERM)
        assert took < 15, took
    finally:
        server.kill()


@pytest.mark.parametrize("lazy", [False, True], ids=["preloaded", "lazy-apps"])
def test_uwsgi_without_enable_threads_warns_once_and_works_while_serving(fake, tmp_path, lazy):
    """Without enable-threads: one warning naming the option per process that creates a client;
    with requests flowing the workers still follow updates and deliver events (CPython 3.11 and
    uWSGI 2.0 let the thread run then), and shutdown does not hang."""
    server = Server(UWSGI + (["--lazy-apps"] if lazy else []), fake, tmp_path, "uwsgi")
    try:
        _exercise(server, fake)
        log = server.log()
        warnings = [line for line in log.splitlines() if "without the enable-threads option" in line]
        # the master (preloaded) or each worker (lazy-apps) created a client
        assert len(warnings) == (2 if lazy else 1), log
        assert "--enable-threads" in warnings[0]
        took = server.stop(signal.SIGTERM)
        assert took < 15, took
    finally:
        server.kill()


@pytest.fixture
def redis_server():
    from tests.support.redis_server import RedisServer

    with RedisServer() as server:
        yield server


@pytest.mark.parametrize("kind", ["gunicorn", "uwsgi"])
def test_daemon_mode_workers_follow_redis(fake, tmp_path, redis_server, kind):
    """A fleet through Redis under a pre-forking server: the client (daemon mode, Redis store) is
    made before the fork; each worker's store refresher is restarted by itself (uWSGI forks
    without Python's fork hooks) and follows an update another process writes to Redis."""
    from ldclient.feature_store import CacheConfig as OfficialCacheConfig
    from ldclient.integrations import Redis as OfficialRedis
    from ldclient.versioned_data_kind import FEATURES, SEGMENTS

    writer = OfficialRedis.new_feature_store(url=redis_server.url, prefix="fleet",
                                             caching=OfficialCacheConfig.disabled())
    writer.init({FEATURES: {"live": _flag(1, "v1")}, SEGMENTS: {}})
    args = ([os.path.join(BIN, "gunicorn"), "--preload", "-w", "2", "-b", "127.0.0.1:{port}",
             "tests.support.wsgi_app:application"] if kind == "gunicorn" else UWSGI + ["--enable-threads"])
    server = Server(args, fake, tmp_path, kind, LDFAST_TEST_REDIS=redis_server.url, LDFAST_TEST_PREFIX="fleet")
    try:
        _exercise(server, fake, update=lambda: writer.upsert(FEATURES, _flag(2, "v2")))
        assert fake.stream_requests == []  # daemon mode: no connection to LaunchDarkly's stream
        took = server.stop(signal.SIGTERM)
        assert took < 15, took
    finally:
        server.kill()
