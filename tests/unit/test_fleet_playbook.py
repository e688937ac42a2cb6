"""playbooks/fleet_summary.yml through real ansible-playbook, without a cluster: a stand-in for the
main job leaves on each host what the real one does (conformance_plan, run id, evidence_bundle_dir,
or a failed conformance_cluster) and fails the unreachable host; the summary play must still run
on localhost, read the reachable cluster's recorded bundle and give the other an error column with
the reason its cluster_info step registered.  Run alone, it reads the bundles from disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.unit.conftest import playbook_env

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "docs/samples/real-gpu/evidence/v1.37/real-gpu-h200/results.json"
RUN_ID = json.loads(RECORDED.read_text())["run_id"]
REASON = "cannot reach the Kubernetes API at https://127.0.0.1:9 to read /version: connection refused"


def inventory(tmp_path):
    out = tmp_path / "fleet-out"
    inv = {
        "all": {
            "children": {
                "clusters": {
                    "hosts": {
                        "gpu-a": {"fleet_platform": "oke", "fleet_metadata": {"region": "eu"}},
                        "down": {"fleet_platform": "eks"},
                    },
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                }
            },
            "vars": {
                "fleet_output_dir": str(out),
                "conformance_output_dir": "%s/{{ inventory_hostname }}" % out,
                "conformance_product": "{{ inventory_hostname }}",
                "fleet_hosts": "{{ groups['clusters'] }}",
            },
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    bundle = out / "gpu-a" / "v1.37" / "gpu-a"
    bundle.mkdir(parents=True)
    shutil.copy(RECORDED, bundle / "results.json")
    return path, out, bundle


STAND_IN = """
- name: Stand-in for the main job
  hosts: clusters
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        conformance_plan: {requirements: []}
        conformance_run_id: "%s"
    - ansible.builtin.set_fact:
        evidence_bundle_dir: "{{ conformance_output_dir }}/v1.37/{{ inventory_hostname }}"
      when: inventory_hostname == 'gpu-a'
    - ansible.builtin.set_fact:
        conformance_cluster: {failed: true, msg: "%s"}
      when: inventory_hostname == 'down'
    - ansible.builtin.fail:
        msg: cluster_info failed
      when: inventory_hostname == 'down'

- name: Summary
  ansible.builtin.import_playbook: %s
""" % (RUN_ID, REASON, REPO / "playbooks" / "fleet_summary.yml")


def run(args, tmp_path):
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), env=playbook_env(), timeout=300, check=False)


def test_the_summary_play_runs_after_a_failed_host_and_gives_it_an_error_column(tmp_path):
    inv, out, bundle = inventory(tmp_path)
    play = tmp_path / "fleet.yml"
    play.write_text(STAND_IN)
    res = run(["-i", str(inv), str(play)], tmp_path)
    assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-2000:]  # a failed host: the documented non-zero exit
    doc = json.loads((out / "fleet.json").read_text())
    cols = {c["name"]: c for c in doc["clusters"]}
    assert cols["gpu-a"]["status"] == "ok" and cols["gpu-a"]["bundle"] == str(bundle) and cols["gpu-a"]["platform"] == "oke"
    assert cols["gpu-a"]["metadata"] == {"region": "eu"}
    assert cols["down"] == dict(cols["down"], status="error", reason=REASON, bundle=None)
    recorded = {r["requirement"]: r["verdict"] for r in json.loads(RECORDED.read_text())["requirements"]}
    assert {rid: cells["gpu-a"]["verdict"] for rid, cells in doc["matrix"].items() if rid in recorded} == recorded
    assert {cells["down"]["verdict"] for cells in doc["matrix"].values()} == {"error"}
    assert (out / "fleet.html").is_file()

    # Run alone (an AWX workflow node): bundles from disk, and drift against the summary just written.
    res = run(["-i", str(inv), str(REPO / "playbooks" / "fleet_summary.yml")], tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]
    again = json.loads((out / "fleet.json").read_text())
    cols = {c["name"]: c for c in again["clusters"]}
    assert cols["gpu-a"]["status"] == "ok"
    assert cols["down"]["status"] == "error" and "cannot read" in cols["down"]["reason"]  # it never wrote a bundle
    assert again["drift"]["previous"] == str(out / "fleet.json")
    assert again["drift"]["changed"] == []  # every down cell was error before too


# -- the deferred MUST gate (conformance_defer_gate) ---------------------------------------------------
PLAY = yaml.safe_load((REPO / "playbooks" / "conformance.yml").read_text())[0]
GATES = [t for t in PLAY["tasks"] if t["name"].startswith(("Fail when a MUST", "Record the MUST gate"))]


def gate_play(tmp_path, defer):
    """conformance.yml's own gate tasks after a run whose MUST gang_scheduling failed; what they recorded."""
    facts = tmp_path / "gate.json"
    play = [
        {
            "name": "The gates",
            "hosts": "all",
            "gather_facts": False,
            "vars": {
                "_conformance_limited": False,
                "conformance_defer_gate": defer,
                "evidence_bundle_dir": "/b",
                "evidence_summary": {"must_failed_or_error": ["gang_scheduling"]},
            },
            "tasks": [
                *GATES,
                {"name": "Keep the gate", "ansible.builtin.copy": {"content": "{{ conformance_gate | default({}) | to_json }}", "dest": str(facts)}},
            ],
        }
    ]
    (tmp_path / "gates.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (tmp_path / "hosts.ini").write_text("c1 ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    res = run(["-i", str(tmp_path / "hosts.ini"), str(tmp_path / "gates.yml")], tmp_path)
    return res, json.loads(facts.read_text()) if facts.exists() else None


def test_the_gate_fails_the_host_unless_deferred_then_it_is_recorded(tmp_path):
    assert len(GATES) == 3
    res, gate = gate_play(tmp_path, False)
    assert res.returncode == 2 and "MUST requirements not passed: gang_scheduling" in res.stdout and gate is None
    res, gate = gate_play(tmp_path, True)
    assert res.returncode == 0, res.stdout[-3000:]
    assert gate["failed"] is True and gate["msg"].startswith("MUST requirements not passed: gang_scheduling")


def test_fleet_yml_defers_the_gate_and_the_summary_fails_last_naming_the_clusters(tmp_path):
    fleet = yaml.safe_load((REPO / "playbooks" / "fleet.yml").read_text())
    assert fleet[0]["ansible.builtin.import_playbook"] == "conformance.yml" and fleet[0]["vars"] == {"conformance_defer_gate": True}
    inv, out, _bundle = inventory(tmp_path)
    # Every cluster ran to its end and failed its (deferred) gate: none failed as a host.
    stand_in = STAND_IN.replace(
        "    - ansible.builtin.set_fact:\n        conformance_cluster:",
        "    - ansible.builtin.set_fact:\n        conformance_gate: {failed: true, msg: 'MUST requirements not passed: gang_scheduling'}\n"
        "    - ansible.builtin.set_fact:\n        conformance_cluster:",
    ).replace("    - ansible.builtin.fail:\n        msg: cluster_info failed\n      when: inventory_hostname == 'down'\n", "")
    (tmp_path / "fleet.yml").write_text(stand_in)
    res = run(["-i", str(inv), str(tmp_path / "fleet.yml")], tmp_path)
    assert res.returncode == 2, res.stdout[-3000:]
    assert (out / "fleet.json").is_file()
    line = next(x for x in res.stdout.splitlines() if x.startswith("fatal: [localhost]"))
    assert "MUST gate failed on 2 cluster(s): " in line
    assert "gpu-a: MUST requirements not passed: gang_scheduling" in line and "down: MUST requirements not passed: gang_scheduling" in line
    assert res.stdout.index("TASK [Write fleet.json and fleet.html]") < res.stdout.index("TASK [Fail when a cluster's MUST gate failed]")
