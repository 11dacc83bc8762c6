"""The data sources' default HTTP client: treq on an Agent whose every timer is the given reactor."""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def default_http_client(reactor: Any, config: Any, tls_policy: Any = None) -> Any:
    """A treq client on ``reactor`` (no proxy or custom TLS settings; see the warning below)."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool

    http = config.http
    if http.http_proxy or http.ca_certs or http.cert_file or http.disable_ssl_verification:
        log.warning("The default stream HTTP client does not apply http_proxy, ca_certs, cert_file or "
                    "disable_ssl_verification; pass an http_client configured for them")
    endpoints = _EndpointFactory(reactor, http.connect_timeout, tls_policy or BrowserLikePolicyForHTTPS())
    pool = HTTPConnectionPool(reactor, persistent=False)
    agent = Agent.usingEndpointFactory(reactor, endpoints, pool=pool)
    return _ReactorBoundClient(HTTPClient(agent), reactor)


class _EndpointFactory:
    """Twisted's Agent endpoints, with TLS timed by *our* reactor.

    ``Agent`` wraps TLS without a clock, so TLS falls back to the global reactor to schedule its
    writes; on a reactor of our own (the global one never runs) a TLS handshake would never finish.
    """

    def __init__(self, reactor: Any, connect_timeout: float, policy: Any):
        self._reactor = reactor
        self._timeout = connect_timeout
        self._policy = policy

    def endpointForURI(self, uri: Any) -> Any:
        from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
        from twisted.web.error import SchemeNotSupported

        endpoint = HostnameEndpoint(self._reactor, uri.host.decode("ascii"), uri.port, timeout=self._timeout)
        if uri.scheme == b"http":
            return endpoint
        if uri.scheme == b"https":
            creator = self._policy.creatorForNetloc(uri.host, uri.port)
            try:
                return wrapClientTLS(creator, endpoint, clock=self._reactor)
            except TypeError:  # Twisted before 24.7: no clock parameter, and no deferred TLS writes
                return wrapClientTLS(creator, endpoint)
        raise SchemeNotSupported("Unsupported scheme: %r" % (uri.scheme,))


class _ReactorBoundClient:
    """A treq HTTPClient whose requests name our reactor: without ``reactor=``, treq imports (and so
    installs) the global reactor, and an application could then no longer install the one it wants."""

    def __init__(self, client: Any, reactor: Any):
        self._client = client
        self._reactor = reactor

    def get(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("reactor", self._reactor)
        return self._client.get(url, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("reactor", self._reactor)
        return self._client.request(method, url, **kwargs)


__all__ = ("default_http_client",)
