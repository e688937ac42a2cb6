"""gang_probe's verdicts against the fake cluster (tests/unit/fakecluster.py) with the native
Workload API's gang plugin (the other backends are exercised on the reference cluster)."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import gang_probe as mod
from tests.unit import fakecluster as fc

WAIT_CASE = "group of 2 with 1 GPU(s) free"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def cluster(plugin=True):
    return fc.native_gang(fc.reference_cluster(dra=False), plugin)


def test_native_gang_places_whole_groups_and_holds_one_that_cannot_fit(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r.verdict == "pass" and r.failed() == [] and r.undecided() == []
    assert r["observations"]["scheduler"] == "native" and r["observations"]["free_gpus"] == {"refcluster-gpu-1": 8, "refcluster-gpu-2": 8}
    assert r.ok("the group counts every member") and r.ok("a smaller pod outside the group fits meanwhile")
    assert r.ok("the waiting group starts whole once capacity appears")
    neg = r.negative(WAIT_CASE)
    assert neg["refused"] is True and neg["outcome"].startswith("0/2 bound for 10s; PodGroupInitiallyScheduled=False Unschedulable")


def test_scheduler_without_the_gang_plugin_places_part_of_a_group_and_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(plugin=False))
    assert r.verdict == "fail"
    # The lone member bound takes the last free GPU, so the control pod does not fit either.
    assert r.failed() == ["the group counts every member", "a smaller pod outside the group fits meanwhile", "the started group counts every member"]
    neg = r.negative(WAIT_CASE)
    assert neg["refused"] is False and neg["outcome"].startswith("partial placement: gang-wait-0 bound while the group could not fit")


def test_gang_plugin_that_never_places_a_group_fails_the_positive_case(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(plugin="stuck"))
    assert r.verdict == "fail" and r.failed()[0] == "group that fits is placed whole"
    assert r.negative(WAIT_CASE)["refused"] is None


def test_no_gang_scheduler_served_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False))
    assert r.verdict == "fail" and r.reason.startswith("no gang scheduler is served")
    r = probe(run_module, monkeypatch, cluster(), scheduler="volcano")
    assert r.verdict == "fail" and r.reason == "the declared gang scheduler volcano is not served by the cluster (it serves: native)"


def test_kueue_installed_without_its_controller_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.kueue_crds_only(fc.reference_cluster(dra=False)), scheduler="kueue")
    assert r.verdict == "fail" and r.reason.endswith("never became Active within 60s (no Active condition): Kueue's controller is not reconciling")


def test_too_few_free_gpus_is_a_skip(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), group_size=17)
    assert r.verdict == "skip" and r.reason == "the cluster has 16 free nvidia.com/gpu; a group of 17 needs 17"


def test_too_many_blockers_leaves_the_negative_case_unproven(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), max_blockers=1)
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: group of 2 with 1 GPUs free"
    assert "above max_blockers 1" in r.negative("group of 2 with 1 GPUs free")["outcome"]
