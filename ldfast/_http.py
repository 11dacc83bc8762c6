"""HTTP for the data sources: a treq client on a reactor with a connection pool, honouring HTTPConfig.

- TLS is verified by default (the platform's trust roots); ``ca_certs`` (a PEM file) replaces
  them; ``disable_ssl_verification`` turns verification off (logged as insecure).
- ``connect_timeout`` applies to every connection, and to a proxy's answer to ``CONNECT``.
- Proxies. ``http_proxy`` (the config option) is used for every URI. Without it, the environment
  decides per URI scheme, as the official SDK and most HTTP clients do: ``HTTPS_PROXY`` /
  ``https_proxy`` for ``https://`` URIs, ``HTTP_PROXY`` / ``http_proxy`` for ``http://`` ones
  (e.g. a Relay Proxy), and ``NO_PROXY`` / ``no_proxy`` lists hosts that bypass those
  environment proxies (read by :func:`urllib.request.getproxies_environment`; ``NO_PROXY`` does
  not apply to the ``http_proxy`` option, as in the official SDK). The variables are read when
  the client is built.

  * ``https://`` targets go through a ``CONNECT host:port`` tunnel: a 2xx answer opens it, then
    TLS to the target runs inside it (verified against the target's name, as without a proxy).
    Any other answer, no answer within ``connect_timeout``, or a close fails the connection
    attempt with :class:`ProxyTunnelError`, whose message names the proxy and its status line.
  * ``http://`` targets are sent to the proxy as absolute-URI requests (``GET http://host/...``,
    Twisted's ``ProxyAgent``), not tunnelled: proxies commonly allow ``CONNECT`` to port 443 only.
  * ``user:password@`` in the proxy URL (percent-decoded) is sent as ``Proxy-Authorization:
    Basic ...``, on ``CONNECT`` and on proxied ``http://`` requests.
  * The proxy URL is ``http://host[:port]`` (port 80 by default; a URL without a scheme is taken
    as ``http://``) or ``https://host[:port]`` (TLS to the proxy itself, port 443 by default,
    verified with the same settings as the targets). Any other scheme (e.g. ``socks5://``) or an
    unparsable URL logs an error and is ignored: connections then go directly.

Connections use :class:`_HostEndpoint`, not Twisted's ``HostnameEndpoint``: the latter builds a
``LoopingCall`` per connection, and ``LoopingCall`` imports ``twisted.internet.reactor``, which
*installs* the global reactor as a side effect, even when everything runs on the sync client's
private reactor (an application that installs another reactor afterwards would then fail).

The endpoints are built here rather than by ``Agent``'s default factory because that one wraps TLS
with the *global* reactor as its clock (``wrapClientTLS(..., clock=None)``); on the private reactor
of the sync client, TLS writes would then wait for a reactor that never runs. The same holds inside
a tunnel: its TLS layer is a ``TLSMemoryBIOFactory`` with our reactor as the clock.
"""
from __future__ import annotations

import base64
import logging
import urllib.request
from typing import Any, Dict, Optional
from urllib.parse import unquote, urlparse

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
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


class ProxyTunnelError(Exception):
    """A proxy did not open a ``CONNECT`` tunnel: ``status`` is its HTTP status (None if it gave none)."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class _Proxy:
    """One proxy: where it is, whether to speak TLS to it, and its ``Proxy-Authorization`` value."""

    def __init__(self, host: str, port: int, secure: bool, authorization: Optional[bytes]) -> None:
        self.host = host
        self.port = port
        self.secure = secure
        self.authorization = authorization

    def __str__(self) -> str:  # never the credentials
        return "%s:%d" % (_bracket(self.host), self.port)


def _bracket(host: str) -> str:
    return "[%s]" % host if ":" in host else host


def _parse_proxy(url: str) -> Optional[_Proxy]:
    """``url`` as a proxy, or None (logged) if it is not an ``http://`` or ``https://`` URL."""
    if "://" not in url:
        url = "http://" + url
    try:
        p = urlparse(url)
        scheme = p.scheme.lower()
        port = p.port
        host = p.hostname
    except ValueError as e:
        log.error("Ignoring the HTTP proxy setting: not a valid URL (%s); connecting directly", e)
        return None
    if scheme not in ("http", "https") or not host:
        log.error("Ignoring the HTTP proxy setting: only http:// and https:// proxy URLs are supported "
                  "(got scheme %r); connecting directly", scheme)
        return None
    authorization = None
    if p.username is not None:
        credentials = "%s:%s" % (unquote(p.username), unquote(p.password or ""))
        authorization = b"Basic " + base64.b64encode(credentials.encode("utf-8"))
    secure = scheme == "https"
    return _Proxy(host, port or (443 if secure else 80), secure, authorization)


class _ProxySettings:
    """Which proxy (if any) a target uses: the ``http_proxy`` option, else the environment."""

    def __init__(self, http: Any) -> None:
        self._configured = http.http_proxy is not None and http.http_proxy != ""
        self._environment: Dict[str, str] = {}
        self._proxies: Dict[str, Optional[_Proxy]] = {}
        if self._configured:
            proxy = _parse_proxy(http.http_proxy)
            self._proxies = {"http": proxy, "https": proxy}
        else:
            self._environment = urllib.request.getproxies_environment()
            for scheme in ("http", "https"):
                url = self._environment.get(scheme)
                self._proxies[scheme] = _parse_proxy(url) if url else None

    def proxy_for(self, scheme: str, host: str, port: int) -> Optional[_Proxy]:
        proxy = self._proxies.get(scheme)
        if proxy is None or self._configured:
            return proxy
        if urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]  # real, not in typeshed
                "%s:%d" % (_bracket(host), port), self._environment):
            return None
        return proxy


def _hostname_bytes(host: str) -> bytes:
    try:
        return host.encode("idna")
    except UnicodeError:
        return host.encode("utf-8")


@implementer(IStreamClientEndpoint)
class _HostEndpoint:
    """A TCP client endpoint for a host name or address on ``reactor`` only.

    The name is resolved by the reactor's own resolver (``getaddrinfo`` in its thread pool); the
    addresses are tried one after the other, each within ``timeout`` seconds, until one connects.
    """

    def __init__(self, reactor: Any, host: Any, port: int, timeout: float):
        self._reactor = reactor
        self._host = host.decode("idna") if isinstance(host, bytes) else str(host)
        self._port = port
        self._timeout = timeout

    def connect(self, factory: Any) -> "Deferred[Any]":
        from twisted.internet import error
        from twisted.internet.abstract import isIPAddress, isIPv6Address
        from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
        from twisted.internet.interfaces import IResolutionReceiver

        host = self._host.strip("[]")
        state: Dict[str, Any] = {"attempt": None, "cancelled": False}

        def cancel(d: Deferred[Any]) -> None:
            state["cancelled"] = True
            attempt = state["attempt"]
            if attempt is not None:
                attempt.cancel()

        result: Deferred[Any] = Deferred(cancel)

        def attempt(addresses: list[Any], last_error: Any) -> None:
            if state["cancelled"] or result.called:
                return
            if not addresses:
                result.errback(last_error if last_error is not None else error.DNSLookupError(
                    "no address for %s" % host))
                return
            family, address = addresses[0]
            endpoint = (TCP6ClientEndpoint if family == 6 else TCP4ClientEndpoint)(
                self._reactor, address, self._port, timeout=self._timeout)
            d = state["attempt"] = endpoint.connect(factory)

            def failed(failure: Any) -> None:
                state["attempt"] = None
                if not state["cancelled"]:
                    attempt(addresses[1:], failure)

            def connected(protocol: Any) -> None:
                state["attempt"] = None
                if not result.called:
                    result.callback(protocol)

            d.addCallbacks(connected, failed)

        if isIPAddress(host):
            attempt([(4, host)], None)
            return result
        if isIPv6Address(host):
            attempt([(6, host)], None)
            return result
        resolver = getattr(self._reactor, "nameResolver", None)
        if resolver is None:
            result.errback(error.DNSLookupError("the reactor %r has no name resolver" % (self._reactor,)))
            return result
        found: list[Any] = []

        @implementer(IResolutionReceiver)
        class _Receiver:
            def resolutionBegan(self, resolution: Any) -> None:
                pass

            def addressResolved(self, address: Any) -> None:
                item = (6 if ":" in address.host else 4, address.host)
                if item not in found:
                    found.append(item)

            def resolutionComplete(self) -> None:
                attempt(found, error.DNSLookupError("no address for %s" % host) if not found else None)

        try:
            resolver.resolveHostName(_Receiver(), host, portNumber=self._port)
        except Exception as e:  # never raise out of connect()
            result.errback(error.DNSLookupError("cannot resolve %s: %s" % (host, e)))
        return result


def _proxy_endpoint(reactor: Any, proxy: _Proxy, policy: Any, timeout: float) -> Any:
    from twisted.internet.endpoints import wrapClientTLS

    endpoint = _HostEndpoint(reactor, proxy.host, proxy.port, timeout=timeout)
    if proxy.secure:
        creator = policy.creatorForNetloc(_hostname_bytes(proxy.host), proxy.port)
        # zope.interface's @implementer is invisible to mypy without the mypy-zope plugin
        return wrapClientTLS(creator, endpoint, clock=reactor)  # type: ignore[arg-type]
    return endpoint


class _TunnelProtocol(Protocol):
    """Asks the proxy for a tunnel, then hands the connection to TLS towards the target.

    Until the proxy has answered, bytes are parsed here as its response; once it answered 2xx, a
    ``TLSMemoryBIOProtocol`` (wrapping the HTTP protocol) is connected to this same transport and
    every later byte, and the connection's loss, is passed on to it.
    """

    MAX_RESPONSE_HEAD = 64 * 1024

    def __init__(self, attempt: "_TunnelAttempt") -> None:
        self._attempt = attempt
        self._buffer = b""
        self._tls: Any = None
        self._timer: Any = None
        self._failed = False

    def connectionMade(self) -> None:
        a = self._attempt
        self.transport.write(a.request)  # type: ignore[union-attr,call-arg,misc]  # connected: set; zope method
        self._timer = a.reactor.callLater(a.timeout, self._timed_out)
        a.protocol = self

    def dataReceived(self, data: bytes) -> None:
        if self._tls is not None:
            self._tls.dataReceived(data)
            return
        if self._failed:
            return
        self._buffer += data
        end, sep = self._buffer.find(b"\r\n\r\n"), 4
        if end < 0:
            end, sep = self._buffer.find(b"\n\n"), 2
        if end < 0:
            if len(self._buffer) > self.MAX_RESPONSE_HEAD:
                self.fail(ProxyTunnelError("proxy %s sent a response head over %d bytes to CONNECT %s"
                                           % (self._attempt.proxy, self.MAX_RESPONSE_HEAD, self._attempt.target)))
            return
        head, rest = self._buffer[:end], self._buffer[end + sep:]
        self._buffer = b""
        status_line = head.split(b"\n", 1)[0].strip().decode("latin-1")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            self.fail(ProxyTunnelError("proxy %s answered CONNECT %s with a malformed status line %r"
                                       % (self._attempt.proxy, self._attempt.target, status_line[:200])))
            return
        status = int(parts[1])
        if not 200 <= status < 300:
            self.fail(ProxyTunnelError("proxy %s refused CONNECT %s: %s"
                                       % (self._attempt.proxy, self._attempt.target, status_line[:200]), status))
            return
        self._cancel_timer()
        self._tls = self._attempt.start_tls(self.transport)
        if rest:
            self._tls.dataReceived(rest)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_timer()
        if self._tls is not None:
            self._tls.connectionLost(reason)
            return
        self._attempt.fail(ProxyTunnelError("proxy %s closed the connection before answering CONNECT %s (%s)"
                                            % (self._attempt.proxy, self._attempt.target,
                                               reason.getErrorMessage())))

    def fail(self, error: Exception) -> None:
        """Give up on this tunnel: fail the attempt with ``error``, drop the connection."""
        self._attempt.fail(error)
        self.abort()

    def abort(self) -> None:
        """Drop the connection to the proxy (before the tunnel opened)."""
        self._cancel_timer()
        self._failed = True
        self.transport.abortConnection()  # type: ignore[union-attr]  # connected: set

    def _timed_out(self) -> None:
        self._timer = None
        self.fail(ProxyTunnelError("proxy %s did not answer CONNECT %s within %ss"
                                   % (self._attempt.proxy, self._attempt.target, self._attempt.timeout)))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None


class _TunnelProtocolFactory(Factory):
    noisy = False

    def __init__(self, attempt: "_TunnelAttempt") -> None:
        self._attempt = attempt

    def buildProtocol(self, addr: Any) -> Any:
        protocol = _TunnelProtocol(self._attempt)
        protocol.factory = self
        return protocol


class _TunnelAttempt:
    """One connection through a tunnel: ``result`` fires with the HTTP protocol, or fails."""

    def __init__(self, endpoint: "_TunnelEndpoint", protocol_factory: Any) -> None:
        self.reactor = endpoint.reactor
        self.timeout = endpoint.timeout
        self.proxy = endpoint.proxy
        self.target = endpoint.target
        self.request = endpoint.request
        self._creator = endpoint.creator
        self._protocol_factory = protocol_factory
        self.protocol: Optional[_TunnelProtocol] = None
        self.result: Any = Deferred(canceller=self._cancel)
        self._connecting: Any = None

    def start(self, proxy_endpoint: Any) -> Any:
        self._connecting = proxy_endpoint.connect(_TunnelProtocolFactory(self))
        self._connecting.addCallbacks(self._connected, self.fail)
        return self.result

    def _connected(self, _protocol: Any) -> None:
        self._connecting = None

    def start_tls(self, transport: Any) -> Any:
        """The tunnel is open: TLS to the target over ``transport``; the attempt succeeds."""
        from twisted.protocols.tls import TLSMemoryBIOFactory

        factory = TLSMemoryBIOFactory(self._creator, True, self._protocol_factory, clock=self.reactor)
        tls = factory.buildProtocol(transport.getPeer())
        tls.makeConnection(transport)
        if not self.result.called:
            self.result.callback(tls.wrappedProtocol)
        return tls

    def fail(self, reason: Any) -> None:
        self._connecting = None
        if not self.result.called:
            self.result.errback(reason)

    def _cancel(self, _result: Any) -> None:
        """The caller gave up (``result`` then fails with CancelledError): stop connecting, or drop
        the connection to the proxy."""
        connecting, self._connecting = self._connecting, None
        if self.protocol is not None:
            self.protocol.abort()
        elif connecting is not None:
            connecting.cancel()


@implementer(IStreamClientEndpoint)
class _TunnelEndpoint:
    """An ``IStreamClientEndpoint``: TLS to ``host:port`` through a proxy's ``CONNECT`` tunnel."""

    def __init__(self, reactor: Any, proxy_endpoint: Any, proxy: _Proxy, host: bytes, port: int,
                 creator: Any, timeout: float) -> None:
        self.reactor = reactor
        self.proxy = proxy
        self.creator = creator
        self.timeout = timeout
        self._proxy_endpoint = proxy_endpoint
        self.target = "%s:%d" % (_bracket(host.decode("ascii")), port)
        target = self.target.encode("ascii")
        self.request = b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n"
        if proxy.authorization:
            self.request += b"Proxy-Authorization: " + proxy.authorization + b"\r\n"
        self.request += b"\r\n"

    def connect(self, protocol_factory: Any) -> Any:
        return _TunnelAttempt(self, protocol_factory).start(self._proxy_endpoint)


def make_http_client(reactor: Any, config: Any, persistent: bool = True) -> Any:
    """A treq HTTPClient for ``config`` on ``reactor``."""
    from treq.client import HTTPClient
    from twisted.internet.endpoints import wrapClientTLS
    from twisted.web.client import URI, Agent, HTTPConnectionPool, ProxyAgent
    from twisted.web.error import SchemeNotSupported
    from twisted.web.http_headers import Headers
    from twisted.web.iweb import IAgent, IAgentEndpointFactory

    http = config.http
    timeout = http.connect_timeout
    pool = HTTPConnectionPool(reactor, persistent=persistent)
    pool.maxPersistentPerHost = 4
    policy = _make_policy(http)
    proxies = _ProxySettings(http)
    proxy_endpoints: Dict[_Proxy, Any] = {}  # one endpoint per proxy (ProxyAgent's pool key)

    def proxy_endpoint(proxy: _Proxy) -> Any:
        if proxy not in proxy_endpoints:
            proxy_endpoints[proxy] = _proxy_endpoint(reactor, proxy, policy, timeout)
        return proxy_endpoints[proxy]

    @implementer(IAgentEndpointFactory)
    class _Endpoints:
        def endpointForURI(self, uri: Any) -> Any:
            if uri.scheme == b"https":
                creator = policy.creatorForNetloc(uri.host, uri.port)
                proxy = proxies.proxy_for("https", uri.host.decode("ascii"), uri.port)
                if proxy is not None:
                    return _TunnelEndpoint(reactor, proxy_endpoint(proxy), proxy, uri.host, uri.port, creator,
                                           timeout)
                endpoint = _HostEndpoint(reactor, uri.host, uri.port, timeout=timeout)
                # zope.interface's @implementer is invisible to mypy without the mypy-zope plugin
                return wrapClientTLS(creator, endpoint, clock=reactor)  # type: ignore[arg-type]
            if uri.scheme == b"http":
                return _HostEndpoint(reactor, uri.host, uri.port, timeout=timeout)
            raise SchemeNotSupported("Unsupported scheme: %r" % (uri.scheme,))

    endpoints = _Endpoints()
    direct = Agent.usingEndpointFactory(reactor, endpoints, pool=pool)
    proxy_agents: Dict[_Proxy, Any] = {}

    @implementer(IAgent)
    class _Dispatch:
        """``http://`` URIs with a proxy go to a ProxyAgent (absolute-URI requests); the rest to ``direct``."""

        _direct_endpoints = endpoints  # for tests

        def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
            parsed = URI.fromBytes(uri.strip())
            proxy = None
            if parsed.scheme == b"http":
                proxy = proxies.proxy_for("http", parsed.host.decode("ascii"), parsed.port)
            if proxy is None:
                return direct.request(method, uri, headers, bodyProducer)
            if proxy.authorization:
                headers = headers.copy() if headers is not None else Headers()
                headers.setRawHeaders(b"proxy-authorization", [proxy.authorization])
            if proxy not in proxy_agents:
                proxy_agents[proxy] = ProxyAgent(proxy_endpoint(proxy), reactor, pool=pool)
            return proxy_agents[proxy].request(method, uri, headers, bodyProducer)

    # zope.interface's @implementer is invisible to mypy without the mypy-zope plugin
    return _ReactorBoundClient(HTTPClient(_Dispatch()), reactor)  # type: ignore[arg-type]


class _ReactorBoundClient:
    """A treq HTTPClient whose requests name our reactor: without ``reactor=``, treq imports (and so
    installs) the global reactor, and an application could then no longer install the one it wants."""

    def __init__(self, client: Any, reactor: Any):
        self._client = client
        self._reactor = reactor

    def get(self, url: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("reactor", self._reactor)
        return self._client.get(url, **kwargs)

    def post(self, url: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("reactor", self._reactor)
        return self._client.post(url, **kwargs)

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("reactor", self._reactor)
        return self._client.request(method, url, **kwargs)
