"""The evidence role signs SHA256SUMS when evidence_signing_key is given and playbooks/verify_bundle.yml
checks the bundle offline: a signed bundle verifies with the signer's key; one byte changed in an
evidence file fails naming the file; an unreadable key stops the role before it writes anything; an
unsigned bundle says so in README.md.  Runs ansible-playbook on localhost (no cluster; about 40 s for
the signed bundle: the whole role runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows
from tests.unit.plugins.module_utils.test_evidence import res
from tests.unit.plugins.module_utils.test_evidence_bundle import role_tasks, templar, trusted
from tests.unit.plugins.module_utils.test_signing import flip_one_byte, new_key, pkcs8

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "docs" / "samples" / "real-gpu" / "evidence" / "v1.37" / "real-gpu-h200" / "PRODUCT.yaml"
PASSPHRASE = "correct horse battery staple"
SEAL = "Scan the bundle for secrets, write SHA256SUMS, and sign it or remove an earlier run's signature"


def playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"), ANSIBLE_NOCOLOR="1")
    env.pop("COSIGN_PASSWORD", None)
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable]
    res_ = subprocess.run([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO), env=env, timeout=300, check=False)
    return res_.returncode, res_.stdout


def render(tmp_path, **extra):
    """The evidence role alone, from recorded results, into tmp_path/out."""
    play = [{"name": "Evidence", "hosts": "localhost", "gather_facts": False, "roles": [{"role": "ai_conformance.kubernetes.evidence"}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    variables = {
        "evidence_output_dir": str(tmp_path / "out"),
        "evidence_product": "signed-product",
        "evidence_metadata": yaml.safe_load(SAMPLE.read_text())["metadata"],
        "evidence_results": [res("gang_scheduling", "pass"), res("ai_inference", "fail", reason="no route")],
        "evidence_run_id": "r1",
        **extra,
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    rc, out = playbook(str(tmp_path / "play.yml"), "-e", "@%s" % (tmp_path / "vars.json"))
    return rc, out, tmp_path / "out" / "v1.37" / "signed-product"


def verify(bundle, *extra):
    return playbook(str(REPO / "playbooks" / "verify_bundle.yml"), "-e", "bundle=%s" % bundle, *extra)


def test_signed_bundle_verifies_and_a_changed_byte_is_named(tmp_path):
    key = new_key()
    (tmp_path / "evidence.key").write_bytes(pkcs8(key, PASSPHRASE))
    (tmp_path / "signer.pub").write_bytes(signing.public_pem(key))
    rc, out, bundle = render(tmp_path, evidence_signing_key=str(tmp_path / "evidence.key"), evidence_signing_passphrase=PASSPHRASE)
    assert rc == 0, out[-3000:]
    assert PASSPHRASE not in out
    assert (bundle / "SHA256SUMS.sig").exists() and (bundle / "SHA256SUMS.pub").read_bytes() == (tmp_path / "signer.pub").read_bytes()
    listed = [line.split("  ", 1)[1] for line in (bundle / "SHA256SUMS").read_text().splitlines()]
    assert "README.md" in listed and "evidence/gang_scheduling.md" in listed and not [n for n in listed if n.startswith("SHA256SUMS")]
    readme = (bundle / "README.md").read_text()
    assert "Signed: `SHA256SUMS.sig` is the signature of `SHA256SUMS`" in readme and signing.fingerprint(key) in readme
    # The role's defaults name this run's inventory, and a rerun bundle apart from this one (the
    # evidence files do not depend on where this bundle was written).
    assert (bundle / "evidence" / "gang_scheduling.md").read_text().rstrip().splitlines()[-2] == (
        "ansible-playbook ai_conformance.kubernetes.conformance -i localhost, -e "
        """'{"conformance_requirements": ["gang_scheduling"], "conformance_version": "v1.37", """
        """"conformance_output_dir": ".build/evidence-replay/gang_scheduling"}'"""
    )

    rc, out = verify(bundle, "-e", "public_key=%s" % (tmp_path / "signer.pub"))
    assert rc == 0 and "SHA256SUMS.sig verified with the given key %s" % signing.fingerprint(key) in out, out[-3000:]

    flip_one_byte(bundle / "evidence" / "gang_scheduling.md")
    rc, out = verify(bundle, "-e", "public_key=%s" % (tmp_path / "signer.pub"))
    assert rc != 0
    assert '"msg": "evidence/gang_scheduling.md: changed since SHA256SUMS was written (sha256 ' in out, out[-3000:]
    assert "bundle NOT verified: evidence/gang_scheduling.md: changed" in out


def render_readme(**variables):
    """README.md.j2 alone, as the role renders it (trim_blocks), from recorded results."""
    base = {
        "_evidence_out": build_rows([res("gang_scheduling", "pass")], "v1.37"),
        "evidence_version": "v1.37",
        "evidence_product": "p",
        "evidence_metadata": {},
        "evidence_cluster_version": "v1.37.2",
        **variables,
    }
    text = (REPO / "roles" / "evidence" / "templates" / "README.md.j2").read_text()
    return templar(base).template(trusted(text), escape_backslashes=False, overrides={"trim_blocks": True, "lstrip_blocks": False})


def test_the_readme_says_whether_the_bundle_is_signed_and_an_unsigned_run_removes_an_earlier_signature(tmp_path):
    unsigned = render_readme(evidence_signing_key="")
    assert "Unsigned: no signing key was given (`evidence_signing_key`), so nothing binds `SHA256SUMS` to the submitter" in unsigned
    assert "Signed:" not in unsigned
    signed = render_readme(evidence_signing_key="/k.pem", _evidence_signer={"fingerprint": "sha256:abc"})
    assert "Signed: `SHA256SUMS.sig` is the signature of `SHA256SUMS`" in signed and "fingerprint `sha256:abc`" in signed
    assert "cosign verify-blob --key <key> --signature SHA256SUMS.sig SHA256SUMS --insecure-ignore-tlog=true" in signed
    # One bundle_checksums task seals the bundle: the secret scan, SHA256SUMS (what it lists:
    # tests/unit/plugins/module_utils/test_bundle_sums.py), then the signature, or for an unsigned run
    # the removal of what an earlier signed run left (test_an_unsigned_run_removes_an_earlier_runs_signature).
    tasks = {t["name"]: t for t in role_tasks()}
    seal = tasks[SEAL]["ai_conformance.kubernetes.bundle_checksums"]
    assert (seal["path"], seal["scan_secrets"]) == ("{{ _evidence_dir }}", True)
    assert seal["signature"] == "{{ 'present' if evidence_signing_key | default('', true) | length > 0 else 'absent' }}"
    # Check mode skips it; the removal it would make is still reported.
    report = tasks["Report an earlier run's signature that an unsigned run removes (check mode)"]
    assert report["ai_conformance.kubernetes.sign_bundle"]["state"] == "absent"
    assert report["when"] == "ansible_check_mode and evidence_signing_key | default('', true) | length == 0"


def test_an_unsigned_run_removes_an_earlier_runs_signature(tmp_path):
    key = new_key()
    (tmp_path / "evidence.key").write_bytes(pkcs8(key))
    rc, out, bundle = render(tmp_path, evidence_signing_key=str(tmp_path / "evidence.key"))
    assert rc == 0 and (bundle / "SHA256SUMS.sig").exists() and (bundle / "SHA256SUMS.pub").exists(), out[-3000:]
    rc, out, bundle = render(tmp_path)
    assert rc == 0, out[-3000:]
    assert not (bundle / "SHA256SUMS.sig").exists() and not (bundle / "SHA256SUMS.pub").exists()
    assert "Unsigned: no signing key was given" in (bundle / "README.md").read_text()
    checked = sb.verify_tree(str(bundle))
    assert checked["verified"] and checked["signature"] == "absent" and "report.html" in (bundle / "SHA256SUMS").read_text(), checked


def test_an_unreadable_key_stops_the_role_before_any_file_is_written(tmp_path):
    (tmp_path / "evidence.key").write_bytes(pkcs8(new_key(), PASSPHRASE))
    rc, out, bundle = render(tmp_path, evidence_signing_key=str(tmp_path / "evidence.key"), evidence_signing_passphrase="wrong")
    assert rc != 0 and "cannot sign with %s: cannot read the private key" % (tmp_path / "evidence.key") in out, out[-3000:]
    assert not bundle.exists()
