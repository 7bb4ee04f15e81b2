"""Microsoft Graph's side of encrypted change notifications, for the tests and the benchmarks:
the self-signed certificate facilbot gives a subscription, and what Graph does with a
notification's resource data (docs: "Set up change notifications that include resource data")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID


def notification_certificate(key: rsa.RSAPrivateKey, *, at: datetime) -> x509.Certificate:
    """The self-signed certificate Graph encrypts to, valid from a day before ``at`` for 30 days."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "facilbot notifications")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - timedelta(days=1))
        .not_valid_after(at + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


def certificate_b64(certificate: x509.Certificate) -> str:
    """The base64 DER form a subscription's ``encryptionCertificate`` carries."""
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode()


def graph_encrypt(resource: dict[str, Any], certificate: str) -> dict[str, str]:
    """What Graph does: a one-use AES-256 key, CBC with IV = key[:16], PKCS7, HMAC-SHA256 of the
    ciphertext, the key wrapped with RSA-OAEP (SHA-1) under the subscription's certificate
    (``certificate`` in base64 DER)."""
    cert = x509.load_der_x509_certificate(base64.b64decode(certificate))
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    key = os.urandom(32)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(resource).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    data = encryptor.update(plain) + encryptor.finalize()
    wrapped = public.encrypt(
        key, OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    return {
        "data": base64.b64encode(data).decode(),
        "dataSignature": base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode(),
        "dataKey": base64.b64encode(wrapped).decode(),
        "encryptionCertificateId": "facilbot-1",
        "encryptionCertificateThumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
    }
