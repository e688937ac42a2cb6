"""Deploy roles against the reference cluster with a stand-in chart (the real charts cannot be
downloaded here; their references and versions are data in the roles' defaults): the metrics stack,
the Gateway, the operators and schedulers, the autoscaler and the inference serving stack.  The GPU
operator role and the bad-input cases: test_deploy_roles.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.deploy_role import play, received_values, release_exists
from tests.refcluster.config import REPO, load_components

pytestmark = pytest.mark.integration


ADAPTER_STUB = str(REPO / "tests/fixtures/charts/prometheus-adapter")
MONITORING_STUB = str(REPO / "tests/fixtures/charts/kube-prometheus-stack")


def test_prometheus_adapter_installs_the_gpu_rule_and_waits_for_the_custom_metrics_api(k8s, kubeconfig):
    common = {
        "prometheus_adapter_chart_path": ADAPTER_STUB,
        "prometheus_adapter_release": "it-adapter",
        "prometheus_adapter_namespace": "it-adapter",
        "prometheus_adapter_prometheus_url": "http://prometheus-k8s.monitoring.svc",
        "prometheus_adapter_image_repository": "mirror.example.internal/prometheus-adapter",
    }
    try:
        # The wait is real: the reference cluster's own adapter backs v1beta1.custom.metrics.k8s.io.
        res, recap = play(kubeconfig, "prometheus_adapter", **common)
        assert recap and recap["failed"] == 0 and recap["changed"] == 1, res.stdout[-2000:]
        vals = received_values(k8s, "it-adapter", "it-adapter")
        assert vals["prometheus"] == {"url": "http://prometheus-k8s.monitoring.svc", "port": 9090}
        assert vals["rules"]["default"] is False and vals["image"] == {"repository": "mirror.example.internal/prometheus-adapter"}
        rule = vals["rules"]["custom"][0]
        # The same rule the reference cluster's adapter runs, which hpa_probe passes with.
        import yaml

        ref = yaml.safe_load((REPO / "tests/refcluster/manifests/prometheus-adapter-config.yaml").read_text())["rules"][0]
        assert rule == ref
        res, recap = play(kubeconfig, "prometheus_adapter", **common)
        assert recap == {"ok": recap["ok"], "changed": 0, "failed": 0}, res.stdout[-2000:]
    finally:
        play(kubeconfig, "prometheus_adapter", prometheus_adapter_state="absent", **common)


def test_monitoring_selects_monitors_everywhere_and_check_mode_installs_nothing(k8s, kubeconfig):
    common = {"monitoring_chart_path": MONITORING_STUB, "monitoring_release": "it-kps", "monitoring_namespace": "it-kps", "monitoring_wait": False}
    res, recap = play(kubeconfig, "monitoring", check=True, **common)
    assert recap and recap["failed"] == 0, res.stdout[-2000:]
    assert not release_exists(k8s, "it-kps", "it-kps")
    try:
        res, recap = play(kubeconfig, "monitoring", monitoring_image_registry="mirror.example.internal", **common)
        assert recap and recap["failed"] == 0 and recap["changed"] == 1, res.stdout[-2000:]
        vals = received_values(k8s, "it-kps", "it-kps")
        spec = vals["prometheus"]["prometheusSpec"]
        assert spec["podMonitorSelectorNilUsesHelmValues"] is False and spec["podMonitorNamespaceSelector"] == {}
        assert vals["grafana"]["enabled"] is False and vals["global"] == {"imageRegistry": "mirror.example.internal"}
    finally:
        play(kubeconfig, "monitoring", monitoring_state="absent", **common)


GATEWAY_STUB = str(REPO / "tests/fixtures/charts/gateway")
KUBERAY_STUB = str(REPO / "tests/fixtures/charts/kuberay-operator")


def test_gateway_installs_crds_and_a_class_the_real_controller_accepts(k8s, kubeconfig):
    crds = str(load_components()["gateway-api"].bin_dir / "assets" / "gateway.networking.k8s.io_httproutes.yaml")
    common = {
        "gateway_implementation": "traefik",
        "gateway_chart_path": GATEWAY_STUB,
        "gateway_namespace": "it-gateway",
        "gateway_class_name": "it-traefik",
        "gateway_api_crds_src": crds,
        "gateway_image_registry": "mirror.example.internal",
        "gateway_wait_timeout": 60,
    }
    try:
        res, recap = play(kubeconfig, "gateway", **common)
        assert recap and recap["failed"] == 0, res.stdout[-2000:]
        vals = received_values(k8s, "it-gateway", "traefik")
        assert vals["providers"]["kubernetesGateway"] == {"enabled": True} and vals["gatewayClass"] == {"enabled": False}
        assert vals["image"] == {"registry": "mirror.example.internal"}
        # The wait is real: the reference cluster's Traefik accepted the class the role created.
        cls = k8s.get("gateway.networking.k8s.io/v1", "GatewayClass", "it-traefik")
        assert cls["spec"]["controllerName"] == "traefik.io/gateway-controller"
        assert any(c["type"] == "Accepted" and c["status"] == "True" for c in cls["status"]["conditions"])
        res, recap = play(kubeconfig, "gateway", **common)
        assert recap and recap["failed"] == 0 and recap["changed"] == 0, res.stdout[-2000:]
    finally:
        play(kubeconfig, "gateway", gateway_state="absent", **common)
    assert k8s.get("gateway.networking.k8s.io/v1", "GatewayClass", "it-traefik") is None


def test_gateway_class_without_a_controller_times_out_readably(k8s, kubeconfig):
    common = {
        "gateway_implementation": "kgateway",
        "gateway_chart_path": GATEWAY_STUB,
        "gateway_namespace": "it-gw-none",
        "gateway_api_crds_src": "",
        "gateway_wait_timeout": 5,
    }
    try:
        res, recap = play(kubeconfig, "gateway", **common)
        assert recap and recap["failed"] == 1, res.stdout[-2000:]
        assert "GatewayClass" in res.stdout or "Accepted" in res.stdout
    finally:
        play(kubeconfig, "gateway", gateway_state="absent", **common)


def test_kuberay_waits_for_the_real_crd_and_webhook(k8s, kubeconfig):
    common = {"kuberay_chart_path": KUBERAY_STUB, "kuberay_namespace": "it-kuberay", "kuberay_image_repository": "mirror.example.internal/kuberay"}
    try:
        res, recap = play(kubeconfig, "kuberay", **common)
        assert recap and recap["failed"] == 0 and recap["changed"] == 1, res.stdout[-2000:]
        vals = received_values(k8s, "it-kuberay", "kuberay-operator")
        assert vals["webhooks"] == {"enabled": True} and vals["image"] == {"repository": "mirror.example.internal/kuberay"}
    finally:
        play(kubeconfig, "kuberay", kuberay_state="absent", **common)


PD_STUB = str(REPO / "tests/fixtures/charts/llm-d-modelservice")


def test_disaggregated_serving_installs_both_phases_and_waits_for_their_pods(k8s, kubeconfig):
    common = {"disaggregated_serving_chart_path": PD_STUB, "disaggregated_serving_namespace": "it-pd", "disaggregated_serving_release": "ms"}
    try:
        res, recap = play(
            kubeconfig,
            "disaggregated_serving",
            disaggregated_serving_model="Qwen/Qwen3-0.6B",
            disaggregated_serving_prefill_replicas=2,
            disaggregated_serving_extra_values={"routing": {"proxy": {"connector": "nixlv2"}}},
            **common,
        )
        assert recap and recap["failed"] == 0, res.stdout[-2000:]
        vals = received_values(k8s, "it-pd", "ms")
        assert vals["modelArtifacts"]["name"] == "Qwen/Qwen3-0.6B" and vals["modelArtifacts"]["uri"] == "hf://Qwen/Qwen3-0.6B"
        assert (vals["prefill"]["replicas"], vals["decode"]["replicas"]) == (2, 1)
        assert vals["routing"] == {"proxy": {"connector": "nixlv2"}}
        # The role returned only once the real controllers had made the pods and kwok had made them Ready.
        for role, want in (("prefill", 2), ("decode", 1)):
            pods = k8s.list("v1", "Pod", "it-pd", label_selector="llm-d.ai/role=%s" % role)["items"]
            ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
            assert len(ready) >= want, (role, len(ready))
    finally:
        play(kubeconfig, "disaggregated_serving", disaggregated_serving_state="absent", **common)
        k8s.delete("v1", "Namespace", "it-pd")


def test_volcano_waits_for_the_real_open_queue(k8s, kubeconfig):
    common = {
        "volcano_chart_path": str(REPO / "tests/fixtures/charts/volcano"),
        "volcano_namespace": "it-volcano",
        "volcano_image_registry": "mirror.example.internal",
    }
    try:
        res, recap = play(kubeconfig, "volcano", **common)
        assert recap and recap["failed"] == 0 and recap["changed"] == 1, res.stdout[-2000:]
        assert received_values(k8s, "it-volcano", "volcano")["basic"] == {"image_registry": "mirror.example.internal"}
        # A queue nobody opens: the wait gives up with the role failing, not a silent pass.
        res, recap = play(kubeconfig, "volcano", volcano_queue="no-such-queue", volcano_wait_timeout=5, **common)
        assert recap and recap["failed"] == 1, res.stdout[-2000:]
    finally:
        play(kubeconfig, "volcano", volcano_state="absent", **common)


def test_kueue_waits_for_the_real_crd_and_pod_webhook(k8s, kubeconfig):
    import yaml

    common = {"kueue_chart_path": str(REPO / "tests/fixtures/charts/kueue"), "kueue_namespace": "it-kueue"}
    try:
        res, recap = play(kubeconfig, "kueue", **common)
        assert recap and recap["failed"] == 0 and recap["changed"] == 1, res.stdout[-2000:]
        cfg = yaml.safe_load(received_values(k8s, "it-kueue", "kueue")["managerConfig"]["controllerManagerConfigYaml"])
        assert cfg["kind"] == "Configuration" and "pod" in cfg["integrations"]["frameworks"]
    finally:
        play(kubeconfig, "kueue", kueue_state="absent", **common)


def test_cluster_autoscaler_karpenter_waits_for_a_ready_node_pool(k8s, kubeconfig):
    import yaml

    pool = yaml.safe_load_all((REPO / "tests/refcluster/manifests/karpenter-gpu-pool.yaml").read_text())
    definition = next(d for d in pool if d and d["kind"] == "NodePool")
    definition["metadata"]["name"] = "it-gpu-pool"
    common = {
        "cluster_autoscaler_chart_path": str(REPO / "tests/fixtures/charts/karpenter"),
        "cluster_autoscaler_namespace": "it-karpenter",
        "cluster_autoscaler_cluster_name": "refcluster",
        "cluster_autoscaler_node_pool_definition": definition,
        "cluster_autoscaler_wait_timeout": 60,
    }
    try:
        res, recap = play(kubeconfig, "cluster_autoscaler", **common)
        assert recap and recap["failed"] == 0, res.stdout[-2000:]
        assert received_values(k8s, "it-karpenter", "karpenter")["settings"] == {"clusterName": "refcluster"}
        # The real Karpenter reconciled the pool the role applied.
        live = k8s.get("karpenter.sh/v1", "NodePool", "it-gpu-pool")
        assert any(c["type"] == "Ready" and c["status"] == "True" for c in live["status"]["conditions"])
    finally:
        play(kubeconfig, "cluster_autoscaler", cluster_autoscaler_state="absent", **common)
    assert k8s.get("karpenter.sh/v1", "NodePool", "it-gpu-pool") is None


def inference_extension_chart() -> str:
    """The upstream inferencepool chart from the Go module the reference cluster's endpoint picker is
    built from (the same release; the OCI registry cannot be reached here)."""
    b = load_components()["inference-extension"].build
    ref = "%s@%s" % (b["module"], b["version"])
    out = subprocess.run(["go", "mod", "download", "-json", ref], capture_output=True, text=True, check=True, cwd=str(REPO))
    return str(Path(json.loads(out.stdout)["Dir"]) / "config" / "charts" / "inferencepool")


def test_inference_extension_installs_the_upstream_pool_chart_and_routes_a_gateway_to_it(k8s, kubeconfig):
    assets = load_components()["inference-extension"].bin_dir / "assets"
    common = {
        "inference_extension_chart_path": inference_extension_chart(),
        "inference_extension_namespace": "inference",
        "inference_extension_pool": "it-pool",
        "inference_extension_crds_src": str(assets / "inference.networking.k8s.io_inferencepools.yaml"),
        "inference_extension_gateway": "inference/inference-gateway",
        "inference_extension_route_path": "/it-pool",
    }
    try:
        res, recap = play(
            kubeconfig,
            "inference_extension",
            inference_extension_model_server_labels={"app": "it-vllm"},
            inference_extension_target_ports=[{"number": 8000}, {"number": 8001}],
            inference_extension_extra_values={"inferenceExtension": {"flags": [{"name": "v", "value": 3}]}},
            **common,
        )
        assert recap and recap["failed"] == 0, res.stdout[-2000:]
        pool = k8s.get("inference.networking.k8s.io/v1", "InferencePool", "it-pool", "inference")
        assert pool["spec"]["selector"] == {"matchLabels": {"app": "it-vllm"}}
        assert pool["spec"]["targetPorts"] == [{"number": 8000}, {"number": 8001}]
        assert pool["spec"]["endpointPickerRef"]["name"] == "it-pool-epp" and pool["spec"]["endpointPickerRef"]["port"] == {"number": 9002}
        # The chart's endpoint picker, Available before the role returned (kwok plays its container).
        dep = k8s.get("apps/v1", "Deployment", "it-pool-epp", "inference")
        assert any(c["type"] == "Available" and c["status"] == "True" for c in dep["status"]["conditions"])
        args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[args.index("--pool-name") + 1] == "it-pool" and args[args.index("--pool-namespace") + 1] == "inference"
        assert args[args.index("--v") + 1] == "3"
        # The route: accepted by the (fake) inference gateway, which then lists the Gateway among the pool's parents.
        route = k8s.wait_for(
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "it-pool",
            lambda r: any(c["type"] == "Accepted" and c["status"] == "True" for e in (r or {}).get("status", {}).get("parents", []) for c in e["conditions"]),
            "inference",
            timeout_s=30,
            what="be accepted",
        )
        assert route["spec"]["rules"][0]["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "it-pool", "weight": 1}]
        k8s.wait_for(
            "inference.networking.k8s.io/v1",
            "InferencePool",
            "it-pool",
            lambda p: any(e["parentRef"]["name"] == "inference-gateway" for e in (p or {}).get("status", {}).get("parents", [])),
            "inference",
            timeout_s=30,
            what="get the Gateway as parent",
        )
    finally:
        res, recap = play(kubeconfig, "inference_extension", inference_extension_state="absent", **common)
        assert recap and recap["failed"] == 0, res.stdout[-2000:]
    assert k8s.get("inference.networking.k8s.io/v1", "InferencePool", "it-pool", "inference") is None
    assert k8s.get("gateway.networking.k8s.io/v1", "HTTPRoute", "it-pool", "inference") is None
