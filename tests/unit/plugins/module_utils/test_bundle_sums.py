"""SHA256SUMS in one step (report/signing_bundle.write_sums, module bundle_checksums): every bundle
file and nothing else, in the format sha256sum and verify_tree read, and the tree then verifies."""

from __future__ import annotations

import hashlib
import subprocess

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import signing_bundle as sb


def make_bundle(root):
    files = {
        "PRODUCT.yaml": "vendor: x\n",
        "results.json": "{}\n",
        "evidence/dra_support.md": "# dra\n",
        "evidence/junit/gang_scheduling/junit.xml": "<testsuites/>\n",
        "report.html": "<html></html>\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    # Not bundle files: an unfinished run's marks and the signature files.
    (root / "partial").mkdir()
    (root / "partial" / "dra_support.json").write_text("{}")
    for name in ("INCOMPLETE.json", "SHA256SUMS.sig", "SHA256SUMS.pub"):
        (root / name).write_text("x")
    return files


def test_sums_list_every_bundle_file_and_nothing_else(tmp_path):
    files = make_bundle(tmp_path)
    out = sb.write_sums(str(tmp_path))
    assert out["changed"] and out["files"] == len(files)
    order = sorted(files, key=str.lower)  # PRODUCT.yaml between evidence/ and report.html, as before
    assert order.index("PRODUCT.yaml") == 2
    want = "".join("%s  %s\n" % (hashlib.sha256(files[rel].encode()).hexdigest(), rel) for rel in order)
    assert (tmp_path / "SHA256SUMS").read_text() == want
    # sha256sum itself accepts the file.
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=str(tmp_path), check=False).returncode == 0
    # The same tree again: nothing to write.
    assert sb.write_sums(str(tmp_path))["changed"] is False


def test_check_mode_writes_nothing_and_a_changed_file_is_caught_by_verify(tmp_path):
    make_bundle(tmp_path)
    assert sb.write_sums(str(tmp_path), check_mode=True)["changed"] and not (tmp_path / "SHA256SUMS").exists()
    sb.write_sums(str(tmp_path))
    (tmp_path / "INCOMPLETE.json").unlink()
    (tmp_path / "SHA256SUMS.sig").unlink()
    (tmp_path / "SHA256SUMS.pub").unlink()
    import shutil

    shutil.rmtree(tmp_path / "partial")
    assert sb.verify_tree(str(tmp_path))["verified"]
    (tmp_path / "results.json").write_text('{"tampered": true}\n')
    assert not sb.verify_tree(str(tmp_path))["verified"]
