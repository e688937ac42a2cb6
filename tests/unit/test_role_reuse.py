"""Each domain role runs alone: a plain provisioning-style playbook (no conformance.yml around it)
includes the role by its FQCN with the role's own variables, in check mode, against a kubeconfig
whose server is a closed port.  The role gets to every probe task of its domain; each probe is handed
the kubeconfig, the context, the run id and the owner through the role's module_defaults block (the
invocation Ansible prints at -vvv shows the arguments the module received), says what it would do
(check mode: a skip result, nothing created) and the role publishes <role>_results.  A role given
only the run's variables (conformance_kubeconfig, conformance_run_id) takes those."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.conftest import closed_port, kubeconfig_text, playbook_env

REPO = Path(__file__).resolve().parents[2]
# What each role probes when it runs alone for checklist v1.37 (its default), in task order.
PROBES = {
    "accelerators": ["dra_support", "secure_accelerator_access", "driver_runtime_management", "gpu_sharing", "virtualized_accelerator"],
    "scheduling": ["gang_scheduling", "cluster_autoscaling"],
    "observability": ["accelerator_metrics", "ai_service_metrics", "pod_autoscaling"],
    "networking": ["ai_inference", "high_performance_networking", "disaggregated_inference", "advanced_inference_ingress"],
    "operators": ["robust_controller"],
    "security": ["workload_sandboxing"],
}


def run_alone(tmp_path, role, role_vars):
    """ansible-playbook --check -vvv of a plain play that includes ``role`` with ``role_vars``:
    (rc, output, the published <role>_results)."""
    results = tmp_path / "results.json"
    play = [
        {
            "name": "Provision, then check the %s domain" % role,
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"name": "Probe the domain", "ansible.builtin.include_role": {"name": "ai_conformance.kubernetes." + role}, "vars": role_vars},
                {
                    "name": "Keep what the role published",
                    "ansible.builtin.copy": {"content": "{{ %s_results | to_json }}" % role, "dest": str(results)},
                    "check_mode": False,
                },
            ],
        }
    ]
    (tmp_path / "provision.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (tmp_path / "hosts.ini").write_text("provisioner ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(tmp_path / "provision.yml"), "-i", str(tmp_path / "hosts.ini"), "--check", "-vvv"]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(tmp_path), env=playbook_env(), timeout=180, check=False)
    published = json.loads(results.read_text()) if results.exists() else None
    return res.returncode, res.stdout, published


def invocations(out, role):
    """requirement -> the module arguments of its probe task, from the -vvv output."""
    found = {}
    for section in out.split("\nTASK [")[1:]:
        named = re.match(r"ai_conformance\.kubernetes\.%s : Probe (\w+)\]" % role, section)
        if not named or "\nskipping: [provisioner]" in section:
            continue
        body = re.search(r"^ok: \[provisioner\] => (\{\n.*?\n\})$", section, re.S | re.M)
        assert body, section[:3000]
        found[named.group(1)] = json.loads(body.group(1))["invocation"]["module_args"]
    return found


def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text("https://127.0.0.1:%d" % closed_port(), context="unreachable"))
    return str(path)


@pytest.mark.parametrize("role", sorted(PROBES))
def test_a_domain_role_runs_alone_by_fqcn_and_hands_each_probe_its_cluster_and_run_id(tmp_path, role):
    kc = kubeconfig(tmp_path)
    role_vars = {role + "_kubeconfig": kc, role + "_context": "unreachable", role + "_run_id": "reuse-" + role, role + "_owner": "product"}
    rc, out, published = run_alone(tmp_path, role, role_vars)
    assert rc == 0, out[-4000:]
    args = invocations(out, role)
    assert list(args) == PROBES[role]
    for rid, given in args.items():
        assert (given["kubeconfig"], given["context"], given["run_id"], given["owner"]) == (kc, "unreachable", "reuse-" + role, "product"), rid
    # Check mode: each probe says what it would do and creates nothing.
    assert [r["requirement"] for r in published] == PROBES[role]
    for result in published:
        assert (result["verdict"], result["run_id"], result["owner"]) == ("skip", "reuse-" + role, "product"), result
        assert result["reason"].startswith("check mode:"), result["reason"]


def test_a_role_alone_falls_back_to_the_runs_variables(tmp_path):
    kc = kubeconfig(tmp_path)
    rc, out, published = run_alone(tmp_path, "operators", {"conformance_kubeconfig": kc, "conformance_run_id": "reuse-run"})
    assert rc == 0, out[-4000:]
    given = invocations(out, "operators")["robust_controller"]
    # No context: the kubeconfig's current one (the option is left out, not passed empty).
    assert (given["kubeconfig"], given["context"], given["run_id"], given["owner"]) == (kc, None, "reuse-run", "platform")
    assert [(r["requirement"], r["run_id"]) for r in published] == [("robust_controller", "reuse-run")]


def test_a_role_alone_for_an_older_checklist_leaves_out_the_probes_it_does_not_have(tmp_path):
    kc = kubeconfig(tmp_path)
    rc, out, published = run_alone(tmp_path, "networking", {"networking_kubeconfig": kc, "conformance_version": "v1.35"})
    assert rc == 0, out[-4000:]
    assert list(invocations(out, "networking")) == ["ai_inference"]
    assert [r["requirement"] for r in published] == ["ai_inference"]
