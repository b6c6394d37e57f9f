"""The cluster's TLS certificates, made once: `python -m scripts.certs DIRECTORY`.

The compose one-shot `certs` runs it on the `temporal-certs` volume before the server
starts (docs/production.md, "Mutual TLS"). It makes two private CAs, the server's
certificates and one client certificate per caller, each in a directory of its own beside
a copy of its CA's certificate, which every service mounts alone:

    ca/cert.pem, key.pem                the clients' CA (its key never leaves `ca/`)
    internode-ca/cert.pem, key.pem      the nodes' CA
    temporal/                           the frontend's server certificate (clients' CA)
    temporal-internode/                 the nodes' certificate (nodes' CA)
    temporal-namespace/                 admin, through the internal frontend (nodes' CA)
    worker/, setup/, cli/, temporal-ui/ clients of the frontend (clients' CA)

The internal frontend skips the authoriser: only a certificate of the nodes' CA reaches it,
and no client of the frontend holds one.

What exists is kept, so that every `up` is a no-op; remove a directory to reissue it, or
the whole volume to change CA. Private keys are 0600, owned by the user of the image that
reads them when the script runs as root.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DIR = "ca"
INTERNODE_CA_DIR = "internode-ca"
CERT, KEY, CA_CERT = "cert.pem", "key.pem", "ca.pem"
CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=825)  # the longest most TLS clients accept
# The frontend's names: its compose service, and the loopback for a port bound on the host.
SERVER_NAMES = ("temporal", "localhost")
SERVER_ADDRESSES = ("127.0.0.1",)
AUTHORITIES = (CA_DIR, INTERNODE_CA_DIR)
TEMPORAL_IMAGES_UID = 1000  # temporalio/server, admin-tools and ui run as uid 1000
PROJECT_IMAGE_UID = 10001  # the project's Dockerfile: user `worker`


@dataclass(frozen=True)
class Identity:
    """One holder of a certificate: its directory, whether it serves, who reads its key."""

    name: str
    server: bool
    uid: int
    authority: str = CA_DIR


IDENTITIES = (
    Identity("temporal", server=True, uid=TEMPORAL_IMAGES_UID),
    Identity(
        "temporal-internode", server=True, uid=TEMPORAL_IMAGES_UID, authority=INTERNODE_CA_DIR
    ),
    Identity(
        "temporal-namespace", server=False, uid=TEMPORAL_IMAGES_UID, authority=INTERNODE_CA_DIR
    ),
    Identity("temporal-ui", server=False, uid=TEMPORAL_IMAGES_UID),
    Identity("worker", server=False, uid=PROJECT_IMAGE_UID),
    Identity("setup", server=False, uid=PROJECT_IMAGE_UID),
    Identity("cli", server=False, uid=PROJECT_IMAGE_UID),
)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "integration-visa"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, uid: int | None) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600: the key is never readable by anyone else, even for an instant.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)
    _own(path, uid)


def _write_cert(path: Path, cert: x509.Certificate, uid: int | None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)
    _own(path, uid)


def _own(path: Path, uid: int | None) -> None:
    if uid is not None and os.geteuid() == 0:
        os.chown(path, uid, uid)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def certificate_authority(
    directory: Path, name: str = CA_DIR
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA `name` of `directory`, made if absent."""
    ca_dir = directory / name
    ca_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = ca_dir / CERT, ca_dir / KEY
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"integration-visa {name}"))
        .issuer_name(_name(f"integration-visa {name}"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
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
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key, None)
    _write_cert(cert_path, cert, None)
    return cert, key


def issue(
    identity: Identity, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A leaf certificate for `identity`, signed by the CA: the server's names for the
    frontend (which presents it to the nodes too), client authentication for the others."""
    key = _new_key()
    now = _now()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(identity.name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if identity.server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_ADDRESSES]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False).sign(
        ca_key, hashes.SHA256()
    )
    return cert, key


def ensure(directory: Path, owned: bool = True) -> list[str]:
    """Every certificate of IDENTITIES under `directory`, made if absent: the names of
    those made now. `owned`: keys given to their image's user (when run as root)."""
    authorities = {name: certificate_authority(directory, name) for name in AUTHORITIES}
    made = []
    for identity in IDENTITIES:
        target = directory / identity.name
        if all((target / name).exists() for name in (CERT, KEY, CA_CERT)):
            continue
        ca_cert, ca_key = authorities[identity.authority]
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        cert, key = issue(identity, ca_cert, ca_key)
        uid = identity.uid if owned else None
        _write_key(target / KEY, key, uid)
        _write_cert(target / CERT, cert, uid)
        _write_cert(target / CA_CERT, ca_cert, uid)
        made.append(identity.name)
    return made


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m scripts.certs DIRECTORY", file=sys.stderr)
        return 2
    made = ensure(Path(argv[0]))
    print(f"certs: made {', '.join(made)}" if made else "certs: all present, none made")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
