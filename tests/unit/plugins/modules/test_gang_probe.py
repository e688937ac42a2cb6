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


STORED = "the group is stored as the probe asked"
WAIT_STORED = "the waiting group is stored as the probe asked"
PODGROUPS = [{"apiGroups": ["scheduling.k8s.io"], "apiVersions": ["*"], "resources": ["podgroups"], "operations": ["CREATE"]}]


def test_mutating_webhook_lowering_the_minimum_member_count_fails_and_is_named(run_module, monkeypatch):
    # Issue 22: objects were trusted as written; a webhook that lowers minCount turns the gang
    # into single pods while the probe believed it asked for all-or-nothing.
    c = cluster()
    fc.MutatingWebhook(c, "gang-defaults.policy.example", PODGROUPS, lambda o: o["spec"]["schedulingPolicy"]["gang"].update(minCount=1))
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed()[0] == STORED and WAIT_STORED in r.failed()
    assert r.reason.startswith(
        "%d checks failed: %s: PodGroup gang-fit spec.schedulingPolicy.gang.minCount: asked 2, stored 1 "
        "(mutating webhooks registered for them: gang-defaults.policy.example)" % (len(r.failed()), STORED)
    )
    # With a quorum of one, the scheduler places one member of the group that cannot fit.
    assert r.negative(WAIT_CASE)["refused"] is False


def test_mutating_webhook_moving_members_to_another_scheduler_fails(run_module, monkeypatch):
    c = cluster()
    pods = [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "operations": ["CREATE"]}]

    def reroute(pod):
        if (pod["spec"].get("schedulingGroup") or {}).get("podGroupName"):
            pod["spec"]["schedulingGroup"] = {"podGroupName": "platform-default"}

    fc.MutatingWebhook(c, "scheduling.policy.example", pods, reroute)
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "fail" and r.failed()[0] == STORED
    assert "Pod gang-fit-0 spec.schedulingGroup.podGroupName: asked gang-fit, stored platform-default" in r.check(STORED)["detail"]
    assert r.check(STORED)["detail"].endswith("(mutating webhooks registered for them: scheduling.policy.example)")


def test_a_webhook_that_only_adds_fields_passes(run_module, monkeypatch):
    c = cluster()
    fc.MutatingWebhook(c, "annotate.policy.example", PODGROUPS, lambda o: o["metadata"].setdefault("annotations", {}).update({"team": "ml"}))
    r = probe(run_module, monkeypatch, c)
    assert r.verdict == "pass" and r.ok(STORED) and r.ok(WAIT_STORED)
    assert r.check(STORED)["detail"] == "read back as asked: Pod gang-fit-0, Pod gang-fit-1, PodGroup gang-fit"
