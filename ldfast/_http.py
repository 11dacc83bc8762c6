"""HTTP for the data sources: a treq client on a reactor with a connection pool, honouring HTTPConfig.

- TLS is verified by default (the platform's trust roots); ``ca_certs`` (a PEM file) replaces
  them; ``disable_ssl_verification`` turns verification off (logged as insecure).
- ``connect_timeout`` applies to every connection.
- ``http_proxy`` (or ``HTTP_PROXY``) routes ``http://`` URIs (e.g. a Relay Proxy) through an HTTP
  proxy. HTTPS through a proxy (CONNECT tunnelling) is not supported yet: that logs an error once
  and connects directly.

The endpoints are built here rather than by ``Agent``'s default factory because that one wraps TLS
with the *global* reactor as its clock (``wrapClientTLS(..., clock=None)``); on the private reactor
of the sync client, TLS writes would then wait for a reactor that never runs.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Optional
from urllib.parse import urlparse

from zope.interface import implementer

log = logging.getLogger(__name__)


def _trust_root(ca_certs: Optional[str]) -> Any:
    from twisted.internet import ssl

    if not ca_certs:
        return ssl.platformTrust()
    with open(ca_certs, "rb") as f:
        pem = f.read()
    marker = b"-----END CERTIFICATE-----"
    certs = [ssl.Certificate.loadPEM(part + marker) for part in pem.split(marker) if b"-----BEGIN" in part]
    if not certs:
        raise ValueError("ca_certs %r holds no PEM certificate" % ca_certs)
    return ssl.trustRootFromCertificates(certs)


def _make_policy(http: Any) -> Any:
    from twisted.internet import ssl
    from twisted.web.iweb import IPolicyForHTTPS

    if http.disable_ssl_verification:
        from OpenSSL import SSL
        from twisted.internet.interfaces import IOpenSSLClientConnectionCreator

        log.warning("TLS certificate verification is disabled (disable_ssl_verification=True): insecure")
        context = ssl.CertificateOptions(verify=False).getContext()

        @implementer(IOpenSSLClientConnectionCreator)
        class _Unverified:
            def __init__(self, hostname: bytes) -> None:
                self._hostname = hostname

            def clientConnectionForTLS(self, tls_protocol: Any) -> Any:
                conn = SSL.Connection(context, None)
                conn.set_app_data(tls_protocol)
                conn.set_tlsext_host_name(self._hostname)
                return conn

        @implementer(IPolicyForHTTPS)
        class _NoVerifyPolicy:
            def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
                return _Unverified(hostname)

        return _NoVerifyPolicy()

    trust = _trust_root(http.ca_certs)

    @implementer(IPolicyForHTTPS)
    class _VerifyingPolicy:
        def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
            return ssl.optionsForClientTLS(hostname.decode("idna"), trustRoot=trust)

    return _VerifyingPolicy()


def proxy_uri(http: Any) -> Optional[str]:
    return http.http_proxy or os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy") or None


def make_http_client(reactor: Any, config: Any, persistent: bool = True) -> Any:
    """A treq HTTPClient for ``config`` on ``reactor``."""
    from treq.client import HTTPClient
    from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
    from twisted.web.client import Agent, HTTPConnectionPool, ProxyAgent
    from twisted.web.error import SchemeNotSupported
    from twisted.web.iweb import IAgentEndpointFactory

    http = config.http
    pool = HTTPConnectionPool(reactor, persistent=persistent)
    pool.maxPersistentPerHost = 4
    proxy = proxy_uri(http)
    if proxy:
        targets = [config.stream_base_uri, config.base_uri, config.events_base_uri]
        if any(t.startswith("https:") for t in targets):
            log.error("http_proxy is set but HTTPS through a proxy is not supported yet: connecting directly")
        else:
            p = urlparse(proxy)
            endpoint = HostnameEndpoint(reactor, p.hostname, p.port or 80, timeout=http.connect_timeout)
            return HTTPClient(ProxyAgent(endpoint, reactor, pool=pool))
    policy = _make_policy(http)

    @implementer(IAgentEndpointFactory)
    class _Endpoints:
        def endpointForURI(self, uri: Any) -> Any:
            endpoint = HostnameEndpoint(reactor, uri.host, uri.port, timeout=http.connect_timeout)
            if uri.scheme == b"http":
                return endpoint
            if uri.scheme == b"https":
                return wrapClientTLS(policy.creatorForNetloc(uri.host, uri.port), endpoint, clock=reactor)
            raise SchemeNotSupported("Unsupported scheme: %r" % (uri.scheme,))

    return HTTPClient(Agent.usingEndpointFactory(reactor, _Endpoints(), pool=pool))
