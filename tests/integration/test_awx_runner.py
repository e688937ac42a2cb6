"""conformance.yml run the way AWX runs a job: a fresh clone of the committed HEAD as the project,
the project sync's ``ansible-galaxy collection install -r collections/requirements.yml`` (offline:
the Galaxy server is a closed port), then ``ansible_runner.run`` with a private data dir, the
project dir, the local inventory and extra vars, HOME set to the private data dir (an execution
environment's HOME is /runner, its private data dir).  One requirement (robust_controller, alone in
its lane) and an HTTP PUT upload of the bundle to a local recorder: about 1 to 2 minutes.

Asserts: status successful and rc 0; the job events in the artifacts dir; the set_stats
``conformance`` artifact (the playbook_on_stats event's artifact_data) with the upload location;
a bundle where robust_controller passed; the roles ran from the project's installed collection;
no file written outside the private data dir and the bundle dir (the checkout's bundle dirs, ~/.ansible,
~/.ansible_async, ansible's temporary files in the temp dir)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.refcluster.config import REPO

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


class Recorder(http.server.BaseHTTPRequestHandler):
    puts: dict[str, bytes] = {}

    def do_PUT(self):
        Recorder.puts[self.path] = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        return


def newer_files(root: Path, since: float, skip: tuple[Path, ...] = ()) -> list[str]:
    found = []
    if not root.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not any((here / d) == s or s in (here / d).parents for s in skip)]
        for name in filenames:
            p = here / name
            try:
                if p.lstat().st_mtime >= since:
                    found.append(str(p))
            except OSError:
                continue
    return found


def test_conformance_through_ansible_runner_as_awx(kubeconfig, tmp_path, monkeypatch):
    import ansible_runner

    # The job's environment is the runner's, not this checkout's: no collection path, no config of ours.
    for var in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    pdd = tmp_path / "pdd"
    project = pdd / "project"
    bundle_dir = tmp_path / "bundle"
    pdd.mkdir()
    real_home, tmp_root = Path.home(), Path(tempfile.gettempdir())
    tmp_before = set(os.listdir(tmp_root))
    start = time.time() - 1

    # Project sync: the committed HEAD, then its collections/requirements.yml, with no Galaxy reachable.
    subprocess.run(["git", "clone", "-q", str(REPO), str(project)], check=True)
    env = dict(os.environ, ANSIBLE_GALAXY_SERVER="http://127.0.0.1:9", HOME=str(pdd))
    sync = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "-r", "collections/requirements.yml", "-p", str(project / "collections")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert (project / "collections/ansible_collections/ai_conformance/kubernetes/galaxy.yml").is_file() or (
        project / "collections/ansible_collections/ai_conformance/kubernetes/MANIFEST.json"
    ).is_file()

    Recorder.puts = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upload_url = "http://127.0.0.1:%d/evidence" % server.server_address[1]
    try:
        r = ansible_runner.run(
            private_data_dir=str(pdd),
            project_dir=str(project),
            playbook="conformance.yml",
            inventory=str(project / "inventories/local"),
            ident="awx-job",
            skip_tags="upstream",
            # HOME is the private data dir, but the user's passwd home stays /root: Ansible expands
            # the async dir with ~<user> for async_status and with $HOME in the job itself, which
            # agree in an execution environment (HOME=/runner is runner's home) and not here, so
            # the async dir is named absolutely.
            envvars={
                "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "")),
                "HOME": str(pdd),
                "ANSIBLE_ASYNC_DIR": str(pdd / ".ansible_async"),
                "ANSIBLE_NOCOLOR": "1",
            },
            extravars={
                "conformance_requirements": ["robust_controller"],
                "conformance_domains": ["operators"],
                "conformance_kubeconfig": kubeconfig,
                "conformance_output_dir": str(bundle_dir),
                "conformance_version": "v1.37",
                "bundle_upload_destination": "http_put",
                "bundle_upload_http_url": upload_url,
                "bundle_upload_prefix": "nightly",
            },
            quiet=True,
            timeout=900,
        )
    finally:
        server.shutdown()
    stdout = r.stdout.read() if r.stdout else ""
    assert (r.status, r.rc) == ("successful", 0), stdout[-4000:]

    artifacts = pdd / "artifacts" / "awx-job"
    events = sorted((artifacts / "job_events").glob("*.json"))
    assert events, "no job events in %s" % artifacts
    kinds = {json.loads(e.read_text()).get("event") for e in events}
    assert {"playbook_on_start", "runner_on_ok", "playbook_on_stats"} <= kinds
    # The roles ran from the collection the project sync installed, not from this checkout.
    paths = {(e.get("event_data") or {}).get("task_path", "") for e in r.events}
    assert any(str(project / "collections" / "ansible_collections" / "ai_conformance") in p for p in paths), sorted(paths)[:10]

    stats = next(e for e in r.events if e["event"] == "playbook_on_stats")
    summary = stats["event_data"]["artifact_data"]["conformance"]
    bundle = Path(summary["bundle"])
    assert bundle_dir in bundle.parents
    assert summary["version"] == "v1.37" and summary["run_id"]
    run_id = summary["run_id"]
    assert summary["uploaded_to"] == "%s/nightly/%s/%s/" % (upload_url, bundle.name, run_id)
    assert "robust_controller" not in summary["must_failed_or_error"]
    assert r.stats["failures"] == {} and "refcluster" in r.stats["ok"]

    results = json.loads((bundle / "results.json").read_text())
    rows = {x["requirement"]: x for x in results["requirements"]}
    assert rows["robust_controller"]["verdict"] == "pass", rows["robust_controller"]
    # Every file of the bundle was PUT under <prefix>/<product>/<run_id>/, byte for byte.
    local = {"/evidence/nightly/%s/%s/%s" % (bundle.name, run_id, p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    assert Recorder.puts == local

    # Nothing written outside the private data dir and the bundle dir.
    outside = newer_files(real_home / ".ansible", start) + newer_files(real_home / ".ansible_async", start)
    # The checkout's default bundle dirs (other engineers' edits elsewhere in it are not this job's).
    outside += newer_files(REPO / ".build" / "evidence", start) + newer_files(REPO / ".build" / "evidence-replay", start)
    outside += [
        str(tmp_root / n)
        for n in set(os.listdir(tmp_root)) - tmp_before
        if n.startswith(("ansible", "tmp", "aic", "runner")) and (tmp_root / n) not in tmp_path.parents
    ]
    assert outside == [], outside
