"""Deploy roles against the reference cluster with a stand-in chart (the real charts cannot be
downloaded here; their references and versions are data in the roles' defaults): the GPU operator
role, and every deploy role refusing bad input.  The other deploy roles: test_deploy_roles_stack.py."""

from __future__ import annotations

import threading
import time

import pytest

from tests.integration.deploy_role import play, received_values, release_exists
from tests.refcluster.config import REPO

pytestmark = pytest.mark.integration
STUB = str(REPO / "tests/fixtures/charts/gpu-operator")


@pytest.fixture(scope="module", autouse=True)
def _remove_stub_crd(k8s):
    """Helm never deletes CRDs; the stand-in chart's ClusterPolicy CRD is this module's to remove."""
    yield
    k8s.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "clusterpolicies.nvidia.com")


@pytest.fixture
def operator_release(k8s, kubeconfig):
    yield "gpu-operator"
    play(kubeconfig, "gpu_operator", gpu_operator_state="absent", gpu_operator_chart_path=STUB, gpu_operator_wait=False)


def test_gpu_operator_installs_with_overrides_and_is_idempotent(k8s, kubeconfig, operator_release):
    common = {
        "gpu_operator_chart_path": STUB,
        "gpu_operator_wait": False,
        "gpu_operator_driver_enabled": False,
        "gpu_operator_image_registry": "mirror.example.internal/nvidia",
        "gpu_operator_extra_values": {"operator": {"defaultRuntime": "containerd"}},
    }
    res, recap = play(kubeconfig, "gpu_operator", **common)
    assert recap and recap["failed"] == 0, res.stdout[-2000:]
    assert recap["changed"] == 1
    vals = received_values(k8s, "gpu-operator", "gpu-operator")
    assert vals["driver"]["enabled"] is False and vals["devicePlugin"]["enabled"] is True
    assert vals["devicePlugin"]["repository"] == vals["dcgmExporter"]["repository"] == "mirror.example.internal/nvidia"
    assert vals["operator"] == {"repository": "mirror.example.internal/nvidia", "defaultRuntime": "containerd"}
    res, recap = play(kubeconfig, "gpu_operator", **common)
    assert recap == {"ok": recap["ok"], "changed": 0, "failed": 0}, res.stdout[-2000:]


def test_gpu_operator_check_mode_installs_nothing(k8s, kubeconfig):
    res, recap = play(
        kubeconfig, "gpu_operator", check=True, gpu_operator_chart_path=STUB, gpu_operator_release="checkmode-op", gpu_operator_namespace="checkmode-ns"
    )
    assert recap and recap["failed"] == 0, res.stdout[-2000:]
    assert not release_exists(k8s, "checkmode-ns", "checkmode-op")


def _fake_operator(k8s, stop):
    """FAKE GPU operator: marks the ClusterPolicy Ready as the real operator does once its operands run."""
    while not stop.is_set():
        cp = k8s.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy") if k8s.served("nvidia.com/v1", "ClusterPolicy") else None
        if cp is not None:
            k8s.patch(
                "nvidia.com/v1",
                "ClusterPolicy",
                "cluster-policy",
                {
                    "status": {
                        "state": "ready",
                        "conditions": [
                            {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}
                        ],
                    }
                },
                subresource="status",
            )
            return
        stop.wait(1)


def test_gpu_operator_waits_for_cluster_policy_ready(k8s, kubeconfig, operator_release):
    stop = threading.Event()
    t = threading.Thread(target=_fake_operator, args=(k8s, stop), daemon=True)
    t.start()
    t0 = time.monotonic()
    res, recap = play(kubeconfig, "gpu_operator", gpu_operator_chart_path=STUB, gpu_operator_wait_timeout=60)
    stop.set()
    assert recap and recap["failed"] == 0, res.stdout[-2000:]
    assert time.monotonic() - t0 < 60  # the wait ended on the condition, not on its timeout


def test_gpu_operator_fails_when_the_policy_never_gets_ready(k8s, kubeconfig, operator_release):
    res, recap = play(kubeconfig, "gpu_operator", gpu_operator_chart_path=STUB, gpu_operator_wait_timeout=5)
    assert recap and recap["failed"] == 1
    assert "Wait for the ClusterPolicy to report Ready" in res.stdout


def test_gpu_operator_absent_removes_the_release(k8s, kubeconfig):
    play(kubeconfig, "gpu_operator", gpu_operator_chart_path=STUB, gpu_operator_wait=False, gpu_operator_release="gone-op")
    assert release_exists(k8s, "gpu-operator", "gone-op")
    _res, recap = play(
        kubeconfig, "gpu_operator", gpu_operator_chart_path=STUB, gpu_operator_wait=False, gpu_operator_release="gone-op", gpu_operator_state="absent"
    )
    assert recap and recap["failed"] == 0 and recap["changed"] == 1
    assert not release_exists(k8s, "gpu-operator", "gone-op")


@pytest.mark.parametrize(
    ("role", "bad"),
    [
        ("gpu_operator", {"gpu_operator_state": "maybe"}),
        ("dra_driver", {"dra_driver_wait_timeout": "soon"}),
        ("gpu_operator", {"gpu_operator_namespace": "Not_A_Label"}),
        ("prometheus_adapter", {"prometheus_adapter_prometheus_url": "prometheus:9090"}),
        ("monitoring", {"monitoring_scrape_interval": "often"}),
        ("monitoring", {"monitoring_grafana_enabled": "perhaps"}),
        ("gateway", {"gateway_implementation": "nginx"}),
        ("gateway", {"gateway_api_crds_src": "http://insecure.example/crds.yaml"}),
        ("kuberay", {"kuberay_namespace": "Kube_Ray"}),
        ("volcano", {"volcano_queue": "Not A Queue"}),
        ("kueue", {"kueue_integrations": "pod"}),
        ("cluster_autoscaler", {"cluster_autoscaler_scale_down_unneeded": "soon"}),
        ("cluster_autoscaler", {"cluster_autoscaler_provider": "gke-native"}),
        ("kai_scheduler", {"kai_scheduler_queue": "Default_Queue"}),
        ("disaggregated_serving", {"disaggregated_serving_backend": "dynamo"}),
        ("disaggregated_serving", {"disaggregated_serving_namespace": "LLM_D"}),
        ("disaggregated_serving", {"disaggregated_serving_backend": "manifests"}),
        ("inference_extension", {"inference_extension_target_ports": [{"number": 0}]}),
        ("inference_extension", {"inference_extension_gateway": "just-a-name"}),
        ("inference_extension", {"inference_extension_provider": "envoy"}),
    ],
)
def test_bad_input_is_refused_before_anything_changes(k8s, kubeconfig, role, bad):
    res, recap = play(kubeconfig, role, **bad)
    assert recap and recap["failed"] == 1 and recap["changed"] == 0
    assert "argument" in res.stdout.lower() or "must be DNS labels" in res.stdout
