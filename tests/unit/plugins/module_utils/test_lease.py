"""module_utils/lease.py against the fake cluster: one holder at a time, a live holder makes the
other wait and give up naming it, a killed holder's Lease expires, a lost race is a miss, and a
probe's Lease goes with its run context's cleanup."""

from __future__ import annotations

import time

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult, Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RUN_ID_LABEL, RunContext
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import autoscale, gang
from tests.unit import fakecluster as fc
from tests.unit.fake_k8s.leases import serve_leases

NAME = lease.lease_name(lease.GPU_CAPACITY)


@pytest.fixture
def cluster():
    return serve_leases(fc.reference_cluster())


def holder(c, run_id, sleep=None, duration_s=30):
    return lease.ExclusiveLease(
        c,
        NAME,
        run_id,
        duration_s=duration_s,
        labels={RUN_ID_LABEL: run_id},
        clock=lambda: c.now,
        wall=lambda: fc.EPOCH + c.now,
        sleep=sleep or c.advance,
    )


def stored(c):
    return c.get(lease.API, lease.KIND, NAME, lease.NAMESPACE)


def test_the_first_run_takes_the_lease_and_release_deletes_it(cluster):
    a = holder(cluster, "run-a")
    assert a.acquire(wait_s=10) == 0
    live = stored(cluster)
    assert live["spec"]["holderIdentity"] == "run-a"
    assert live["spec"]["leaseDurationSeconds"] == 30
    assert live["metadata"]["labels"][RUN_ID_LABEL] == "run-a"
    assert a.release() is True
    assert stored(cluster) is None


def test_a_live_holder_makes_the_other_run_wait_then_give_up_naming_it(cluster):
    a = holder(cluster, "run-a")
    a.acquire(wait_s=1)

    def sleep_while_a_renews(seconds):
        cluster.advance(seconds)
        assert a.renew() is True

    b = holder(cluster, "run-b", sleep=sleep_while_a_renews)
    t0 = cluster.now
    with pytest.raises(lease.LeaseBusy) as info:
        b.acquire(wait_s=120, poll_s=5)
    assert info.value.holder == "run-a"
    assert 120 <= cluster.now - t0 < 130
    assert "held by run run-a" in str(info.value) and "waited 120 s" in str(info.value)
    assert stored(cluster)["spec"]["holderIdentity"] == "run-a"


def test_the_other_run_gets_it_as_soon_as_the_holder_releases(cluster):
    a = holder(cluster, "run-a")
    a.acquire(wait_s=1)
    ticks = []

    def sleep_then_release(seconds):
        cluster.advance(seconds)
        ticks.append(seconds)
        if len(ticks) == 3:
            a.release()
        else:
            a.renew()

    b = holder(cluster, "run-b", sleep=sleep_then_release)
    waited = b.acquire(wait_s=300, poll_s=2)
    assert waited == pytest.approx(6)
    assert stored(cluster)["spec"]["holderIdentity"] == "run-b"


def test_a_killed_holders_lease_expires_after_its_duration_on_the_waiters_clock(cluster):
    a = holder(cluster, "run-a", duration_s=30)
    a.acquire(wait_s=1)  # and never renewed again: the run was killed
    b = holder(cluster, "run-b")
    waited = b.acquire(wait_s=300, poll_s=2)
    assert 30 <= waited <= 34
    live = stored(cluster)
    assert live["spec"]["holderIdentity"] == "run-b"
    assert live["spec"]["leaseTransitions"] == 1
    assert b.previous_holder == "run-a"
    # The labels moved with it: run-a's cleanup (were it still alive) would leave it alone.
    assert live["metadata"]["labels"][RUN_ID_LABEL] == "run-b"
    assert a.release() is False
    assert stored(cluster)["spec"]["holderIdentity"] == "run-b"


def test_a_rerun_of_the_same_run_id_takes_its_own_lease_back_at_once(cluster):
    holder(cluster, "run-a").acquire(wait_s=1)
    again = holder(cluster, "run-a")
    assert again.acquire(wait_s=0) == 0
    assert stored(cluster)["spec"]["leaseTransitions"] == 0


def test_a_lost_race_is_a_miss_not_an_error(cluster):
    a = holder(cluster, "run-a", duration_s=30)
    a.acquire(wait_s=1)
    cluster.advance(40)
    b = holder(cluster, "run-b")
    b._seen = (stored(cluster)["metadata"]["resourceVersion"], cluster.now - 40)  # b has watched it expire
    plain_get = cluster.get

    def get_then_a_renews(*args, **kw):
        out = plain_get(*args, **kw)
        cluster.get = plain_get
        a.renew()  # between b's read and b's write
        return out

    cluster.get = get_then_a_renews
    assert b.try_acquire() is False
    assert stored(cluster)["spec"]["holderIdentity"] == "run-a"


def test_renewal_stops_once_the_lease_is_gone_or_taken(cluster):
    a = holder(cluster, "run-a")
    a.acquire(wait_s=1)
    before = stored(cluster)["spec"]["renewTime"]
    cluster.advance(5)
    assert a.renew() is True
    assert stored(cluster)["spec"]["renewTime"] > before
    cluster.delete(lease.API, lease.KIND, NAME, lease.NAMESPACE)
    assert a.renew() is False
    assert stored(cluster) is None  # never re-created by a renewal


def test_the_renewer_thread_renews_until_stopped(cluster):
    ticks = iter(range(10**6))
    a = lease.ExclusiveLease(cluster, NAME, "run-a", duration_s=1, wall=lambda: fc.EPOCH + next(ticks))
    a.acquire(wait_s=1)
    first = stored(cluster)["spec"]["renewTime"]
    a.start_renewing()
    deadline = time.monotonic() + 5
    while stored(cluster)["spec"]["renewTime"] == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored(cluster)["spec"]["renewTime"] != first
    assert a.release() is True
    a._thread.join(timeout=5)
    assert not a._thread.is_alive()


def probe_result(run_id):
    return ProbeResult(requirement="gang_scheduling", run_id=run_id)


def test_a_probes_lease_is_deleted_by_its_run_context_cleanup(cluster):
    ctx = RunContext(cluster, "run-a", "gang_scheduling")
    res = probe_result("run-a")
    held = lease.hold_for_probe(cluster, ctx, res, lease.GPU_CAPACITY, wait_s=10, clock=lambda: cluster.now, sleep=cluster.advance)
    assert held is not None
    held.stop_renewing()
    assert res.observations["lease"]["acquired"] is True
    assert stored(cluster)["metadata"]["labels"][RUN_ID_LABEL] == "run-a"
    report = ctx.cleanup()
    assert [r["outcome"] for r in report if r["kind"] == "Lease"] == ["deleted"]
    assert stored(cluster) is None


@pytest.mark.parametrize("module", [gang, autoscale])
def test_an_exclusive_probe_skips_naming_the_holder_when_another_run_keeps_it(cluster, module, monkeypatch):
    other = holder(cluster, "run-other")
    other.acquire(wait_s=1)

    class OtherRenewsMeanwhile(fc.FakeTime):
        def sleep(self, seconds):
            super().sleep(seconds)
            other.renew()

    monkeypatch.setattr(lease, "time", OtherRenewsMeanwhile(cluster))
    ctx = RunContext(cluster, "run-b", "gang_scheduling")
    res = probe_result("run-b")
    assert module.exclusive(cluster, ctx, res, {"exclusive_wait": 60}) is False
    assert res.verdict == Verdict.SKIP
    assert "held by run run-other" in res.reason and "waited 60 s" in res.reason
    assert res.observations["lease"]["held_by"] == "run-other"
    assert ctx.created == []  # nothing of run-b to clean up, and run-other's Lease is untouched
    assert stored(cluster)["spec"]["holderIdentity"] == "run-other"


def test_without_the_lease_api_the_probe_runs_alone_and_says_so():
    c = fc.reference_cluster()
    del c.kinds["coordination.k8s.io/v1"]["Lease"]  # an API server that does not serve Leases
    ctx = RunContext(c, "run-a", "gang_scheduling")
    res = probe_result("run-a")
    assert gang.exclusive(c, ctx, res, {}) is True
    assert res.observations["lease"]["acquired"] is False
    assert "not served" in res.observations["lease"]["skipped"]


def test_gang_probe_wired_to_the_lease_passes_and_leaves_no_lease(run_module, monkeypatch):
    from ansible_collections.ai_conformance.kubernetes.plugins.modules import gang_probe as mod

    c = serve_leases(fc.native_gang(fc.reference_cluster(dra=False), True))
    r = fc.run_probe(run_module, monkeypatch, mod, c)
    assert r.verdict == "pass", r.reason
    assert r["observations"]["lease"]["acquired"] is True and r["observations"]["lease"]["holder"] == "t1"
    assert [x["outcome"] for x in r["observations"]["cleanup"] if x["kind"] == "Lease"] == ["deleted"]
    assert stored(c) is None


def test_gang_probe_wired_to_the_lease_skips_while_another_run_holds_it(run_module, monkeypatch):
    from ansible_collections.ai_conformance.kubernetes.plugins.modules import gang_probe as mod

    c = serve_leases(fc.native_gang(fc.reference_cluster(dra=False), True))
    other = holder(c, "run-other")
    other.acquire(wait_s=1)

    class OtherRenewsMeanwhile(fc.FakeTime):
        def sleep(self, seconds):
            super().sleep(seconds)
            other.renew()

    monkeypatch.setattr(lease, "time", OtherRenewsMeanwhile(c))
    monkeypatch.setattr(lease, "WAIT_S", 90)
    r = fc.run_probe(run_module, monkeypatch, mod, c)
    assert r.verdict == "skip" and "held by run run-other" in r.reason
    assert "free_gpus" not in r["observations"]  # stopped before counting the capacity
    assert c.list("v1", "Namespace", label_selector="%s=t1" % RUN_ID_LABEL)["items"] == []  # created nothing


def test_cleanup_releases_the_lease_only_after_the_probes_pods_and_namespace_are_gone(cluster):
    # The Lease is taken after the probe's namespace and before its pods; released first, another
    # run would get the GPU capacity while these pods still hold it (seen on the reference cluster:
    # two runs' gang probes overlapped by the namespace's deletion time).
    ctx = RunContext(cluster, "run-a", "gang_scheduling")
    ns = ctx.ensure_namespace()
    res = probe_result("run-a")
    held = lease.hold_for_probe(cluster, ctx, res, lease.GPU_CAPACITY, wait_s=10, clock=lambda: cluster.now, sleep=cluster.advance)
    held.stop_renewing()
    ctx.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "member-0", "namespace": ns}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    report = ctx.cleanup()
    assert [r["kind"] for r in report] == ["Pod", "Namespace", "Lease"]
    assert stored(cluster) is None
