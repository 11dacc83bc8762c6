"""A real ``redis-server`` on a free loopback port, for tests (stop/start it to simulate outages).

``make test`` installs Debian's ``redis-server`` when it is missing; a test that needs Redis fails
(it does not skip) when the binary cannot be found.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from typing import Optional

from tests.support.processes import free_port, stop_process, wait_until_answers


def redis_server_binary() -> str:
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if path is None:
        raise RuntimeError("redis-server is not installed (make test installs Debian's redis-server)")
    return path


class RedisServer:
    """One redis-server process: ``start()``, ``stop()`` (an outage), ``start()`` again on the same port.

    No persistence (``--save '' --appendonly no``): a restart comes back empty unless ``keep_data``
    was asked for, in which case the data is dumped on stop and reloaded on start.
    """

    def __init__(self, port: Optional[int] = None, keep_data: bool = False) -> None:
        self.port = port or free_port()
        self.keep_data = keep_data
        self._dir = tempfile.mkdtemp(prefix="ldfast-redis-")
        self._proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self, timeout: float = 10.0) -> "RedisServer":
        if self._proc is not None and self._proc.poll() is None:
            return self
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self._dir, "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "no", "--loglevel", "warning"]
        args += ["--save", "1 1", "--dbfilename", "dump.rdb"] if self.keep_data else ["--save", ""]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_answers(self._proc, self.port, b"PING\r\n", b"+PONG", "redis-server", timeout)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if self.keep_data:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(b"SAVE\r\n")
                    s.recv(64)
            except OSError:
                pass
        stop_process(proc)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
