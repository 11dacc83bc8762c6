"""What the test servers (redis-server, moto) share: a free loopback port, waiting until a child
process answers on it, and stopping it."""
from __future__ import annotations

import socket
import subprocess
import time
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_answers(proc: "subprocess.Popen[Any]", port: int, probe: bytes, reply: bytes, name: str,
                       timeout: float) -> None:
    """Send ``probe`` to ``port`` until the answer starts with ``reply`` (the server is up); raise
    if ``proc`` exits or ``timeout`` s pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (name, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(probe)
                if s.recv(64).startswith(reply):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError("%s did not answer on port %d" % (name, port))


def stop_process(proc: "subprocess.Popen[Any]", timeout: float = 5.0) -> None:
    """Terminate ``proc`` (kill it if it does not exit within ``timeout`` s) and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
