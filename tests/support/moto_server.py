"""A real DynamoDB-compatible server (moto in server mode) on a free loopback port, for tests.

``MotoServer().start()`` runs ``python -m moto.server`` as a child process and waits until it
answers; ``stop()`` then ``start()`` again on the same port simulates an outage. moto keeps its
data in memory: a restarted server is empty, and the tables named in ``tables`` are created again
(the "database lost its data" case). Credentials and region are dummies, passed explicitly
(``dynamodb_opts``), so nothing reads the environment's AWS configuration.
"""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, List, Optional

from tests.support.processes import free_port, stop_process, wait_until_answers

REGION = "us-east-1"


class MotoServer:
    """One moto server process; see the module docstring."""

    def __init__(self, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.tables: List[str] = []
        self._proc: Optional[subprocess.Popen] = None  # type: ignore[type-arg]

    @property
    def endpoint_url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    @property
    def dynamodb_opts(self) -> Dict[str, Any]:
        """``dynamodb_opts`` for ldfast's and the official SDK's stores (and ``client()``)."""
        return {"endpoint_url": self.endpoint_url, "region_name": REGION,
                "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client("dynamodb", **self.dynamodb_opts)

    def create_table(self, name: str) -> str:
        """Create a table in the layout the SDKs use (kept across restarts); returns its name."""
        self.client().create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "namespace", "KeyType": "HASH"},
                       {"AttributeName": "key", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "namespace", "AttributeType": "S"},
                                  {"AttributeName": "key", "AttributeType": "S"}])
        if name not in self.tables:
            self.tables.append(name)
        return name

    def start(self, timeout: float = 60.0) -> "MotoServer":
        if self._proc is not None and self._proc.poll() is None:
            return self
        self._proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_answers(self._proc, self.port, b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", b"HTTP/",
                           "moto server", timeout)
        for name in list(self.tables):
            self.create_table(name)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        stop_process(proc, 10.0)

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
