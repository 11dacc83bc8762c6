"""HTTP for the data sources: a treq client on a reactor with a connection pool.

TLS is verified against the platform's trust roots (Twisted's browser-like policy) and
``connect_timeout`` applies to every connection. Not supported yet: ``ca_certs``,
``disable_ssl_verification`` and ``http_proxy`` (each logs an error once, naming the option, and is
otherwise ignored: verification stays on, connections go direct).
"""
from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def make_http_client(reactor: Any, config: Any, persistent: bool = True) -> Any:
    """A treq HTTPClient for ``config`` on ``reactor``."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent, HTTPConnectionPool

    http = config.http
    for name, value in (("ca_certs", http.ca_certs), ("disable_ssl_verification", http.disable_ssl_verification),
                        ("http_proxy", http.http_proxy or os.environ.get("HTTP_PROXY"))):
        if value:
            log.error("HTTPConfig(%s=...) is not supported by this ldfast release and is ignored "
                      "(TLS stays verified, connections go direct)", name)
    pool = HTTPConnectionPool(reactor, persistent=persistent)
    pool.maxPersistentPerHost = 4
    return HTTPClient(Agent(reactor, connectTimeout=http.connect_timeout, pool=pool))
