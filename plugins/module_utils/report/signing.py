# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys and signatures of the evidence bundle, compatible with cosign's ``sign-blob --key`` and
``verify-blob --key``: ECDSA P-256 with SHA-256, the signature base64 (standard alphabet, no newline)
of its ASN.1 DER form, keys as PEM (the public key as a PKIX ``PUBLIC KEY``, as ``cosign.pub``).

Private keys read: PKCS#8 ``PRIVATE KEY``, SEC1 ``EC PRIVATE KEY``, passphrase-protected PKCS#8
``ENCRYPTED PRIVATE KEY`` (the library cryptography), and cosign's own ``ENCRYPTED SIGSTORE PRIVATE
KEY`` / ``ENCRYPTED COSIGN PRIVATE KEY``: a JSON document (go-securesystemslib's ``encrypted``
package) holding the PKCS#8 key sealed with NaCl secretbox under a key derived by scrypt from the
passphrase.  scrypt is Python's own (``hashlib.scrypt``); the secretbox is opened with PyNaCl, an
optional library: without it such a key is refused with one line saying what to do.  Nothing here
touches the network."""

from __future__ import absolute_import, annotations, division, print_function

import base64
import hashlib
import json
import re
import traceback
from typing import Any

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMP_ERR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMP_ERR = traceback.format_exc()

try:
    from nacl.exceptions import CryptoError as NaclCryptoError
    from nacl.secret import SecretBox

    HAS_NACL = True
except ImportError:
    HAS_NACL = False

__metaclass__ = type

COSIGN_PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
# The scrypt parameters go-securesystemslib accepts (legacy, standard, OWASP): nothing larger is
# derived, so a crafted key file cannot make us allocate gigabytes.
COSIGN_SCRYPT_PARAMS = ({"N": 32768, "r": 8, "p": 1}, {"N": 65536, "r": 8, "p": 1}, {"N": 131072, "r": 8, "p": 1})
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


class SigningError(Exception):
    """A key or signature that cannot be used: the message is one line saying why and what to do."""


def require_cryptography() -> None:
    if not HAS_CRYPTOGRAPHY:
        raise SigningError("the Python library cryptography is needed to sign or verify the bundle (pip install cryptography)")


def pem_type(pem: bytes) -> str:
    """The label of the first PEM block (``PRIVATE KEY``, ``ENCRYPTED SIGSTORE PRIVATE KEY`` ...)."""
    found = _PEM.search(pem.decode("ascii", errors="replace"))
    if not found:
        raise SigningError("not a PEM file (no -----BEGIN ...----- block)")
    return found.group(1)


def _pem_body(pem: bytes) -> bytes:
    found = _PEM.search(pem.decode("ascii", errors="replace"))
    if not found:
        raise SigningError("not a PEM file (no -----BEGIN ...----- block)")
    text = "".join(line for line in found.group(2).splitlines() if ":" not in line)
    try:
        return base64.b64decode(text, validate=False)
    except ValueError as exc:
        raise SigningError("the PEM block is not base64: %s" % exc) from exc


def _b64field(doc: dict[str, Any], *path: str) -> bytes:
    value: Any = doc
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str):
        raise SigningError("cosign key: field %s is missing" % ".".join(path))
    return base64.b64decode(value)


def decrypt_cosign_key(pem: bytes, passphrase: str | bytes | None) -> bytes:
    """The PKCS#8 DER inside a cosign ``ENCRYPTED SIGSTORE PRIVATE KEY`` (what ``cosign
    generate-key-pair`` writes; the passphrase is what COSIGN_PASSWORD held, empty allowed)."""
    try:
        doc = json.loads(_pem_body(pem))
    except ValueError as exc:
        raise SigningError("cosign key: the PEM block is not the JSON document cosign writes: %s" % exc) from exc
    kdf, cipher = doc.get("kdf") or {}, doc.get("cipher") or {}
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
        raise SigningError("cosign key: unsupported kdf %r or cipher %r (scrypt and nacl/secretbox are known)" % (kdf.get("name"), cipher.get("name")))
    params = kdf.get("params") or {}
    if params not in COSIGN_SCRYPT_PARAMS:
        raise SigningError("cosign key: unsupported scrypt parameters %s" % json.dumps(params, sort_keys=True))
    if not HAS_NACL:
        raise SigningError(
            "a cosign-encrypted key needs the Python library PyNaCl to open (pip install PyNaCl); or give an unencrypted or "
            "passphrase-protected PKCS#8 EC P-256 key instead (docs/signing.md says how to make one)"
        )
    secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else (passphrase or b"")
    box_key = hashlib.scrypt(
        secret,
        salt=_b64field(doc, "kdf", "salt"),
        n=params["N"],
        r=params["r"],
        p=params["p"],
        maxmem=256 * params["r"] * params["N"] + (1 << 20),
        dklen=32,
    )
    try:
        return SecretBox(box_key).decrypt(_b64field(doc, "ciphertext"), _b64field(doc, "cipher", "nonce"))
    except (NaclCryptoError, ValueError) as exc:
        raise SigningError("cosign key: wrong passphrase (or a damaged key file): the secretbox does not open") from exc


def load_private_key(pem: bytes, passphrase: str | None = None) -> Any:
    """An ECDSA P-256 private key from PEM: PKCS#8, SEC1, encrypted PKCS#8 or cosign's format."""
    require_cryptography()
    label = pem_type(pem)
    secret = passphrase.encode("utf-8") if passphrase else None
    try:
        if label in COSIGN_PEM_TYPES:
            key = serialization.load_der_private_key(decrypt_cosign_key(pem, passphrase), password=None)
        elif label in ("PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
            encrypted = label == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in pem
            key = serialization.load_pem_private_key(pem, password=secret if encrypted else None)
        else:
            known = ", ".join(("PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY") + COSIGN_PEM_TYPES)
            raise SigningError("a %s is not a private key this collection reads (%s)" % (label, known))
    except TypeError as exc:
        raise SigningError("the key is encrypted: give its passphrase (evidence_signing_passphrase)") from exc
    except ValueError as exc:
        raise SigningError("cannot read the private key (%s): %s" % (label, str(exc).splitlines()[0] if str(exc) else "wrong passphrase?")) from exc
    return _p256(key, "private")


def load_public_key(pem: bytes) -> Any:
    """An ECDSA P-256 public key from a PEM ``PUBLIC KEY`` (cosign.pub, SHA256SUMS.pub)."""
    require_cryptography()
    if pem_type(pem) != "PUBLIC KEY":
        raise SigningError("not a PEM public key (expected -----BEGIN PUBLIC KEY-----, got %s)" % pem_type(pem))
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise SigningError("cannot read the public key: %s" % exc) from exc
    return _p256(key, "public")


def _p256(key: Any, what: str) -> Any:
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) or not isinstance(key.curve, ec.SECP256R1):
        curve = getattr(getattr(key, "curve", None), "name", type(key).__name__)
        raise SigningError("the %s key is %s: a cosign-compatible key is ECDSA P-256 (prime256v1)" % (what, curve))
    return key


def public_pem(key: Any) -> bytes:
    """The public half as cosign writes cosign.pub: PKIX SubjectPublicKeyInfo, PEM ``PUBLIC KEY``."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Any) -> str:
    """``sha256:<hex>`` of the public key's DER SubjectPublicKeyInfo (``openssl pkey -pubin -outform
    DER | sha256sum`` gives the same hex)."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def sign(data: bytes, key: Any) -> bytes:
    """The signature cosign ``sign-blob --key`` writes: base64 of the DER ECDSA-SHA256 signature."""
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256())))


def verify(data: bytes, signature: bytes, key: Any) -> bool:
    """Whether ``signature`` (base64 of DER, as cosign writes it; surrounding whitespace ignored) is
    a valid ECDSA-SHA256 signature of ``data`` by ``key``'s public half."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except ValueError:
        return False
    try:
        pub.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
