"""Where a probe's time goes (observations.timing), counted on the fake cluster's virtual clock, and
what a timed-out probe keeps: the condition it waited for and the events, pods and logs it made."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import timeout_evidence as te
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import timing as tm
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import gang_probe
from tests.unit import fakecluster as fc

NAMED = ("connect", "setup", "wait", "observe", "cleanup", "evidence")


def check_consistent(t, duration_s):
    """The invariants of every timing: phases add up to the wall time, spans lie within it."""
    assert set(t) >= {"started_epoch", "wall_s", "phases_s", "spans", "spans_dropped", "api_requests"}
    phases = t["phases_s"]
    assert set(phases) == set(NAMED) | {"other"}
    assert all(v >= 0 for v in phases.values())
    assert sum(phases[k] for k in NAMED) <= t["wall_s"] + 0.005
    assert abs(sum(phases.values()) - t["wall_s"]) <= 0.01
    assert t["wall_s"] <= duration_s + 0.005
    for s in t["spans"]:
        assert 0 <= s["start"] <= s["end"] <= t["wall_s"] + 0.005, s
        assert s["phase"] in NAMED and s["what"]
    # Each phase's total is the time of its outermost spans (nested ones count to their parent).
    for k in NAMED:
        top = sum(s["seconds"] for s in t["spans"] if s["phase"] == k and not s.get("nested") and "thread" not in s)
        assert abs(top - phases[k]) <= 0.01, (k, top, phases[k])


def test_a_real_probe_records_each_phase_and_wait_on_one_timeline(run_module, monkeypatch):
    r = fc.run_probe(run_module, monkeypatch, gang_probe, fc.native_gang(fc.reference_cluster(dra=False)))
    assert r.verdict == "pass"
    t = r["observations"]["timing"]
    check_consistent(t, r["duration_s"])
    assert t["spans_dropped"] == 0
    # gang_probe watches the group that cannot fit for observe_seconds (10): an observe window.
    windows = [s for s in t["spans"] if s["phase"] == "observe"]
    assert len(windows) == 1 and windows[0]["window_s"] == 10 and windows[0]["what"].endswith("is_bound stays false for 10s")
    assert windows[0]["outcome"] == "held" and t["phases_s"]["observe"] >= 10
    # Its namespace is set up (created, then its default ServiceAccount awaited: a nested wait).
    ns_setup = [s for s in t["spans"] if s["phase"] == "setup" and s["what"].startswith("namespace aic-gang-scheduling-t1")]
    assert len(ns_setup) == 1
    nested_wait = [s for s in t["spans"] if s["phase"] == "wait" and s.get("nested") and "ServiceAccount" in s["what"]]
    assert nested_wait and nested_wait[0]["what"] == "ServiceAccount aic-gang-scheduling-t1/default to be created"
    # Every wait names its condition and its limit, and says whether it was met.
    waits = [s for s in t["spans"] if s["phase"] == "wait"]
    assert waits and all(s.get("outcome") in ("met", "timeout") and "timeout_s" in s for s in waits)
    # Cleanup comes last, once.
    cleanup = [s for s in t["spans"] if s["phase"] == "cleanup"]
    assert len(cleanup) == 1 and cleanup[0]["start"] >= max(s["end"] for s in t["spans"] if s["phase"] != "cleanup" and not s.get("nested"))
    # The fake cluster has no HTTP transport: nothing was counted, and nothing is made up.
    assert t["api_requests"] == {"total": 0, "by_verb": {}, "retries": 0}
    assert "timeout" not in r["observations"] and "timeout_evidence" not in r["observations"]


def test_timed_client_names_conditions_and_counts_nested_spans_once(monkeypatch):
    cluster = fc.reference_cluster(dra=False)
    fc.use(monkeypatch, cluster)
    timing = tm.Timing()
    client = tm.TimedClient(cluster, timing)
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tn"}})
    client.create(wl.pod("p", "tn", node_selector={"no-such-label": "x"}))
    with tm.active(timing):
        with tm.span("setup", "outer"):
            assert client.wait_until("v1", "Pod", "p", wl.is_unschedulable, "tn", 30)[0] is True
        ok, _last = client.wait_until("v1", "Pod", "p", lambda o: bool(o and o["spec"].get("nodeName")), "tn", 20)
        assert ok is False
        assert client.wait_until("v1", "Pod", "p", wl.is_bound, "tn", 5, what="be bound")[0] is False
        held, _last = client.holds("v1", "Pod", "p", wl.is_bound, "tn", 7)
        assert held is True
        tm.observe(3, "settle after the load")
    by_what = {s["what"]: s for s in timing.spans}
    assert by_what["create Namespace tn"]["phase"] == "setup"
    assert by_what["Pod tn/p until is_unschedulable"]["nested"] is True
    assert by_what["Pod tn/p until is_unschedulable"]["outcome"] == "met"
    lam = by_what["Pod tn/p until the probe's condition holds"]
    assert lam["outcome"] == "timeout" and lam["seconds"] >= 20 and lam["timeout_s"] == 20
    assert by_what["Pod tn/p to be bound"]["outcome"] == "timeout"
    assert by_what["Pod tn/p: is_bound stays false for 7s"]["outcome"] == "held"
    assert by_what["settle after the load"]["window_s"] == 3
    d = timing.to_dict()
    assert d["phases_s"]["wait"] == pytest.approx(20 + 5, abs=0.01)
    assert d["phases_s"]["observe"] == pytest.approx(7 + 3, abs=0.01)
    assert [s["what"] for s in timing.timed_out()] == ["Pod tn/p until the probe's condition holds", "Pod tn/p to be bound"]
    check_consistent(d, d["wall_s"])


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="unknown phase 'sleeping'"):
        with tm.Timing().span("sleeping"):
            pass


class TimeoutProbe(probe_mod.Probe):
    """Runs a pod that logs on the real-runtime node, then waits for a pod nothing can hold."""

    requirement = "dra_support"
    mode = "raise"

    def run(self, client, ctx, result):
        ns = ctx.ensure_namespace()
        ctx.create(wl.pod("kernel", ns, command=["uname", "-r"], node_selector={wl.HOSTNAME: "refcluster-rt-1"}, tolerations=[{"operator": "Exists"}]))
        client.wait_for("v1", "Pod", "kernel", lambda o: (o or {}).get("status", {}).get("phase") == "Succeeded", ns, 30, "succeed")
        ctx.create(wl.pod("stuck", ns, node_selector={"no-such-label": "x"}))
        if self.mode == "raise":
            client.wait_for("v1", "Pod", "stuck", wl.is_bound, ns, 40, "be bound to a node")
        elif self.mode == "decide":
            if not client.wait_until("v1", "Pod", "stuck", wl.is_bound, ns, 40)[0]:
                result.decide(Verdict.ERROR, "pod stuck was never placed in 40 s")
        else:
            result.check("the pod that fits runs", True, "it ran")
            result.negative_case("a pod nothing can hold", True, "unplaced")
            result.decide_from_checks("fine")


def timeout_main():
    TimeoutProbe().main()


@pytest.fixture
def timeout_probe(run_module, monkeypatch):
    def run(mode):
        monkeypatch.setattr(TimeoutProbe, "mode", mode)
        cluster = fc.reference_cluster(dra=False, runtime_node=True)
        return fc.run_probe(run_module, monkeypatch, type("M", (), {"main": staticmethod(timeout_main)}), cluster), cluster

    return run


def test_a_timeout_is_an_error_that_names_its_condition_and_keeps_events_and_logs(timeout_probe):
    r, cluster = timeout_probe("raise")
    ns = "aic-dra-support-t1"
    assert r.verdict == "error"
    assert r.reason == "timed out after 40s waiting for Pod %s/stuck to be bound to a node" % ns
    obs = r["observations"]
    assert obs["error_kind"] == "timeout"
    assert obs["timeout"]["waiting_for"] == "Pod %s/stuck to be bound to a node" % ns
    assert obs["timeout"]["timeout_s"] == 40 and obs["timeout"]["waited_s"] >= 40
    ev = obs["timeout_evidence"]
    assert ev["namespaces"] == [ns] and ev["errors"] == []
    failed = [e for e in ev["events"] if e["reason"] == "FailedScheduling" and e["object"] == "Pod/stuck"]
    assert failed and failed[0]["type"] == "Warning", ev["events"]
    # The log the pod on the real-runtime node wrote, read before cleanup deleted it.
    assert ev["logs"] == {"%s/kernel/main" % ns: fc.HOST_KERNEL + "\n"}
    pods = {p["name"]: p for p in ev["pods"]}
    assert pods["kernel"]["phase"] == "Succeeded" and pods["kernel"]["node"] == "refcluster-rt-1"
    assert pods["stuck"]["node"] == "" and any(c.startswith("PodScheduled=False (Unschedulable") for c in pods["stuck"]["conditions"])
    # Evidence first, then cleanup: the namespace is gone afterwards.
    t = obs["timing"]
    check_consistent(t, r["duration_s"])
    evidence = [s for s in t["spans"] if s["phase"] == "evidence"]
    cleanup = [s for s in t["spans"] if s["phase"] == "cleanup"]
    assert len(evidence) == 1 and len(cleanup) == 1 and evidence[0]["end"] <= cleanup[0]["start"]
    assert [s["outcome"] for s in t["spans"] if s["what"].endswith("/stuck to be bound to a node")] == ["timeout"]
    assert cluster.obj("v1", "Namespace", ns) is None or cluster.obj("v1", "Namespace", ns)["metadata"].get("deletionTimestamp")


def test_an_error_the_probe_decides_after_a_timed_out_wait_keeps_the_evidence_too(timeout_probe):
    r, _cluster = timeout_probe("decide")
    assert r.verdict == "error" and r.reason == "pod stuck was never placed in 40 s"
    assert r["observations"]["timeout"]["waiting_for"] == "Pod aic-dra-support-t1/stuck until is_bound"
    assert [e["object"] for e in r["observations"]["timeout_evidence"]["events"] if e["reason"] == "FailedScheduling"] != []


def test_a_probe_that_decides_keeps_no_timeout_evidence(timeout_probe):
    r, _cluster = timeout_probe("pass")
    assert r.verdict == "pass"
    assert "timeout" not in r["observations"] and "timeout_evidence" not in r["observations"]
    assert r["observations"]["timing"]["phases_s"]["evidence"] == 0


def test_gathered_evidence_is_bounded(monkeypatch):
    cluster = fc.reference_cluster(dra=False, runtime_node=True)
    fc.use(monkeypatch, cluster)
    cluster.create_obj({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big"}})
    pods = []
    for i in range(te.PODS_MAX + 2):
        pods.append(cluster.create_obj(wl.pod("p%d" % i, "big", node_selector={wl.HOSTNAME: "refcluster-rt-1"}, tolerations=[{"operator": "Exists"}])))
    cluster.settle()
    for p in pods:
        cluster.logs[p["metadata"]["uid"]] = "x" * (te.LOG_BYTES * 2)
    for i in range(te.EVENTS_MAX + 7):
        cluster.event(pods[0], "Tick", "event %d" % i)
    created = [{"apiVersion": "v1", "kind": "Namespace", "name": "big", "namespace": None}]
    ev = te.gather(cluster, created, "x=y")
    assert len(ev["events"]) == te.EVENTS_MAX and ev["events_left_out"] >= 7
    assert len(ev["pods"]) == te.PODS_MAX and ev["pods_left_out"] == 2
    assert all(len(text) <= te.LOG_BYTES for text in ev["logs"].values())
    assert sum(len(text) for text in ev["logs"].values()) <= te.LOG_BYTES_TOTAL
    assert any("left out" in e for e in ev["errors"])
