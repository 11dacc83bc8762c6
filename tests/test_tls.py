"""TLS: verified by default, a private CA through ca_certs, or verification off — against a real
local HTTPS stream (its own reactor) with a self-signed certificate."""
import datetime
import ipaddress
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from twisted.internet import ssl
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.web import resource, server

import ldfast
from ldfast._reactor import ReactorThread

# Twisted's TLS code hands pyOpenSSL X509 objects to pyOpenSSL, which now warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Passing pyOpenSSL .* objects is deprecated:DeprecationWarning")

FLAG = {"key": "f", "version": 1, "on": True, "variations": ["tls-ok"], "fallthrough": {"variation": 0}}


def self_signed(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    path = tmp_path / "ca.pem"
    path.write_bytes(cert_pem)
    return str(path), ssl.PrivateCertificate.loadPEM(cert_pem + key_pem)


class Stream(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/event-stream")
        put = {"path": "/", "data": {"flags": {"f": FLAG}, "segments": {}}}
        request.write(b"event: put\ndata: " + json.dumps(put).encode() + b"\n\n")
        return server.NOT_DONE_YET


@pytest.fixture(scope="module")
def https_stream(tmp_path_factory):
    ca_path, cert = self_signed(tmp_path_factory.mktemp("tls"))
    net = ReactorThread("tls-server")
    # TLS with this reactor as its clock (listenSSL would use the global reactor's)
    factory = TLSMemoryBIOFactory(cert.options(), False, server.Site(Stream()), clock=net.reactor)
    port = net.call(lambda: net.reactor.listenTCP(0, factory, interface="127.0.0.1"))
    yield "https://127.0.0.1:%d" % port.getHost().port, ca_path
    net.call(port.stopListening)
    net.stop()


def client_for(uri, **http):
    config = ldfast.Config("sdk-key", stream_uri=uri, send_events=False, initial_reconnect_delay=0.05,
                           http=ldfast.HTTPConfig(connect_timeout=2, **http))
    return ldfast.LDClient(config, start_wait=2)


def test_untrusted_certificate_is_refused_by_default(https_stream):
    uri, _ = https_stream
    client = client_for(uri)
    try:
        assert not client.is_initialized()
        error = client.data_source_status_provider.status.error
        assert error is not None and "certificate" in (error.message or "").lower(), error and error.message
    finally:
        client.close()


def test_ca_certs_trusts_a_private_ca(https_stream):
    uri, ca_path = https_stream
    client = client_for(uri, ca_certs=ca_path)
    try:
        assert client.is_initialized() and client.variation("f", {"key": "u"}, None) == "tls-ok"
    finally:
        client.close()


def test_verification_can_be_disabled(https_stream):
    uri, _ = https_stream
    client = client_for(uri, disable_ssl_verification=True)
    try:
        assert client.is_initialized() and client.variation("f", {"key": "u"}, None) == "tls-ok"
    finally:
        client.close()
