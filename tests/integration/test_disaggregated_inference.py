"""disaggregated_inference_probe on the reference cluster.

The stack (tests/refcluster/manifests/pd-standin.yaml) is shaped like llm-d's ModelService release:
Deployments pd-prefill and pd-decode told apart by llm-d.ai/role, behind Gateway llm-d/pd-gateway
of the real Traefik.  The real Deployment/ReplicaSet controllers and the real scheduler scale them;
kwok runs their pods; the model servers are FAKE stand-ins (tests/refcluster/fakes/openai_pd.py):
the decode stand-in calls a prefill endpoint of the pd-prefill Service, both export vLLM's counters."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from tests.integration.reasons import first_failure
from tests.refcluster.config import disaggregated_args

pytestmark = pytest.mark.integration

NS = "llm-d"
ARGS = disaggregated_args()


def _checks(res):
    return {c["name"]: c for c in res["result"]["checks"]}


def replicas(k8s, name):
    return k8s.get("apps/v1", "Deployment", name, NS)["spec"]["replicas"]


def wait_rolled_out(k8s, name, timeout_s=60):
    """Until the Deployment's only pods are ready pods of its current template."""

    def done(d):
        st = (d or {}).get("status") or {}
        want = d["spec"]["replicas"]
        return (
            st.get("observedGeneration") == d["metadata"]["generation"]
            and st.get("updatedReplicas", 0) == want
            and st.get("readyReplicas", 0) == want
            and st.get("replicas", 0) == want
        )

    k8s.wait_for("apps/v1", "Deployment", name, done, NS, timeout_s=timeout_s, what="roll out")
    sel = "llm-d.ai/role=%s" % name.split("-")[-1]
    deadline = time.monotonic() + timeout_s
    while len(k8s.list("v1", "Pod", NS, label_selector=sel)["items"]) != replicas(k8s, name):
        assert time.monotonic() < deadline, "old %s pods never went away" % name
        time.sleep(0.5)


def test_prefill_and_decode_are_separate_scalable_and_both_traversed(ansible_module, k8s):
    res = ansible_module("disaggregated_inference_probe", run_id="it-pd-pass", **ARGS)
    r = res["result"]
    assert res["verdict"] == "pass", res["reason"]
    obs = r["observations"]
    assert obs["workloads"] == {"prefill": ["apps/v1/Deployment llm-d/pd-prefill"], "decode": ["apps/v1/Deployment llm-d/pd-decode"]}
    assert obs["responses"] == {"statuses": {"200": 10}, "completions": 10, "request_ids_echoed": 10}
    assert obs["counters"]["prefill"]["delta"] >= 10 and obs["counters"]["decode"]["delta"] >= 10
    # The stand-in's own record of the path: each request went from a pd-prefill pod to a pd-decode pod.
    [(pair, count)] = obs["standin_phase_headers"].items()
    prefill_pod, decode_pod = pair.split(" -> ")
    assert count == 10 and prefill_pod.startswith("pd-prefill-") and decode_pod.startswith("pd-decode-")
    for phase in ("prefill", "decode"):
        assert obs["scaling"][phase]["other_changes"] == []
        assert _checks(res)["%s scales up by itself" % phase]["ok"] is True
    [neg] = r["negative"]
    assert neg["refused"] is True and neg["outcome"].startswith("HTTP [404, 404, 404]; no counter")
    assert (replicas(k8s, "pd-prefill"), replicas(k8s, "pd-decode")) == (1, 1)
    # The evidence says the model servers were stand-ins.
    assert res["reason"].endswith("the model servers were stand-ins that speak the OpenAI API and report the phase that handled each request, not vLLM")


def test_declared_none_is_not_applicable_with_its_reason(ansible_module):
    res = ansible_module("disaggregated_inference_probe", run_id="it-pd-none", declared="none")
    assert res["verdict"] == "not_applicable" and "aggregated serving only" in res["reason"]


@pytest.mark.fault
def test_fails_when_decode_serves_whole_requests_itself(ansible_module, k8s, breaker):
    """Prefill and decode collapsed: the decode workload prefills locally (aggregated serving); the
    prefill pods still exist but no request reaches them."""
    live = k8s.get("apps/v1", "Deployment", "pd-decode", NS)
    ctr = dict(live["spec"]["template"]["spec"]["containers"][0])
    ctr["env"] = []
    patch = {"spec": {"template": {"spec": {"containers": [ctr]}}}}
    with breaker.patched("apps/v1", "Deployment", "pd-decode", patch, NS):
        wait_rolled_out(k8s, "pd-decode")
        res = ansible_module("disaggregated_inference_probe", run_id="it-pd-agg", **dict(ARGS, timeout=20))
    wait_rolled_out(k8s, "pd-decode")
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("requests traversed the prefill phase: vllm:request_success_total +0 on 1 prefill pod(s) for 10 requests"), (
        res["reason"]
    )
    assert _checks(res)["requests traversed the decode phase"]["ok"] is True
    assert "scaling" not in res["result"]["observations"]


@pytest.mark.fault
def test_fails_when_there_is_no_prefill_workload(ansible_module, k8s, breaker):
    with breaker.patched("apps/v1", "Deployment", "pd-prefill", {"spec": {"replicas": 0}}, NS):
        k8s.wait_for("apps/v1", "Deployment", "pd-prefill", lambda d: not (d.get("status") or {}).get("replicas"), NS, timeout_s=60, what="scale to 0")
        res = ansible_module("disaggregated_inference_probe", run_id="it-pd-noprefill", **ARGS)
    wait_rolled_out(k8s, "pd-prefill")
    assert res["verdict"] == "fail"
    assert res["reason"] == (
        "no ready prefill pod in namespace llm-d (selector llm-d.ai/role=prefill): prefill and decode are not served as separate components"
    )


@pytest.mark.fault
def test_fails_when_one_selector_takes_both_phases(ansible_module):
    res = ansible_module("disaggregated_inference_probe", run_id="it-pd-overlap", **dict(ARGS, prefill_selector={"app.kubernetes.io/name": "pd"}))
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("no pod serves both phases: 1 pod(s) match both selectors"), res["reason"]


@contextlib.contextmanager
def coupled_scaling(k8s):
    """A controller that scales decode whenever prefill is scaled, as an operator that treats the
    two phases as one unit would."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            want = replicas(k8s, "pd-prefill")
            if replicas(k8s, "pd-decode") != want:
                k8s.patch("apps/v1", "Deployment", "pd-decode", {"spec": {"replicas": want}}, NS, subresource="scale")
            stop.wait(0.2)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        k8s.patch("apps/v1", "Deployment", "pd-decode", {"spec": {"replicas": 1}}, NS, subresource="scale")
        wait_rolled_out(k8s, "pd-decode")


@pytest.mark.fault
def test_fails_when_scaling_prefill_drags_decode_along(ansible_module, k8s):
    with coupled_scaling(k8s):
        res = ansible_module("disaggregated_inference_probe", run_id="it-pd-coupled", **dict(ARGS, timeout=30))
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("decode unchanged while prefill scales: replicas 1 -> 2"), res["reason"]
    assert (replicas(k8s, "pd-prefill"), replicas(k8s, "pd-decode")) == (1, 1)


@pytest.mark.fault
def test_fails_when_the_model_servers_export_no_request_counter(ansible_module):
    res = ansible_module("disaggregated_inference_probe", run_id="it-pd-nometric", **dict(ARGS, success_metric="sglang:num_requests_total"))
    assert res["verdict"] == "fail"
    assert first_failure(res["reason"]).startswith("model servers export sglang:num_requests_total: no such series on")


def test_unreachable_gateway_fails_the_traversal(ansible_module):
    res = ansible_module("disaggregated_inference_probe", run_id="it-pd-nogw", **dict(ARGS, gateway="", gateway_url="http://127.0.0.1:1"))
    assert res["verdict"] == "fail"
    # The traversal checks fail with it (no request reached a server), after the cause.
    assert first_failure(res["reason"]).startswith("every request through the gateway completed: 0 of 10 were OpenAI completions"), res["reason"]


def test_bad_input_is_one_line(ansible_module):
    res = ansible_module("disaggregated_inference_probe", **dict(ARGS, gateway="no-namespace"))
    assert res.get("failed") and res["msg"] == "gateway must be namespace/name, got 'no-namespace'"
