"""Signing and offline verification of the evidence bundle (module_utils signing, signing_bundle):
a signed bundle verifies; one byte changed in any file fails naming that file; a changed SHA256SUMS
fails the signature; another key, a missing signature where one is required, unlisted and missing
files are each named; the key formats cosign and openssl write are read."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb

FILES = {
    "PRODUCT.yaml": "metadata: {platformName: x}\n",
    "README.md": "# bundle\n",
    "evidence/gang_scheduling.md": "# gang_scheduling\n\n- Verdict: **pass**\n",
    "junit/gang_scheduling/junit.xml": "<testsuites/>\n",
}


def new_key(curve=None):
    return ec.generate_private_key(curve or ec.SECP256R1())


def pkcs8(key, passphrase=None):
    enc = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def cosign_encrypted(key, passphrase):
    """cosign's ENCRYPTED SIGSTORE PRIVATE KEY, made as go-securesystemslib's encrypted.Encrypt makes
    it (scrypt N=2^16 r=8 p=1, 32-byte salt, nacl secretbox over the PKCS#8 DER)."""
    nacl_secret = pytest.importorskip("nacl.secret", reason="PyNaCl is not installed (only cosign's encrypted key format needs it)")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    box_key = hashlib.scrypt(passphrase.encode(), salt=salt, n=65536, r=8, p=1, maxmem=1 << 27, dklen=32)
    sealed = nacl_secret.SecretBox(box_key).encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = base64.encodebytes(json.dumps(doc).encode()).decode()
    return ("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n%s-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n" % body).encode()


def make_bundle(root: Path, files=None) -> Path:
    """A bundle as the evidence role writes it: the files, then SHA256SUMS in sha256sum format."""
    for rel, text in (files or FILES).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    lines = ["%s  %s\n" % (hashlib.sha256((root / rel).read_bytes()).hexdigest(), rel) for rel in sorted(files or FILES)]
    (root / sb.SUMS).write_text("".join(lines))
    return root


def signed_bundle(tmp_path, key=None):
    key = key or new_key()
    root = make_bundle(tmp_path / "bundle")
    sb.sign_tree(str(root), pkcs8(key))
    pub = tmp_path / "signer.pub"
    pub.write_bytes(signing.public_pem(key))
    return root, pub, key


def flip_one_byte(path: Path, at: int = 3) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


# -- round trip ---------------------------------------------------------------------------------------
def test_sign_then_verify_with_the_signers_key(tmp_path):
    root, pub, key = signed_bundle(tmp_path)
    out = sb.verify_tree(str(root), str(pub))
    assert out["verified"] and out["problems"] == []
    assert (out["signature"], out["key_source"], out["checked"], out["bundle_key_matches"]) == ("verified", "given", 4, True)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert out["fingerprint"] == "sha256:" + hashlib.sha256(der).hexdigest()
    assert out["msg"] == "4 files match SHA256SUMS; SHA256SUMS.sig verified with the given key %s" % out["fingerprint"]


def test_the_signature_is_cosigns_sign_blob_format(tmp_path):
    root, pub = signed_bundle(tmp_path)[:2]
    sig = (root / sb.SIG).read_bytes()
    assert not sig.endswith(b"\n")  # cosign reads a file that is not pure base64 as raw bytes
    r, s = decode_dss_signature(base64.b64decode(sig, validate=True))  # ASN.1 DER (r, s)
    assert r > 0 and s > 0
    assert (root / sb.PUB).read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert (root / sb.PUB).read_bytes() == pub.read_bytes()


def test_signing_again_keeps_a_valid_signature(tmp_path):
    root, pub, key = signed_bundle(tmp_path)
    before = (root / sb.SIG).read_bytes()
    assert sb.sign_tree(str(root), pkcs8(key))["changed"] is False
    assert (root / sb.SIG).read_bytes() == before
    # New sums: signed anew.
    (root / "README.md").write_text("# changed\n")
    make_bundle(root, dict(FILES, **{"README.md": "# changed\n"}))
    assert sb.sign_tree(str(root), pkcs8(key))["changed"] is True
    assert sb.verify_tree(str(root), str(pub))["verified"]


def test_the_bundles_own_key_shows_integrity_only(tmp_path):
    root = signed_bundle(tmp_path)[0]
    out = sb.verify_tree(str(root))
    assert out["verified"] and out["key_source"] == "bundle" and out["bundle_key_matches"] is None
    assert "integrity only: compare its fingerprint with the signer's key" in out["msg"]


# -- tamper -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rel", sorted(FILES))
def test_one_byte_changed_in_any_file_fails_naming_that_file(tmp_path, rel):
    root, pub = signed_bundle(tmp_path)[:2]
    flip_one_byte(root / rel)
    out = sb.verify_tree(str(root), str(pub))
    assert not out["verified"]
    assert out["mismatched"] == [rel] and out["signature"] == "verified"
    assert len(out["problems"]) == 1 and out["problems"][0].startswith("%s: changed since SHA256SUMS was written (sha256 " % rel)
    assert out["msg"].startswith("bundle NOT verified: %s: changed" % rel)


def test_a_changed_sha256sums_fails_the_signature(tmp_path):
    root, pub = signed_bundle(tmp_path)[:2]
    # The forger changes a file and writes its new sum: every sum matches, the signature does not.
    (root / "evidence/gang_scheduling.md").write_text("# gang_scheduling\n\n- Verdict: **fail**\n")
    make_bundle(root, dict(FILES, **{"evidence/gang_scheduling.md": "# gang_scheduling\n\n- Verdict: **fail**\n"}))
    out = sb.verify_tree(str(root), str(pub))
    assert not out["verified"] and out["mismatched"] == [] and out["signature"] == "invalid"
    assert out["problems"] == [
        "SHA256SUMS.sig does not verify with key %s: SHA256SUMS was changed after it was signed, or another key signed it" % out["fingerprint"]
    ]


def test_one_byte_changed_in_sha256sums_fails_the_signature(tmp_path):
    root, pub = signed_bundle(tmp_path)[:2]
    flip_one_byte(root / sb.SUMS, at=70)  # in the first path: that line now names a missing file too
    out = sb.verify_tree(str(root), str(pub))
    assert not out["verified"] and out["signature"] == "invalid"
    assert out["problems"][0].startswith("SHA256SUMS.sig does not verify")


def test_another_key_does_not_verify(tmp_path):
    root, pub = signed_bundle(tmp_path)[:2]
    other = tmp_path / "other.pub"
    other.write_bytes(signing.public_pem(new_key()))
    out = sb.verify_tree(str(root), str(other))
    assert not out["verified"] and out["signature"] == "invalid" and out["bundle_key_matches"] is False
    # A forger's re-signing with his own key and SHA256SUMS.pub: the bundle alone still verifies,
    # the signer's key does not.
    sb.sign_tree(str(root), pkcs8(new_key()))
    assert sb.verify_tree(str(root))["verified"]
    assert sb.verify_tree(str(root), str(pub))["signature"] == "invalid"


def test_a_missing_signature_fails_when_one_is_required(tmp_path):
    root = make_bundle(tmp_path / "bundle")
    assert sb.verify_tree(str(root))["verified"]  # unsigned, nothing required
    assert "unsigned (no SHA256SUMS.sig)" in sb.verify_tree(str(root))["msg"]
    out = sb.verify_tree(str(root), require_signature=True)
    assert not out["verified"] and out["signature"] == "absent"
    assert out["problems"] == ["SHA256SUMS.sig is absent: the bundle is not signed, and a signature is required"]
    pub = tmp_path / "k.pub"
    pub.write_bytes(signing.public_pem(new_key()))
    assert sb.verify_tree(str(root), str(pub))["problems"] == out["problems"]  # a given key requires one too


def test_missing_unlisted_and_malformed_entries_are_named(tmp_path):
    root, pub = signed_bundle(tmp_path)[:2]
    (root / "README.md").unlink()
    (root / "evidence" / "added.md").write_text("x\n")
    out = sb.verify_tree(str(root), str(pub))
    assert out["missing"] == ["README.md"] and out["unlisted"] == ["evidence/added.md"]
    assert "README.md: listed in SHA256SUMS but missing" in out["problems"]
    assert "evidence/added.md: not listed in SHA256SUMS (added after the sums were written)" in out["problems"]
    assert sb.verify_tree(str(root), str(pub), allow_unlisted=True)["problems"] == ["README.md: listed in SHA256SUMS but missing"]
    entries, bad = sb.parse_sums("%s  ../etc/passwd\n%s  /abs\nnot a line\n%s *ok.txt\n" % ("a" * 64, "b" * 64, "c" * 64))
    assert entries == [("c" * 64, "ok.txt")] and len(bad) == 3 and bad[0].startswith("SHA256SUMS line 1 is not")


def test_no_sums_is_named(tmp_path):
    (tmp_path / "b").mkdir()
    out = sb.verify_tree(str(tmp_path / "b"))
    assert not out["verified"] and out["problems"] == ["SHA256SUMS is missing: there is nothing to verify the files against"]


def test_remove_signature(tmp_path):
    root = signed_bundle(tmp_path)[0]
    assert sb.remove_signature(str(root), check_mode=True) and (root / sb.SIG).exists()
    assert sb.remove_signature(str(root)) and not (root / sb.SIG).exists() and not (root / sb.PUB).exists()
    assert sb.remove_signature(str(root)) is False


# -- key formats --------------------------------------------------------------------------------------
def test_sec1_and_encrypted_pkcs8_keys(tmp_path):
    key = new_key()
    sec1 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    assert signing.fingerprint(signing.load_private_key(sec1)) == signing.fingerprint(key)
    enc = pkcs8(key, "pw")
    assert signing.pem_type(enc) == "ENCRYPTED PRIVATE KEY"
    assert signing.fingerprint(signing.load_private_key(enc, "pw")) == signing.fingerprint(key)
    with pytest.raises(signing.SigningError, match="the key is encrypted: give its passphrase"):
        signing.load_private_key(enc)
    with pytest.raises(signing.SigningError, match="cannot read the private key"):
        signing.load_private_key(enc, "wrong")


def test_cosign_encrypted_key(tmp_path):
    key = new_key()
    pem = cosign_encrypted(key, "s3cret")
    assert signing.fingerprint(signing.load_private_key(pem, "s3cret")) == signing.fingerprint(key)
    with pytest.raises(signing.SigningError, match="cosign key: wrong passphrase"):
        signing.load_private_key(pem, "wrong")
    root = make_bundle(tmp_path / "b")
    sb.sign_tree(str(root), pem, "s3cret")
    pub = tmp_path / "k.pub"
    pub.write_bytes(signing.public_pem(key))
    assert sb.verify_tree(str(root), str(pub))["verified"]


def test_cosign_encrypted_key_without_pynacl_says_what_to_do(monkeypatch):
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": 65536, "r": 8, "p": 1}, "salt": "AA=="},
        "cipher": {"name": "nacl/secretbox", "nonce": "AA=="},
        "ciphertext": "AA==",
    }
    pem = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + base64.encodebytes(json.dumps(doc).encode()) + b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    monkeypatch.setattr(signing, "HAS_NACL", False)
    with pytest.raises(signing.SigningError, match=r"needs the Python library PyNaCl to open \(pip install PyNaCl\); or give an unencrypted"):
        signing.load_private_key(pem, "x")
    doc["kdf"]["params"]["N"] = 1 << 24  # a key that would make scrypt allocate 16 GiB is refused first
    pem = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + base64.encodebytes(json.dumps(doc).encode()) + b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    with pytest.raises(signing.SigningError, match="unsupported scrypt parameters"):
        signing.load_private_key(pem, "x")


def test_keys_that_are_not_p256_are_refused(tmp_path):
    with pytest.raises(signing.SigningError, match="the private key is secp384r1: a cosign-compatible key is ECDSA P-256"):
        signing.load_private_key(pkcs8(new_key(ec.SECP384R1())))
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(signing.SigningError, match="is ECDSA P-256"):
        signing.load_private_key(rsa_pem)
    with pytest.raises(signing.SigningError, match="not a PEM file"):
        signing.load_private_key(b"garbage")
    with pytest.raises(signing.SigningError, match="not a PEM public key"):
        signing.load_public_key(pkcs8(new_key()))


def test_verify_rejects_a_signature_that_is_not_base64():
    key = new_key()
    assert signing.verify(b"data", signing.sign(b"data", key) + b"\n", key)  # whitespace around is ignored
    assert not signing.verify(b"data", b"%%%not base64%%%", key)
    assert not signing.verify(b"datA", signing.sign(b"data", key), key)
