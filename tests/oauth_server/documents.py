"""Where MCP clients publish their Client ID Metadata Documents in tests: a real local server, over http or over
https with a certificate from a throwaway CA made here (the CA file is what the authorization server is told to
trust), that records which paths were fetched."""

import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class _DocumentServer(ThreadingHTTPServer):
    documents: dict[str, bytes]
    fetched: list[str]


class _Documents(BaseHTTPRequestHandler):
    server: _DocumentServer

    def do_GET(self) -> None:
        self.server.fetched.append(self.path)
        body = self.server.documents.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body or b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return


class DocumentHost:
    def __init__(self, server: _DocumentServer, base_url: str, ca_file: Path | None) -> None:
        self._server = server
        self.base_url = base_url
        # The CA that signed this host's certificate (https only).
        self.ca_file = ca_file

    @property
    def fetched(self) -> list[str]:
        return self._server.fetched

    def publish(self, path: str, body: bytes) -> str:
        """Serves `body` at `path`; answers the document's URL."""
        self._server.documents[path] = body
        return f"{self.base_url}{path}"

    def publish_client(self, path: str, client_name: str, redirect_uris: list[str]) -> str:
        """Serves a valid document for a public client whose id is the document's own URL; answers that id."""
        client_id = f"{self.base_url}{path}"
        document = {
            "client_id": client_id,
            "client_name": client_name,
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        return self.publish(path, json.dumps(document).encode())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    encoding, key_format = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, key_format, serialization.NoEncryption())


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate it signs for 127.0.0.1 and localhost; answers (CA file, certificate, key)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Platform test CA"))
        .issuer_name(_name("Platform test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "host.pem", directory / "host-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem(key))
    return paths


@contextmanager
def document_host(tls_directory: Path | None = None) -> Iterator[DocumentHost]:
    """Serves documents on 127.0.0.1: over https (certificates made in `tls_directory`) or, without one, http."""
    server = _DocumentServer(("127.0.0.1", 0), _Documents)
    server.documents = {}
    server.fetched = []
    ca_file = None
    scheme = "http"
    if tls_directory is not None:
        ca_file, certificate, key = make_certificates(tls_directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate, key)
        # The handshake runs in the request's thread, so a client refusing the certificate disturbs no other.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, name="metadata-documents", daemon=True)
    thread.start()
    try:
        yield DocumentHost(server, f"{scheme}://127.0.0.1:{server.server_address[1]}", ca_file)
    finally:
        server.shutdown()
        server.server_close()
