from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import dra_probe
from tests.unit.conftest import closed_port, kubeconfig_text


@pytest.fixture(autouse=True)
def _no_pool():
    cl._POOL.clear()


def test_unreachable_cluster_is_an_error_verdict_not_a_traceback(run_module, tmp_path):
    kc = tmp_path / "kc"
    kc.write_text(kubeconfig_text("http://127.0.0.1:%d" % closed_port()))
    res = run_module(dra_probe.main, {"kubeconfig": str(kc), "run_id": "u1"})
    assert not res.failed
    r = res.result["result"]
    assert (r["verdict"], r["requirement"], r["run_id"]) == ("error", "dra_support", "u1")
    assert r["reason"].startswith("cannot reach the Kubernetes API") and "\n" not in r["reason"]
    assert validate_result_dict(r) == []


def test_missing_kubeconfig_is_an_error_verdict(run_module, tmp_path):
    res = run_module(dra_probe.main, {"kubeconfig": str(tmp_path / "none")})
    assert res.result["verdict"] == "error"
    assert res.result["result"]["observations"]["error_kind"] == "config"


def test_bad_run_id_is_rejected_in_one_line(run_module):
    res = run_module(dra_probe.main, {"run_id": "Not_Valid!"})
    assert res.failed and res.result["msg"].startswith("run_id 'Not_Valid!' must be")


def test_check_mode_skips_without_touching_the_cluster(run_module, tmp_path):
    res = run_module(dra_probe.main, {"kubeconfig": str(tmp_path / "none"), "run_id": "u2"}, check_mode=True)
    assert res.result["verdict"] == "skip" and res.result["reason"].startswith("check mode")


def test_a_defect_in_a_probe_is_an_error_verdict_not_a_failed_task(run_module, monkeypatch):
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod

    class Boom:
        source = "fake"

    monkeypatch.setattr(probe_mod, "get_client", lambda params: Boom())
    monkeypatch.setattr(probe_mod, "check_reachable", lambda c: {})

    def broken_run(self, client, ctx, result):
        raise KeyError("status")

    monkeypatch.setattr(dra_probe.DraProbe, "run", broken_run)
    res = run_module(dra_probe.main, {"run_id": "u3"})
    assert not res.failed
    r = res.result["result"]
    assert r["verdict"] == "error" and r["reason"] == "internal error in the dra_support probe: KeyError: 'status'"
    assert "Traceback" in r["observations"]["traceback"]


@pytest.mark.parametrize(
    ("module", "args", "msg"),
    [
        ("gang_probe", {"group_size": 1}, "group_size must be at least 2"),
        ("gang_probe", {"observe_seconds": 0}, "observe_seconds must be at least 1"),
        ("autoscaler_probe", {"scale_up_timeout": 0}, "scale_up_timeout must be at least 1"),
        ("gang_probe", {"scheduler": "slurm"}, "value of scheduler must be one of"),
    ],
)
def test_scheduling_probes_reject_bad_input_in_one_line(run_module, tmp_path, module, args, msg):
    import importlib

    mod = importlib.import_module("ansible_collections.ai_conformance.kubernetes.plugins.modules.%s" % module)
    res = run_module(mod.main, dict(args, kubeconfig=str(tmp_path / "none")))
    assert res.failed and msg in res.result["msg"] and "\n" not in res.result["msg"]


# ---- verdict logic against the fake cluster (tests/unit/fakecluster.py) ----------------------------
from tests.unit import fakecluster as fc  # noqa: E402

RELEASE = "claim released after its pod is gone"
RUNTIME = "container sees exactly the allocated GPU"
CLASS = "allocated device matches the DeviceClass selectors"
STALE = "allocated device still published after allocation"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, dra_probe, cluster, **args)


def test_pass_on_kwok_nodes_is_partial_with_the_runtime_check_undecided(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster())
    assert r.verdict == "pass" and r.reason.startswith("partial: 1 of 9 checks not decided (%s)" % RUNTIME)
    assert r.undecided() == [RUNTIME] and r.check(RUNTIME)["kind"] == "runtime"
    assert "containers do not run" in r.check(RUNTIME)["detail"] or "no Ready node" in r.check(RUNTIME)["detail"]
    assert [n["refused"] for n in r["negative"]] == [True, True]
    assert "cannot allocate all claims" in r.negative("claim whose CEL selector matches no device")["outcome"]
    assert r["observations"]["published"]["devices"] == 16
    assert r.ok("freed device handed to the waiting claim") and r.ok(RELEASE) and r.ok(STALE)
    assert r.check(CLASS)["detail"] == (
        "gpu-0 matches DeviceClass gpu.nvidia.com: device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'"
    )


def test_full_pass_when_a_container_on_a_real_node_sees_exactly_its_gpu(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(runtime_node=True))
    assert (r.verdict, r.undecided()) == ("pass", [])
    assert r.reason.startswith("claim allocated refcluster-gpu-1/gpu-0 on refcluster-gpu-1")
    seen = r["observations"]["runtime_check"]
    assert seen["node"] == "refcluster-rt-1" and seen["seen"]["devices"] == ["nvidia0"] and seen["phase"] == "Succeeded"


def test_runtime_that_hands_every_gpu_to_a_claim_fails_the_runtime_check(run_module, monkeypatch):
    c = fc.reference_cluster(dra=True)
    fc.add_runtime_gpu_node(c, faults=("all-devices",))
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [RUNTIME]
    assert r.reason.startswith(RUNTIME + ": visible ['GPU-") and "(device nodes ['nvidia0', 'nvidia1'])" in r.reason


def test_runtime_checks_never_leaves_the_check_undecided_even_on_a_real_node(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(runtime_node=True), runtime_checks="never", undecided_runtime_checks="allow")
    assert r.verdict == "pass" and r.undecided() == [RUNTIME] and r.check(RUNTIME)["detail"] == "skipped: runtime_checks is never"


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda c: c.kinds.pop("resource.k8s.io/v1"), "the DRA API resource.k8s.io/v1 is not served by this cluster"),
        (lambda c: c.remove("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com"), "DeviceClass gpu.nvidia.com does not exist"),
        (
            lambda c: [c.remove("resource.k8s.io/v1", "ResourceSlice", s["metadata"]["name"]) for s in c.all("resource.k8s.io/v1", "ResourceSlice")],
            "no ResourceSlice publishes a device of driver gpu.nvidia.com",
        ),
    ],
)
def test_missing_dra_pieces_fail_before_creating_anything(run_module, monkeypatch, break_it, reason):
    c = fc.reference_cluster()
    break_it(c)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith(reason)
    assert not c.all("v1", "Pod") and r["negative"] == []


def test_claims_that_fit_nowhere_fail_the_positive_case(run_module, monkeypatch):
    c = fc.reference_cluster()
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):  # devices published, but not of the class's type
        for d in s["spec"]["devices"]:
            d["attributes"]["type"] = {"string": "mig"}
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == ["pod with a claim scheduled"]
    assert "cannot allocate all claims" in r.reason


def test_scheduler_ignoring_request_selectors_is_caught_by_the_unmatched_claim(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("dra-ignore-request-selectors")
    r = probe(run_module, monkeypatch, c)
    # The selector-blind allocator also hands the contender some other device: both show.
    assert r.verdict == "fail" and r.failed() == ["freed device handed to the waiting claim"]
    assert r.negative("claim whose CEL selector")["refused"] is False and r.negative("second claim")["refused"] is False
    assert r.negative("claim whose CEL selector")["outcome"].startswith("claim unallocated=False")


def test_allocator_handing_a_held_device_to_a_second_claim_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("dra-double-allocate")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason.startswith("negative case not proven refused: second claim selecting the held device")
    assert r.negative("claim whose CEL selector")["refused"] is True and r.negative("second claim")["refused"] is False


def test_class_selecting_another_drivers_devices_fails_the_driver_check(run_module, monkeypatch):
    c = fc.reference_cluster()
    other = c.obj("resource.k8s.io/v1", "ResourceSlice", "refcluster-gpu-1-gpu.nvidia.com")
    c.apply(dict(other, metadata={"name": "example"}, spec=dict(other["spec"], driver="gpu.example.com", pool={"name": "ex", "generation": 1})))
    c.obj("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com")["spec"]["selectors"] = [{"cel": {"expression": "device.driver == 'gpu.example.com'"}}]
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed()[0] == "allocated by the expected driver"
    assert "came from driver gpu.example.com, expected gpu.nvidia.com" in r.reason


def test_devices_without_a_unique_attribute_leave_the_contention_case_unproven(run_module, monkeypatch):
    c = fc.reference_cluster()
    for s in c.all("resource.k8s.io/v1", "ResourceSlice"):
        for d in s["spec"]["devices"]:
            d["attributes"].pop("uuid")
            d["attributes"].pop("resource.kubernetes.io/pciBusID")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: second claim for the held device"
    assert r.negative("second claim")["refused"] is None


def test_claim_controller_that_never_releases_fails(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("claim-controller-off")
    r = probe(run_module, monkeypatch, c)
    # The fault first, then its consequence: the contender never gets the device.
    assert r.verdict == "fail" and r.failed() == [RELEASE, "freed device handed to the waiting claim"]
    assert r.reason.startswith("2 checks failed: " + RELEASE)


def test_allocator_ignoring_the_device_class_selectors_fails_the_class_check(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("dra-ignore-class-selectors")
    # The first device of the first node is a MIG device of the same driver: not one the class selects.
    c.obj("resource.k8s.io/v1", "ResourceSlice", "refcluster-gpu-1-gpu.nvidia.com")["spec"]["devices"][0]["attributes"]["type"] = {"string": "mig"}
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [CLASS]
    assert r.reason == (
        CLASS + ": claim holder got device gpu-0 of pool refcluster-gpu-1, which DeviceClass gpu.nvidia.com does not select: "
        "device.attributes['gpu.nvidia.com'].type == 'gpu' fails (the device's type is 'mig')"
    )
    # The same cluster with an allocator that honours the class allocates gpu-1 and passes.
    c = fc.reference_cluster()
    c.obj("resource.k8s.io/v1", "ResourceSlice", "refcluster-gpu-1-gpu.nvidia.com")["spec"]["devices"][0]["attributes"]["type"] = {"string": "mig"}
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.ok(CLASS) and r["observations"]["allocation"]["results"][0]["device"] == "gpu-1"


def test_class_selector_of_a_form_not_evaluated_leaves_the_class_check_undecided(run_module, monkeypatch):
    c = fc.reference_cluster()
    dc = c.obj("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com")
    dc["spec"]["selectors"].append({"cel": {"expression": "device.attributes['gpu.nvidia.com'].index >= 0"}})
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and sorted(r.undecided()) == sorted([CLASS, RUNTIME])
    assert r.check(CLASS)["detail"] == (
        "DeviceClass gpu.nvidia.com: not evaluated: device.attributes['gpu.nvidia.com'].index >= 0: not a form evaluated here; every evaluated clause holds"
    )


def test_slice_withdrawn_after_allocation_fails_naming_the_stale_allocation(run_module, monkeypatch):
    c = fc.reference_cluster()
    c.faults.add("dra-plugin-withdraws-on-prepare")
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed() == [STALE]
    assert r.reason == (
        STALE + ": claim holder holds device gpu-0 of pool refcluster-gpu-1, which no ResourceSlice of gpu.nvidia.com publishes any more: a stale allocation"
    )
    assert r.ok("device published in a ResourceSlice")  # it was published when it was allocated
