"""Interrupt matrix (issue 26 item 2): the main job killed at random points leaves nothing behind.

Each trial starts conformance.yml (lanes, the upstream suite left out) with its own run id, waits a
random time, then sends SIGINT, SIGTERM or SIGKILL either to ansible-playbook or to a module process
running under it (a probe in the middle of its work).  Whatever of the run is still alive 30 s later
is killed with SIGKILL, as when an AWX job is cancelled and its container removed: processes of the
run are found by a marker in their environment, so the probes that async daemonizes (the background
lane) are found too.  Then playbooks/cleanup.yml runs, and the test lists every object of every
served resource type (API discovery, not the sweep's own kind list: a kind the sweep forgets is a
leftover here) carrying the collection's managed-by label, and waits for that list to be empty.

The number of trials comes from AIC_INTERRUPT_TRIALS (3 in the integration suite; `make
interrupt-matrix` runs 30) and the points from AIC_INTERRUPT_SEED (default: the day).  Every trial is
written to .build/interrupt-matrix/trials.json (point, signal, target, stragglers killed, the leftovers of
the trial's own run, and apart those of other runs).
The last test runs the whole main job once more and requires it to pass.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RUN_ID_LABEL
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.signing_bundle import verify_tree
from tests.refcluster.config import REPO, kubeconfig_path

pytestmark = pytest.mark.fault

TRIALS = int(os.environ.get("AIC_INTERRUPT_TRIALS", "3"))
SEED = os.environ.get("AIC_INTERRUPT_SEED", time.strftime("%Y%m%d"))
RUN_S = float(os.environ.get("AIC_INTERRUPT_RUN_S", "240"))  # the span the kill points are drawn from
MANAGED = "app.kubernetes.io/managed-by=ai-conformance"
OUT = REPO / ".build" / "interrupt-matrix"
KINDS = [(sig, target) for target in ("playbook", "module") for sig in ("SIGINT", "SIGTERM", "SIGKILL")]


def schedule() -> list[dict[str, Any]]:
    """Stratified kill points over the run (one per slice of RUN_S), signals and targets in turn."""
    rng = random.Random(SEED)
    out = []
    for i in range(TRIALS):
        sig, target = KINDS[i % len(KINDS)]
        out.append({"trial": i, "at_s": round(2 + (i + rng.random()) * (RUN_S - 2) / TRIALS, 1), "signal": sig, "target": target})
    rng.shuffle(out)
    return out


def env_for(marker: str) -> dict[str, str]:
    return dict(
        os.environ,
        AIC_INTERRUPT_TRIAL=marker,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
    )


def playbook_cmd(playbook: str, extra: dict[str, Any]) -> list[str]:
    return [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(REPO / playbook),
        "-i",
        str(REPO / "inventories/local"),
        "--skip-tags",
        "upstream",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        json.dumps(extra),
    ]


def processes_of(marker: str) -> list[int]:
    """Every live process whose environment carries the trial's marker (forks, modules, async jobs)."""
    needle = ("AIC_INTERRUPT_TRIAL=%s" % marker).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def module_pids(marker: str, playbook_pid: int) -> list[int]:
    """Processes of the run that execute a module (AnsiballZ payloads), not ansible itself."""
    out = []
    for pid in processes_of(marker):
        if pid == playbook_pid:
            continue
        try:
            cmd = Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"AnsiballZ_" in cmd or b"ansible_module_" in cmd:
            out.append(pid)
    return out


def kill_all(marker: str) -> int:
    pids = processes_of(marker)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


def labelled_objects(k8s) -> list[str]:
    """Every object of every served, listable resource type that carries the managed-by label."""
    found = []
    paths = ["/api/v1"] + ["/apis/%s" % g["preferredVersion"]["groupVersion"] for g in k8s.get_path("/apis", "API groups")["groups"]]
    for path in paths:
        try:
            listing = k8s.get_path(path, "API resources")
        except ClusterError:  # an aggregated API that is down: its objects cannot be listed (nor created)
            continue
        for res in listing.get("resources", []):
            if "/" in res["name"] or "list" not in res.get("verbs", []) or res["name"] == "events":
                continue
            try:
                items = k8s.get_path("%s/%s?labelSelector=%s" % (path, res["name"], MANAGED), res["name"])["items"]
            except ClusterError:
                continue
            for item in items:
                md = item["metadata"]
                run = (md.get("labels") or {}).get(RUN_ID_LABEL, "?")
                found.append("%s/%s %s%s [run %s]" % (path, res["kind"], (md.get("namespace") + "/") if md.get("namespace") else "", md["name"], run))
    return sorted(found)


def wait_clean(k8s, run_id: str | None = None, timeout_s: float = 180) -> list[str]:
    """Wait until no labelled object (of ``run_id`` when given) is left; return those still there."""
    ours = (lambda left: [x for x in left if x.endswith("[run %s]" % run_id)]) if run_id else (lambda left: left)
    deadline = time.monotonic() + timeout_s
    left = ours(labelled_objects(k8s))
    while left and time.monotonic() < deadline:
        time.sleep(3)
        left = ours(labelled_objects(k8s))
    return left


def record(trial: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "trials.json"
    data = json.loads(path.read_text()) if path.is_file() else {"seed": SEED, "trials": []}
    data["trials"] = [t for t in data["trials"] if t["trial"] != trial["trial"] or t.get("seed") != SEED] + [dict(trial, seed=SEED)]
    path.write_text(json.dumps(data, indent=2) + "\n")


@pytest.mark.parametrize("trial", schedule(), ids=lambda t: "%02d-%s-%s-at-%ss" % (t["trial"], t["signal"], t["target"], t["at_s"]))
def test_interrupted_run_leaves_nothing_after_cleanup(refcluster, k8s, tmp_path, trial):
    marker = "it%s-%02d" % (SEED, trial["trial"])
    run_id = "int-%s-%02d" % (str(SEED)[-6:], trial["trial"])
    extra = {"conformance_run_id": run_id, "conformance_output_dir": str(tmp_path / "out")}
    # A session of its own: the test's signals never reach pytest.
    proc = subprocess.Popen(
        playbook_cmd("conformance.yml", extra),
        cwd=str(REPO),
        env=env_for(marker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    t0 = time.monotonic()
    sig = getattr(signal, trial["signal"])
    hit = None
    while proc.poll() is None and hit is None:
        if time.monotonic() - t0 >= trial["at_s"]:
            if trial["target"] == "playbook":
                hit = proc.pid
            else:
                mods = module_pids(marker, proc.pid)
                hit = mods[0] if mods else None
        if hit is None:
            time.sleep(0.5)
    if hit is not None:
        try:
            os.kill(hit, sig)
        except ProcessLookupError:
            hit = None
    trial["hit_at_s"] = round(time.monotonic() - t0, 1)
    trial["hit"] = "none (the run had ended)" if hit is None else trial["target"]
    try:
        trial["playbook_rc"] = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        trial["playbook_rc"] = None
    trial["stragglers_killed"] = kill_all(marker)
    proc.wait(timeout=30)
    # Partial evidence is marked incomplete, never taken for a complete bundle: a probe's result in
    # <version>/<product>/partial/ has INCOMPLETE.json beside it, and a bundle without it is a complete
    # one (asserted after the cleanup, which must run whatever this finds).
    out = tmp_path / "out"
    unmarked = [str(p) for p in out.glob("*/*/partial/*.json") if not (p.parent.parent / "INCOMPLETE.json").is_file()]
    unfinished = [str(p.parent) for p in out.glob("*/*/results.json") if not (p.parent / "INCOMPLETE.json").exists()]
    unverified = [d for d in unfinished if not verify_tree(d)["verified"]] if hit is not None else []

    cleanup = subprocess.run(
        playbook_cmd("playbooks/cleanup.yml", {"cleanup_run_id": run_id}),
        cwd=str(REPO),
        env=env_for(marker + "-cleanup"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    trial["cleanup_rc"] = cleanup.returncode
    # This trial's run is judged by its own objects: one an earlier trial left (recorded and failed
    # there) must not fail every trial after it; they are listed apart.
    left = wait_clean(k8s, run_id)
    trial["leftovers"] = left
    trial["left_by_other_runs"] = [x for x in labelled_objects(k8s) if not x.endswith("[run %s]" % run_id)]
    record(trial)
    assert cleanup.returncode == 0, cleanup.stdout[-3000:] + cleanup.stderr[-2000:]
    assert "Traceback" not in cleanup.stdout + cleanup.stderr
    assert left == [], "objects left after the interrupt at %s s and playbooks/cleanup.yml: %s" % (trial["hit_at_s"], left)
    assert unmarked == [], "partial results without INCOMPLETE.json after the interrupt at %s s" % trial["hit_at_s"]
    assert unverified == [], "bundles without INCOMPLETE.json that do not verify after the interrupt at %s s" % trial["hit_at_s"]


def test_the_next_run_passes_after_the_interrupts(refcluster, k8s, tmp_path):
    from tests.refcluster.ansible_run import run_conformance

    assert kubeconfig_path().is_file()
    res = run_conformance({"conformance_output_dir": str(tmp_path / "out")})
    assert res[0].returncode == 0, res[0].stdout[-4000:]
    results = json.loads(next((tmp_path / "out").rglob("results.json")).read_text())
    assert results["summary"]["counts"].get("fail", 0) == 0 and results["summary"]["counts"].get("error", 0) == 0, results["summary"]
    assert wait_clean(k8s) == []
