"""The modules sign_bundle and verify_bundle: thin wrappers over module_utils signing_bundle, with
their documented options, return values, check mode and failures."""

from __future__ import annotations

import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb
from ansible_collections.ai_conformance.kubernetes.plugins.modules import sign_bundle, verify_bundle
from tests.unit.plugins.module_utils.test_signing import flip_one_byte, make_bundle, new_key, pkcs8


def key_files(tmp_path, passphrase=None):
    key = new_key()
    priv, pub = tmp_path / "evidence.key", tmp_path / "evidence.pub"
    priv.write_bytes(pkcs8(key, passphrase))
    pub.write_bytes(signing.public_pem(key))
    return priv, pub, key


def test_documented_options_and_returns_match_the_code():
    for mod, spec_keys in ((verify_bundle, {"path", "public_key", "require_signature", "allow_unlisted", "fail_on_error"}),
                           (sign_bundle, {"path", "key", "passphrase", "state"})):  # fmt: skip
        doc = yaml.safe_load(mod.DOCUMENTATION)
        assert set(doc["options"]) == spec_keys
        assert "ansible.builtin.action_common_attributes" in doc["extends_documentation_fragment"]
        yaml.safe_load(mod.EXAMPLES)
        yaml.safe_load(mod.RETURN)
    returned = set(yaml.safe_load(verify_bundle.RETURN))
    assert returned == {
        "verified",
        "checked",
        "mismatched",
        "missing",
        "unlisted",
        "signature",
        "key_source",
        "fingerprint",
        "bundle_key_matches",
        "problems",
        "msg",
    }


def test_sign_then_verify(run_module, tmp_path):
    root = make_bundle(tmp_path / "b")
    priv, pub, key = key_files(tmp_path, "pw")
    checked = run_module(sign_bundle.main, {"key": str(priv), "passphrase": "pw", "state": "checked"})
    assert not checked.failed and checked.result["fingerprint"] == signing.fingerprint(key) and not (root / sb.SIG).exists()
    dry = run_module(sign_bundle.main, {"path": str(root), "key": str(priv), "passphrase": "pw"}, check_mode=True)
    assert dry.result["changed"] and not (root / sb.SIG).exists()
    done = run_module(sign_bundle.main, {"path": str(root), "key": str(priv), "passphrase": "pw"})
    assert done.result["changed"] and done.result["msg"] == "SHA256SUMS signed with key %s" % signing.fingerprint(key)
    again = run_module(sign_bundle.main, {"path": str(root), "key": str(priv), "passphrase": "pw"})
    assert not again.result["changed"] and again.result["msg"].startswith("SHA256SUMS already signed")
    ok = run_module(verify_bundle.main, {"path": str(root), "public_key": str(pub)})
    assert not ok.failed and ok.result["verified"] and ok.result["signature"] == "verified" and ok.result["changed"] is False


def test_a_tampered_file_fails_the_task_naming_it(run_module, tmp_path):
    root = make_bundle(tmp_path / "b")
    priv, pub = key_files(tmp_path)[:2]
    run_module(sign_bundle.main, {"path": str(root), "key": str(priv)})
    flip_one_byte(root / "evidence" / "gang_scheduling.md")
    bad = run_module(verify_bundle.main, {"path": str(root), "public_key": str(pub)})
    assert bad.failed and bad.result["mismatched"] == ["evidence/gang_scheduling.md"]
    assert bad.result["msg"].startswith("bundle NOT verified: evidence/gang_scheduling.md: changed since SHA256SUMS was written")
    report = run_module(verify_bundle.main, {"path": str(root), "public_key": str(pub), "fail_on_error": False})
    assert not report.failed and report.result["verified"] is False


def test_wrong_passphrase_and_required_signature(run_module, tmp_path):
    root = make_bundle(tmp_path / "b")
    priv = key_files(tmp_path, "pw")[0]
    wrong = run_module(sign_bundle.main, {"path": str(root), "key": str(priv), "passphrase": "nope"})
    assert wrong.failed and wrong.result["msg"].startswith("cannot sign with %s: cannot read the private key" % priv)
    assert "nope" not in str(wrong.result)
    unsigned = run_module(verify_bundle.main, {"path": str(root), "require_signature": True})
    assert unsigned.failed and unsigned.result["problems"] == ["SHA256SUMS.sig is absent: the bundle is not signed, and a signature is required"]
    missing = run_module(verify_bundle.main, {"path": str(tmp_path / "nowhere")})
    assert missing.failed and missing.result["msg"] == "cannot verify %s: %s is not a directory (the evidence bundle holding SHA256SUMS)" % (
        tmp_path / "nowhere",
        tmp_path / "nowhere",
    )


def test_state_absent_removes_an_earlier_signature(run_module, tmp_path):
    root = make_bundle(tmp_path / "b")
    priv = key_files(tmp_path)[0]
    run_module(sign_bundle.main, {"path": str(root), "key": str(priv)})
    gone = run_module(sign_bundle.main, {"path": str(root), "state": "absent"})
    assert gone.result["changed"] and not (root / sb.SIG).exists() and not (root / sb.PUB).exists()
    assert run_module(sign_bundle.main, {"path": str(root), "state": "absent"}).result["changed"] is False
    needs_key = run_module(sign_bundle.main, {"path": str(root)})
    assert needs_key.failed and "key" in needs_key.result["msg"]
