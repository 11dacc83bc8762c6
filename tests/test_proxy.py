"""HTTP proxies: HTTPS targets through a ``CONNECT`` tunnel, plain http targets as absolute-URI
requests, proxy credentials, the environment variables — against a small relaying proxy and real
HTTPS / HTTP streams on 127.0.0.1, every server on a private reactor of its own."""
import base64
import json
import os
import time
from urllib.parse import urlparse

import pytest
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web import resource, server

import ldfast
from ldfast._http import ProxyTunnelError, make_http_client
from ldfast._reactor import ReactorThread
from tests.test_tls import self_signed

# Twisted's TLS code hands pyOpenSSL X509 objects to pyOpenSSL, which now warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Passing pyOpenSSL .* objects is deprecated:DeprecationWarning")

FLAG = {"key": "f", "version": 1, "on": True, "variations": ["via-proxy"], "fallthrough": {"variation": 0}}


class Stream(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/event-stream")
        put = {"path": "/", "data": {"flags": {"f": FLAG}, "segments": {}}}
        request.write(b"event: put\ndata: " + json.dumps(put).encode() + b"\n\n")
        return server.NOT_DONE_YET


class Relay(Protocol):
    """The proxy's connection to the target: bytes from it go back to the client."""

    def __init__(self, client):
        self.client = client

    def connectionMade(self):
        self.client.relay_connected(self)

    def dataReceived(self, data):
        self.client.transport.write(data)

    def connectionLost(self, reason):
        self.client.transport.loseConnection()


class ProxyProtocol(Protocol):
    """One client of the proxy: reads a request head, then relays (CONNECT or absolute-URI GET)."""

    def connectionMade(self):
        self.buffer = b""
        self.relay = None
        self.connecting = False
        self.answer = None
        self.factory.connections.add(self)

    def dataReceived(self, data):
        if self.relay is not None:
            self.relay.transport.write(data)
            return
        self.buffer += data
        if self.connecting or b"\r\n\r\n" not in self.buffer:
            return
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = dict((k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:]))
        self.factory.seen.append((lines[0], headers))
        if self.factory.mode == "silent":
            return
        if self.factory.mode is not None:
            self.transport.write(self.factory.mode)
            self.transport.loseConnection()
            return
        method, target, version = lines[0].split(" ")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            self.answer = b"HTTP/1.1 200 Connection established\r\n\r\n"
        else:  # an absolute URI: forward in origin form, without the proxy's own header
            uri = urlparse(target)
            host, port = uri.hostname, uri.port or 80
            lines[0] = "%s %s%s %s" % (method, uri.path or "/", "?" + uri.query if uri.query else "", version)
            lines = [line for line in lines if not line.lower().startswith("proxy-authorization:")]
            self.buffer = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.buffer
        self.connecting = True
        relay_factory = Factory()
        relay_factory.protocol = lambda: Relay(self)
        relay_factory.noisy = False
        d = TCP4ClientEndpoint(self.factory.reactor, host, int(port)).connect(relay_factory)
        d.addErrback(self.relay_failed)

    def relay_connected(self, relay):
        self.relay = relay
        if self.answer:
            self.transport.write(self.answer)
        if self.buffer:
            relay.transport.write(self.buffer)
        self.buffer = b""

    def relay_failed(self, failure):
        self.transport.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        self.transport.loseConnection()

    def connectionLost(self, reason):
        self.factory.connections.discard(self)
        self.factory.lost += 1
        if self.relay is not None:
            self.relay.transport.loseConnection()


class ProxyFactory(Factory):
    protocol = ProxyProtocol
    noisy = False

    def __init__(self, reactor):
        self.reactor = reactor
        self.seen = []  # (request line, {lower-case header name: value}) per request head
        self.connections = set()
        self.lost = 0
        self.mode = None  # None: relay; "silent": never answer; bytes: answer this and close


@pytest.fixture(scope="module")
def net():
    thread = ReactorThread("proxy-test-servers")
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def targets(net, tmp_path_factory):
    """(https URI, http URI, CA file, server certificate) of the two streams."""
    ca_path, cert = self_signed(tmp_path_factory.mktemp("tls"))
    tls = TLSMemoryBIOFactory(cert.options(), False, server.Site(Stream()), clock=net.reactor)
    https_port = net.call(lambda: net.reactor.listenTCP(0, tls, interface="127.0.0.1"))
    http_port = net.call(lambda: net.reactor.listenTCP(0, server.Site(Stream()), interface="127.0.0.1"))
    yield ("https://127.0.0.1:%d" % https_port.getHost().port, "http://127.0.0.1:%d" % http_port.getHost().port,
           ca_path, cert)
    net.call(https_port.stopListening)
    net.call(http_port.stopListening)


def _listen_proxy(net, wrap=None):
    factory = ProxyFactory(net.reactor)
    listening = wrap(factory) if wrap else factory
    port = net.call(lambda: net.reactor.listenTCP(0, listening, interface="127.0.0.1"))

    def close():
        def abort_all():
            for connection in list(factory.connections):
                connection.transport.abortConnection()
            return port.stopListening()

        net.call(abort_all)

    return factory, port.getHost().port, close


@pytest.fixture
def proxy(net):
    factory, port, close = _listen_proxy(net)
    factory.port = port
    factory.url = "http://127.0.0.1:%d" % port
    yield factory
    close()


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch):
    """Whatever proxies the machine running the tests has, these tests set their own."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


def client_for(uri, start_wait=5, **http):
    config = ldfast.Config("sdk-key", stream_uri=uri, send_events=False, initial_reconnect_delay=0.05,
                           http=ldfast.HTTPConfig(**http))
    return ldfast.LDClient(config, start_wait=start_wait)


def assert_flag_from_stream(client):
    assert client.is_initialized(), client.data_source_status_provider.status.error
    assert client.variation("f", {"key": "u"}, None) == "via-proxy"


def request_lines(proxy):
    return [line for line, _ in proxy.seen]


def test_https_goes_through_a_connect_tunnel(targets, proxy):
    https_uri, _, ca_path, _ = targets
    target = https_uri[len("https://"):]
    client = client_for(https_uri, http_proxy=proxy.url, ca_certs=ca_path)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    line, headers = proxy.seen[0]
    assert line == "CONNECT %s HTTP/1.1" % target
    assert headers["host"] == target
    assert "proxy-authorization" not in headers
    assert len(proxy.seen) == 1, proxy.seen  # the GET itself went inside the tunnel, unseen


def test_tls_inside_the_tunnel_is_verified_against_the_target(targets, proxy):
    https_uri, _, _, _ = targets  # no ca_certs: the target's self-signed certificate is untrusted
    client = client_for(https_uri, start_wait=1, http_proxy=proxy.url)
    try:
        assert not client.is_initialized()
        error = client.data_source_status_provider.status.error
        assert error is not None and "certificate" in (error.message or "").lower(), error
    finally:
        client.close()
    assert request_lines(proxy)[0].startswith("CONNECT ")


def test_a_refusing_proxy_fails_with_its_status(targets, proxy):
    https_uri, _, ca_path, _ = targets
    proxy.mode = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n"
    client = client_for(https_uri, start_wait=1, http_proxy=proxy.url, ca_certs=ca_path)
    try:
        assert not client.is_initialized()
        error = client.data_source_status_provider.status.error
        assert error is not None and "407 Proxy Authentication Required" in (error.message or ""), error
        assert "proxy 127.0.0.1:%d" % proxy.port in error.message
    finally:
        client.close()
    assert request_lines(proxy)[0].startswith("CONNECT ")


def test_plain_http_goes_to_the_proxy_as_an_absolute_uri(targets, proxy):
    _, http_uri, _, _ = targets
    client = client_for(http_uri, http_proxy=proxy.url)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    line, headers = proxy.seen[0]
    assert line == "GET %s/all HTTP/1.1" % http_uri
    assert headers["host"] == http_uri[len("http://"):]


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_credentials_in_the_proxy_url_are_sent_as_proxy_authorization(targets, proxy, scheme):
    https_uri, http_uri, ca_path, _ = targets
    url = "http://user%40corp:p%3Ass@127.0.0.1:" + str(proxy.port)
    client = client_for(https_uri if scheme == "https" else http_uri, http_proxy=url, ca_certs=ca_path)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    _, headers = proxy.seen[0]
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"user@corp:p:ss").decode()


def test_https_proxy_environment_variable_is_honoured(targets, proxy, monkeypatch):
    https_uri, _, ca_path, _ = targets
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    client = client_for(https_uri, ca_certs=ca_path)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    assert request_lines(proxy) == ["CONNECT %s HTTP/1.1" % https_uri[len("https://"):]]


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy"])
def test_http_proxy_environment_variable_is_honoured(targets, proxy, monkeypatch, name):
    _, http_uri, _, _ = targets
    monkeypatch.setenv(name, proxy.url)
    client = client_for(http_uri)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    assert request_lines(proxy) == ["GET %s/all HTTP/1.1" % http_uri]


def test_environment_proxies_are_per_scheme(targets, proxy, monkeypatch):
    """As in the official SDK (and curl, requests): HTTP_PROXY is for http:// targets only."""
    https_uri, _, ca_path, _ = targets
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    client = client_for(https_uri, ca_certs=ca_path)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    assert proxy.seen == []


def test_no_proxy_bypasses_environment_proxies_only(targets, proxy, monkeypatch):
    https_uri, _, ca_path, _ = targets
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    client = client_for(https_uri, ca_certs=ca_path)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    assert proxy.seen == []
    client = client_for(https_uri, http_proxy=proxy.url, ca_certs=ca_path)  # the option: always
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    assert request_lines(proxy)[0].startswith("CONNECT ")


def test_proxy_spoken_to_over_tls(net, targets):
    """An https:// proxy URL: TLS to the proxy, and the target's TLS inside that."""
    https_uri, http_uri, ca_path, cert = targets
    factory, port, close = _listen_proxy(
        net, lambda f: TLSMemoryBIOFactory(cert.options(), False, f, clock=net.reactor))
    try:
        for uri in (https_uri, http_uri):
            client = client_for(uri, http_proxy="https://127.0.0.1:%d" % port, ca_certs=ca_path)
            try:
                assert_flag_from_stream(client)
            finally:
                client.close()
        assert [line.split(" ")[0] for line, _ in factory.seen] == ["CONNECT", "GET"]
    finally:
        close()


def test_unsupported_proxy_scheme_is_logged_and_ignored(targets, proxy, caplog):
    _, http_uri, _, _ = targets
    client = client_for(http_uri, http_proxy="socks5://127.0.0.1:%d" % proxy.port)
    try:
        assert_flag_from_stream(client)
    finally:
        client.close()
    assert proxy.seen == []
    assert any("only http:// and https:// proxy URLs are supported" in r.getMessage() for r in caplog.records)


# -- the tunnel itself, through make_http_client on a reactor of the test's own ---------------------

@pytest.fixture
def client_net():
    thread = ReactorThread("proxy-test-client")
    yield thread
    thread.stop()


def _get(client_net, uri, proxy_url, ca_path, connect_timeout):
    config = ldfast.Config("sdk-key", http=ldfast.HTTPConfig(http_proxy=proxy_url, ca_certs=ca_path,
                                                             connect_timeout=connect_timeout))

    def get():
        client = make_http_client(client_net.reactor, config, persistent=False)
        return client.get(uri + "/nothing-here")

    return client_net.call(get)


def test_a_silent_proxy_times_out_after_connect_timeout(targets, proxy, client_net):
    https_uri, _, ca_path, _ = targets
    proxy.mode = "silent"
    with pytest.raises(ProxyTunnelError, match=r"did not answer CONNECT 127\.0\.0\.1:\d+ within 0\.3s"):
        _get(client_net, https_uri, proxy.url, ca_path, 0.3)
    assert len(proxy.seen) == 1


def test_a_proxy_closing_before_answering_fails_the_attempt(targets, proxy, client_net):
    https_uri, _, ca_path, _ = targets
    proxy.mode = b""  # close without a word
    with pytest.raises(ProxyTunnelError, match="closed the connection before answering CONNECT"):
        _get(client_net, https_uri, proxy.url, ca_path, 2)


def test_a_malformed_proxy_answer_fails_the_attempt(targets, proxy, client_net):
    https_uri, _, ca_path, _ = targets
    proxy.mode = b"SSH-2.0-OpenSSH\r\n\r\n"
    with pytest.raises(ProxyTunnelError, match="malformed status line"):
        _get(client_net, https_uri, proxy.url, ca_path, 2)


def test_a_cancelled_attempt_drops_the_proxy_connection(targets, proxy, client_net):
    """A caller giving up (e.g. the stream's own deadline) while the proxy has not answered: the
    request fails with CancelledError and the connection to the proxy is dropped then, not at the
    tunnel's own timeout (here 30 s)."""
    from twisted.internet.defer import CancelledError

    https_uri, _, ca_path, _ = targets
    proxy.mode = "silent"
    config = ldfast.Config("sdk-key", http=ldfast.HTTPConfig(http_proxy=proxy.url, ca_certs=ca_path,
                                                             connect_timeout=30))
    pending = client_net.call(lambda: [make_http_client(client_net.reactor, config, persistent=False)
                                       .get(https_uri + "/all")])
    deadline = time.monotonic() + 5
    while not proxy.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(proxy.seen) == 1 and proxy.lost == 0
    started = time.monotonic()
    client_net.call(pending[0].cancel)
    with pytest.raises(CancelledError):
        client_net.call(lambda: pending[0])
    while proxy.lost == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.lost == 1 and time.monotonic() - started < 5


def test_a_silent_proxy_is_given_up_after_the_connect_timeout(targets, proxy):
    https_uri, _, ca_path, _ = targets
    proxy.mode = "silent"
    client = client_for(https_uri, start_wait=1, http_proxy=proxy.url, ca_certs=ca_path, connect_timeout=0.2,
                        read_timeout=0.3)
    try:
        assert not client.is_initialized()
        error = client.data_source_status_provider.status.error
        assert error is not None and "did not answer CONNECT" in (error.message or ""), error
    finally:
        client.close()
