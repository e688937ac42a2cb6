"""Interoperability with cosign, built from its Go module (github.com/sigstore/cosign/v3) by
tests/tools/build_cosign.sh (``make cosign``; ``make unit`` runs it first): cosign verify-blob
accepts the bundle's signature and refuses a tampered SHA256SUMS; a key from cosign generate-key-pair
signs bundles here; a signature from cosign sign-blob verifies here.  Offline: --insecure-ignore-tlog,
no upload.  Skipped, saying why, while the binary is absent."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb
from tests.unit.plugins.module_utils.test_signing import flip_one_byte, make_bundle, new_key, pkcs8

REPO = Path(__file__).resolve().parents[4]
BUILD = REPO / "tests" / "tools" / "build_cosign.sh"
VERSION = os.environ.get("COSIGN_VERSION") or re.search(r"COSIGN_VERSION:-(v[0-9.]+)", BUILD.read_text()).group(1)


@pytest.fixture(scope="module")
def cosign():
    """The cosign binary: $AIC_COSIGN, else the one build_cosign.sh keeps by version; built here only
    when AIC_BUILD_COSIGN=1 (cold it takes minutes)."""
    cache = Path(os.environ.get("AIC_CACHE") or Path.home() / ".cache" / "ai-conformance")
    binary = Path(os.environ.get("AIC_COSIGN") or cache / "tools" / ("cosign-" + VERSION) / "bin" / "cosign")
    if not os.access(binary, os.X_OK) and os.environ.get("AIC_BUILD_COSIGN") == "1":
        built = subprocess.run([str(BUILD), VERSION], stdout=subprocess.PIPE, text=True, timeout=1800, check=False)
        binary = Path(built.stdout.strip() or binary)
    if not os.access(binary, os.X_OK):
        pytest.skip("cosign %s is not built at %s: `make cosign` builds it from github.com/sigstore/cosign/v3 (minutes, once)" % (VERSION, binary))
    return str(binary)


def run(cosign, *args, cwd, password=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "COSIGN_PASSWORD": password or ""}
    return subprocess.run([cosign, *args], cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, check=False)


def verify_blob(cosign, root, key, blob="SHA256SUMS"):
    return run(cosign, "verify-blob", "--key", str(key), "--signature", sb.SIG, blob, "--insecure-ignore-tlog=true", cwd=root)


def test_cosign_verify_blob_accepts_our_signature_and_refuses_a_changed_sha256sums(cosign, tmp_path):
    key = new_key()
    root = make_bundle(tmp_path / "bundle")
    sb.sign_tree(str(root), pkcs8(key))
    ok = verify_blob(cosign, root, sb.PUB)  # the command the bundle's README gives, with the bundle's key
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout
    flip_one_byte(root / sb.SUMS, at=10)  # one hex digit of the first sum
    bad = verify_blob(cosign, root, sb.PUB)
    assert bad.returncode != 0 and "invalid signature" in bad.stdout, bad.stdout
    assert sb.verify_tree(str(root))["signature"] == "invalid"


def test_a_tampered_file_passes_cosign_but_not_the_sums(cosign, tmp_path):
    """cosign checks SHA256SUMS; the files are checked against it: both steps, standard tools."""
    root = make_bundle(tmp_path / "bundle")
    sb.sign_tree(str(root), pkcs8(new_key()))
    flip_one_byte(root / "evidence" / "gang_scheduling.md")
    assert verify_blob(cosign, root, sb.PUB).returncode == 0
    sums = subprocess.run(["sha256sum", "--quiet", "-c", sb.SUMS], cwd=str(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert sums.returncode != 0 and "evidence/gang_scheduling.md: FAILED" in sums.stdout
    assert sb.verify_tree(str(root))["mismatched"] == ["evidence/gang_scheduling.md"]


def test_a_key_from_cosign_generate_key_pair_signs_here(cosign, tmp_path):
    pytest.importorskip("nacl.secret", reason="PyNaCl is not installed: cosign's encrypted key format needs it")
    made = run(cosign, "generate-key-pair", cwd=tmp_path, password="s3cret")
    assert made.returncode == 0, made.stdout
    assert signing.pem_type((tmp_path / "cosign.key").read_bytes()) == "ENCRYPTED SIGSTORE PRIVATE KEY"
    root = make_bundle(tmp_path / "bundle")
    out = sb.sign_tree(str(root), (tmp_path / "cosign.key").read_bytes(), "s3cret")
    assert (root / sb.PUB).read_bytes() == (tmp_path / "cosign.pub").read_bytes()
    ok = verify_blob(cosign, root, tmp_path / "cosign.pub")
    assert ok.returncode == 0, ok.stdout
    assert sb.verify_tree(str(root), str(tmp_path / "cosign.pub"))["fingerprint"] == out["fingerprint"]


def test_a_cosign_sign_blob_signature_verifies_here(cosign, tmp_path):
    key = new_key()
    (tmp_path / "plain.key").write_bytes(pkcs8(key))
    imported = run(cosign, "import-key-pair", "--key", "plain.key", "--output-key-prefix", "imported", cwd=tmp_path, password="pw")
    assert imported.returncode == 0, imported.stdout
    root = make_bundle(tmp_path / "bundle")
    signed = run(
        cosign, "sign-blob", "--key", str(tmp_path / "imported.key"), "--tlog-upload=false", "--new-bundle-format=false",
        "--use-signing-config=false", "--output-signature", sb.SIG, sb.SUMS, cwd=root, password="pw",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stdout
    pub = tmp_path / "plain.pub"
    pub.write_bytes(signing.public_pem(key))
    out = sb.verify_tree(str(root), str(pub))
    assert out["verified"] and out["signature"] == "verified", out["problems"]
