"""bundle_checksums seals a bundle in one step, as the evidence role calls it: the secret scan first
(scan_bundle's finding and message; nothing written on a finding), then SHA256SUMS, then the signature
(sign_bundle's signature, kept when it still verifies; or an earlier run's removed), check mode
honoured."""

from __future__ import annotations

import json

import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb
from ansible_collections.ai_conformance.kubernetes.plugins.modules import bundle_checksums, scan_bundle, sign_bundle, verify_bundle
from tests.unit.plugins.module_utils.test_secret_scan import planted
from tests.unit.plugins.module_utils.test_signing import make_bundle, new_key, pkcs8


def bundle(tmp_path):
    root = make_bundle(tmp_path / "b")
    (root / sb.SUMS).unlink()
    return root


def key_file(tmp_path, passphrase=None):
    key = new_key()
    (tmp_path / "evidence.key").write_bytes(pkcs8(key, passphrase))
    return tmp_path / "evidence.key", key


def test_documented_options_and_returns_match_the_code():
    doc = yaml.safe_load(bundle_checksums.DOCUMENTATION)
    assert set(doc["options"]) == {"path", "scan_secrets", "signature", "signing_key", "passphrase"}
    assert doc["options"]["signature"]["choices"] == ["keep", "present", "absent"]
    assert set(yaml.safe_load(bundle_checksums.RETURN)) == {"files", "path", "scanned", "findings", "fingerprint", "msg"}
    yaml.safe_load(bundle_checksums.EXAMPLES)


def test_by_default_only_sha256sums_is_written_and_a_signature_there_is_kept(run_module, tmp_path):
    root = bundle(tmp_path)
    (root / sb.SIG).write_text("old")
    res = run_module(bundle_checksums.main, {"path": str(root)})
    assert not res.failed and res.result["changed"] is True and res.result["files"] == len(sb.bundle_files(str(root)))
    assert res.result["msg"] == "SHA256SUMS lists %d files" % res.result["files"] and res.result["fingerprint"] is None
    assert "scanned" not in res.result and (root / sb.SIG).read_text() == "old"
    assert (root / sb.SUMS).read_text() == sb.sums_text(str(root))


def test_a_secret_fails_as_scan_bundle_fails_and_nothing_is_written(run_module, tmp_path):
    root = bundle(tmp_path)
    value, text = planted()["jwt"]
    (root / "results.json").write_text('{"ok": true}\n' + text)
    (root / sb.SIG).write_text("old")
    res = run_module(bundle_checksums.main, {"path": str(root), "scan_secrets": True, "signature": "absent"})
    scan = run_module(scan_bundle.main, {"path": str(root)})
    assert res.failed and res.result["msg"] == scan.result["msg"] and res.result["findings"] == scan.result["findings"]
    assert "results.json line 2: jwt" in res.result["msg"] and value not in json.dumps(res.result)
    assert not (root / sb.SUMS).exists() and (root / sb.SIG).read_text() == "old"


def test_signature_present_signs_as_sign_bundle_does_and_keeps_a_signature_that_verifies(run_module, tmp_path):
    root = bundle(tmp_path)
    priv, key = key_file(tmp_path, "pw")
    args = {"path": str(root), "scan_secrets": True, "signature": "present", "signing_key": str(priv), "passphrase": "pw"}
    dry = run_module(bundle_checksums.main, args, check_mode=True)
    assert dry.result["changed"] is True and dry.result["fingerprint"] == signing.fingerprint(key)
    assert not (root / sb.SUMS).exists() and not (root / sb.SIG).exists()
    done = run_module(bundle_checksums.main, args)
    fp = signing.fingerprint(key)
    assert not done.failed and done.result["fingerprint"] == fp and done.result["scanned"] == done.result["files"] == 4
    assert done.result["msg"] == "no secret in the %d files scanned; SHA256SUMS lists %d files; SHA256SUMS signed with key %s" % (
        done.result["scanned"],
        done.result["files"],
        fp,
    )
    (tmp_path / "signer.pub").write_bytes(signing.public_pem(key))
    ok = run_module(verify_bundle.main, {"path": str(root), "public_key": str(tmp_path / "signer.pub"), "require_signature": True})
    assert not ok.failed and ok.result["signature"] == "verified"
    sig = (root / sb.SIG).read_bytes()
    again = run_module(bundle_checksums.main, args)
    assert again.result["changed"] is False and again.result["msg"].endswith("SHA256SUMS already signed with key %s" % fp)
    assert (root / sb.SIG).read_bytes() == sig
    # What sign_bundle would do now: nothing either.
    assert run_module(sign_bundle.main, {"path": str(root), "key": str(priv), "passphrase": "pw"}).result["changed"] is False


def test_a_bad_key_fails_as_sign_bundle_fails_and_a_key_is_required(run_module, tmp_path):
    root = bundle(tmp_path)
    priv = key_file(tmp_path, "pw")[0]
    wrong = run_module(bundle_checksums.main, {"path": str(root), "signature": "present", "signing_key": str(priv), "passphrase": "nope"})
    assert wrong.failed and wrong.result["msg"].startswith("cannot sign with %s: cannot read the private key" % priv)
    assert "nope" not in str(wrong.result)
    needs_key = run_module(bundle_checksums.main, {"path": str(root), "signature": "present"})
    assert needs_key.failed and "signing_key" in needs_key.result["msg"]


def test_signature_absent_removes_an_earlier_runs_signature(run_module, tmp_path):
    root = bundle(tmp_path)
    priv = key_file(tmp_path)[0]
    run_module(bundle_checksums.main, {"path": str(root), "signature": "present", "signing_key": str(priv)})
    assert (root / sb.SIG).exists() and (root / sb.PUB).exists()
    dry = run_module(bundle_checksums.main, {"path": str(root), "signature": "absent"}, check_mode=True)
    assert dry.result["changed"] is True and (root / sb.SIG).exists()
    gone = run_module(bundle_checksums.main, {"path": str(root), "signature": "absent"})
    assert gone.result["changed"] is True and gone.result["msg"].endswith("; signature removed")
    assert not (root / sb.SIG).exists() and not (root / sb.PUB).exists()
    again = run_module(bundle_checksums.main, {"path": str(root), "signature": "absent"})
    assert again.result["changed"] is False and again.result["msg"].endswith("; no signature to remove")
