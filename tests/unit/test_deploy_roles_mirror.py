"""The play's registry mirror (conformance_image_registry / conformance_image_registry_map) in the
deploy roles: the Helm values each role hands the component role name the chart's images under the
mirror, an OCI chart reference moves with them, the role's own registry variable still wins, and
with neither knob set nothing changes.

Each play loads the roles' defaults and vars as they are (include_vars) and reads the values the
role would install with (no cluster, no helm)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.unit.conftest import playbook_env

REPO = Path(__file__).resolve().parents[2]
ROLES = {
    "gpu_operator": "_gpu_operator_values",
    "dra_driver": "_dra_driver_values",
    "kai_scheduler": "_kai_scheduler_values",
    "volcano": "_volcano_values",
    "kueue": "_kueue_values",
    "monitoring": "_monitoring_values",
    "prometheus_adapter": "_prometheus_adapter_values",
    "gateway": "_gateway_values",
    "kuberay": "_kuberay_values",
    "cluster_autoscaler": "_cluster_autoscaler_values",
    "inference_extension": "_inference_extension_values",
}
CHARTS = {
    "dra_driver": "oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu",
    "kueue": "oci://registry.k8s.io/kueue/charts/kueue",
    "volcano": "volcano-sh/volcano",
}
M = "mirror.example.test/ai"
# set_fact outlives its play: the later plays put the override back to the role's default.
UNSET = {"kuberay_image_repository": ""}


def play(name, variables, overrides=None):
    """``overrides``: role variables set after the role's files are loaded (include_vars outranks play vars)."""
    tasks = []
    for role, var in ROLES.items():
        for part in ("defaults", "vars"):
            tasks.append({"name": "load %s %s" % (role, part), "ansible.builtin.include_vars": str(REPO / "roles" / role / part / "main.yml")})
        if overrides:
            tasks.append({"name": "overrides", "ansible.builtin.set_fact": overrides})
        tasks.append({"name": "values of %s" % role, "ansible.builtin.set_fact": {"got_%s" % role: "{{ %s }}" % var}})
    for part in ("defaults", "vars"):
        tasks.append({"name": "load component %s" % part, "ansible.builtin.include_vars": str(REPO / "roles" / "component" / part / "main.yml")})
    for role, ref in CHARTS.items():
        tasks.append({"name": "the chart of %s" % role, "ansible.builtin.set_fact": {"component_chart_ref": ref}})
        tasks.append({"name": "chart of %s" % role, "ansible.builtin.set_fact": {"chart_%s" % role: "{{ _component_chart_ref }}"}})
    return {"name": name, "hosts": "localhost", "connection": "local", "gather_facts": False, "vars": variables, "tasks": tasks}


def run(tmp_path, plays):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(plays))
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(path),
        "-i",
        "localhost,",
        "-e",
        json.dumps({"ansible_python_interpreter": sys.executable}),
    ]
    res = subprocess.run(
        cmd, capture_output=True, text=True, cwd=str(REPO), env=playbook_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"), timeout=300, check=False
    )
    assert res.stdout.startswith("{"), res.stderr[-3000:]
    out = json.loads(res.stdout)
    facts = {}
    for p in out["plays"]:
        got = {}
        for t in p["tasks"]:
            host = t["hosts"]["localhost"]
            assert not host.get("failed"), (t["task"]["name"], host.get("msg"))
            got.update(host.get("ansible_facts", {}))
        facts[p["play"]["name"]] = got
    return facts


def test_mirror_prefix_map_and_none(tmp_path):
    facts = run(
        tmp_path,
        [
            play("prefix", {"conformance_image_registry": M}, {"kuberay_image_repository": "own.example.test/kuberay"}),
            play("map", {"conformance_image_registry_map": {"quay.io": "q.example.test/quay", "docker.io": "h.example.test/hub"}}, UNSET),
            play("none", {}, UNSET),
        ],
    )
    f = facts["prefix"]
    gpu = f["got_gpu_operator"]
    assert (gpu["operator"]["repository"], gpu["toolkit"]["repository"], gpu["validator"]["repository"]) == (
        M + "/nvidia",
        M + "/nvidia/k8s",
        M + "/nvidia/cloud-native",
    )
    assert gpu["node-feature-discovery"]["image"]["repository"] == M + "/nfd/node-feature-discovery"
    assert gpu["driver"]["enabled"] is True  # the role's own values are kept
    assert f["got_dra_driver"]["image"]["repository"] == M + "/dra-driver-nvidia/dra-driver-nvidia-gpu"
    assert f["got_kai_scheduler"]["global"]["registry"] == M + "/kai-scheduler/kai-scheduler"
    assert f["got_volcano"]["basic"]["image_registry"] == M
    assert f["got_kueue"]["controllerManager"]["manager"]["image"]["repository"] == M + "/kueue/kueue"
    mon = f["got_monitoring"]
    assert mon["prometheus"]["prometheusSpec"]["image"]["registry"] == M and mon["kube-state-metrics"]["image"]["registry"] == M
    assert mon["prometheus"]["prometheusSpec"]["retention"] == "24h"
    assert f["got_prometheus_adapter"]["image"]["repository"] == M + "/prometheus-adapter/prometheus-adapter"
    assert f["got_gateway"]["global"]["imageRegistry"] == M
    assert f["got_kuberay"]["image"]["repository"] == "own.example.test/kuberay"  # the role's own variable wins
    assert f["got_cluster_autoscaler"]["controller"]["image"]["repository"] == M + "/karpenter/controller"
    assert f["got_inference_extension"]["inferenceExtension"]["image"]["hub"] == M + "/gateway-api-inference-extension"
    assert f["chart_dra_driver"] == "oci://" + M + "/dra-driver-nvidia/charts/dra-driver-nvidia-gpu"
    assert f["chart_kueue"] == "oci://" + M + "/kueue/charts/kueue"
    assert f["chart_volcano"] == "volcano-sh/volcano"  # a repository chart is not an OCI reference

    f = facts["map"]
    mon = f["got_monitoring"]
    assert mon["prometheusOperator"]["image"]["registry"] == "q.example.test/quay"
    assert mon["kube-state-metrics"]["image"]["registry"] == "registry.k8s.io"  # a host the map does not name stays
    assert f["got_volcano"]["basic"]["image_registry"] == "h.example.test/hub"
    assert f["got_kuberay"]["image"]["repository"] == "q.example.test/quay/kuberay/operator"
    assert f["got_kueue"]["controllerManager"]["manager"]["image"]["repository"] == "registry.k8s.io/kueue/kueue"
    assert f["chart_kueue"] == CHARTS["kueue"]

    f = facts["none"]
    assert "operator" not in f["got_gpu_operator"] and "image" not in f["got_kuberay"]
    assert (
        "controllerManager" not in f["got_kueue"] and "global" not in f["got_monitoring"] and "image" not in f["got_monitoring"]["prometheus"]["prometheusSpec"]
    )
    assert "inferenceExtension" not in f["got_inference_extension"]
    assert [f["chart_%s" % r] for r in CHARTS] == list(CHARTS.values())
