"""disaggregated_inference_probe with its options left empty: the gateway, its hostname, the model and
the metrics ports discovered from the serving namespace of the fake cluster, and the one-line error
verdict of each case where the gateway or the model cannot be found."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import serving as sv
from ansible_collections.ai_conformance.kubernetes.plugins.modules import disaggregated_inference_probe as mod
from tests.unit import fakecluster as fc
from tests.unit.fake_k8s.install import deployment

NS = "llm-d"
MODEL = "refcluster/tiny-llm"
PREFILL = {"llm-d.ai/role": "prefill", "app.kubernetes.io/name": "pd"}
DECODE = {"llm-d.ai/role": "decode", "app.kubernetes.io/name": "pd"}
SET_GATEWAY = ": set gateway (namespace/name) or gateway_url"


class PortedServers(fc.ModelServers):
    """The shared stand-ins, counting where vLLM does: on the port a pod's vLLM states (``--port``),
    whichever port the request came in on (llm-d's routing sidecar forwards to it; the shared fake
    counts a decode request's prefill work on 8000).  A probe reading another port sees no growth."""

    def app(self, pod):
        handle = super().app(pod)
        if handle is None:
            return None

        def ported(port, method, path, query, body):
            out = handle(port, method, path, query, body)
            for uid, at in [k for k in self.done if self.vllm_port(k[0]) not in (None, k[1])]:
                moved = (uid, self.vllm_port(uid))
                self.done[moved] = self.done.get(moved, 0) + self.done.pop((uid, at))
            return out

        return ported

    def vllm_port(self, uid):
        pod = next((x for x in self.c.all("v1", "Pod") if x["metadata"]["uid"] == uid), None)
        stated = sv.server_arg(pod, "port") if pod else None
        return int(stated) if stated else None


def service(name, selector, target):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": selector, "ports": [{"name": "http", "port": 8000, "targetPort": target}]},
    }


def gateway(name):
    return {
        "apiVersion": fc.GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "web", "port": 80, "protocol": "HTTP", "hostname": "pd.refcluster.local"}]},
    }


def route(name, parents, backend="pd-decode"):
    return {
        "apiVersion": fc.GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": parents,
            "hostnames": ["pd.refcluster.local"],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}], "backendRefs": [{"name": backend, "port": 8000}]}],
        },
    }


def refcluster_pd(prefill_args=("--served-model-name=" + MODEL, "--port=18100"), decode=None, gateway_api=True):
    """tests/refcluster/manifests/pd-standin.yaml: prefill on 18100, decode on 18200, a Service per
    phase, Gateway pd-gateway and HTTPRoute pd-route (hostname pd.refcluster.local) to pd-decode.
    ``decode``: the decode pods' containers instead of one vllm container on 18200."""
    c = fc.reference_cluster(dra=False)
    if gateway_api:
        fc.GatewayController(c)
    c.model_servers = PortedServers(c)
    fc.serving_stack(c, NS, "pd-prefill", PREFILL, list(prefill_args))
    vllm = {"name": "vllm", "image": "refcluster.local/openai-pd-standin:v1", "args": ["--served-model-name=" + MODEL, "--port=18200"]}
    for ctr in decode or [vllm]:
        ctr.setdefault("env", []).append({"name": "AIC_STANDIN_PREFILL_SERVICE", "value": "pd-prefill"})
    c.apply(deployment(NS, "pd-decode", DECODE, decode or [vllm], labelled=False))
    c.apply(service("pd-prefill", PREFILL, 18100), service("pd-decode", DECODE, 18200 if decode is None else 8000))
    if gateway_api:
        c.apply(gateway("pd-gateway"), route("pd-route", [{"name": "pd-gateway"}]))
    return c


def run(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **dict({"serving_namespace": NS}, **args))


def outcome(r):
    return r.verdict, [(c["name"], c["ok"]) for c in r["checks"]], [(n["case"].split(" aic-")[0], n["refused"]) for n in r["negative"]]


def test_the_reference_cluster_needs_only_the_namespace_and_gives_the_verdict_of_the_given_options(run_module, monkeypatch):
    found = run(run_module, monkeypatch, refcluster_pd())
    assert found.verdict == "pass" and found.failed() == [] and found.undecided() == []
    d = found["observations"]["discovered"]
    assert {k: v["value"] for k, v in d.items()} == {
        "gateway": "llm-d/pd-gateway",
        "hostname": "pd.refcluster.local",
        "model": MODEL,
        "prefill_metrics_port": 18100,
        "decode_metrics_port": 18200,
    }
    assert d["gateway"]["from"] == "parentRefs of HTTPRoute pd-route in llm-d, which sends to Service pd-decode selecting the decode pods"
    assert d["hostname"]["from"] == "spec.hostnames of HTTPRoute llm-d/pd-route"
    assert d["decode_metrics_port"]["from"] == "--port of the decode pods' model server"
    assert found["observations"]["counters"]["prefill"]["delta"] == 10 and found["observations"]["counters"]["decode"]["delta"] == 10
    given = dict(model=MODEL, gateway="llm-d/pd-gateway", hostname="pd.refcluster.local", prefill_metrics_port=18100, decode_metrics_port=18200)
    told = run(run_module, monkeypatch, refcluster_pd(), **given)
    assert "discovered" not in told["observations"]
    assert outcome(found) == outcome(told)


def test_the_given_gateway_gets_its_routes_hostname(run_module, monkeypatch):
    r = run(run_module, monkeypatch, refcluster_pd(), gateway="llm-d/pd-gateway", model=MODEL)
    assert r.verdict == "pass"
    assert sorted(r["observations"]["discovered"]) == ["decode_metrics_port", "hostname", "prefill_metrics_port"]
    assert r["observations"]["discovered"]["hostname"]["value"] == "pd.refcluster.local"


def test_without_the_routes_hostname_the_request_misses_the_route(run_module, monkeypatch):
    # The host of the gateway URL (today's fallback) when no route gives one: the route's hostnames then do not match.
    r = run(run_module, monkeypatch, refcluster_pd(), gateway_url="http://10.96.0.10:80", model=MODEL)
    assert "hostname" not in r["observations"]["discovered"] and "gateway" not in r["observations"]["discovered"]
    assert r.verdict == "fail" and r.check("every request through the gateway completed")["ok"] is False


def test_given_metrics_ports_are_read_as_given(run_module, monkeypatch):
    r = run(run_module, monkeypatch, refcluster_pd(), decode_metrics_port=8200)
    assert "decode_metrics_port" not in r["observations"]["discovered"]
    assert r.verdict == "fail" and r.check("requests traversed the decode phase")["ok"] is False  # vLLM counts on 18200


def test_llm_d_decode_pods_are_read_on_the_vllm_port_not_the_routing_sidecars(run_module, monkeypatch):
    sidecar = {"name": "routing-proxy", "image": "ghcr.io/llm-d/llm-d-routing-sidecar:v0", "args": ["--port=8000", "--vllm-port=8200"]}
    vllm = {"name": "vllm", "image": "refcluster.local/openai-pd-standin:v1", "args": ["--served-model-name=" + MODEL, "--port", "8200"]}
    r = run(run_module, monkeypatch, refcluster_pd(decode=[sidecar, vllm]))
    assert r["observations"]["discovered"]["decode_metrics_port"]["value"] == 8200
    assert r.verdict == "pass" and r["observations"]["counters"]["decode"]["delta"] == 10


def test_pods_of_one_phase_on_different_ports_are_each_read_on_their_own(run_module, monkeypatch):
    c = refcluster_pd()
    other = dict(PREFILL, **{"app.kubernetes.io/name": "pd-b"})
    fc.serving_stack(c, NS, "pd-prefill-b", other, ["--served-model-name=" + MODEL, "--port=18101"])
    pods = sorted(x["metadata"]["name"] for x in c.pods_matching(NS, {"llm-d.ai/role": "prefill"}))
    last = next(x for x in c.pods_matching(NS, {"llm-d.ai/role": "prefill"}) if x["metadata"]["name"] == pods[-1])
    # The decode stand-ins call only the prefill pod that sorts last: read on the first pod's port, its work is not seen.
    c.patch("v1", "Service", "pd-prefill", {"spec": {"selector": last["metadata"]["labels"]}}, NS)
    r = run(run_module, monkeypatch, c)
    d = r["observations"]["discovered"]["prefill_metrics_port"]
    want = {x["metadata"]["name"]: int(sv.server_arg(x, "port")) for x in c.pods_matching(NS, {"llm-d.ai/role": "prefill"})}
    assert r.ok("requests traversed the prefill phase") is True
    assert d == {"value": want, "from": "--port of each prefill pod's model server (they differ)"} and len(set(want.values())) == 2


def test_a_pod_without_port_uses_the_old_default(run_module, monkeypatch):
    r = run(run_module, monkeypatch, refcluster_pd(prefill_args=("--served-model-name=" + MODEL,)))
    assert r["observations"]["discovered"]["prefill_metrics_port"] == {"value": 8000, "from": "the default for prefill: no prefill pod states --port"}


def _no_route(c):
    c.delete(fc.GATEWAY_API, "HTTPRoute", "pd-route", NS)


def _two_gateways(c):
    c.apply(gateway("other-gateway"), route("pd-route-b", [{"name": "other-gateway"}]))


def _mesh_parent(c):
    c.patch(fc.GATEWAY_API, "HTTPRoute", "pd-route", {"spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "pd-decode"}]}}, NS)


def _empty_selector(c):
    c.patch("v1", "Service", "pd-decode", {"spec": {"selector": None}}, NS)


def _other_namespace_backend(c):
    c.patch(fc.GATEWAY_API, "HTTPRoute", "pd-route", {"spec": {"rules": [{"backendRefs": [{"name": "pd-decode", "namespace": "elsewhere", "port": 80}]}]}}, NS)


@pytest.mark.parametrize(
    ("breaks", "reason"),
    [
        (_no_route, "no HTTPRoute in namespace llm-d sends to Service pd-decode, which selects the decode pods"),
        (_other_namespace_backend, "no HTTPRoute in namespace llm-d sends to Service pd-decode, which selects the decode pods"),
        (
            _two_gateways,
            "the HTTPRoutes to the decode pods in namespace llm-d name 2 Gateways: "
            "llm-d/other-gateway (HTTPRoute pd-route-b); llm-d/pd-gateway (HTTPRoute pd-route)",
        ),
        (_mesh_parent, "HTTPRoute pd-route in namespace llm-d sends to the decode pods but names no parent Gateway"),
        (_empty_selector, "no Service in namespace llm-d selects the decode pods"),
    ],
    ids=["no-route", "backend-elsewhere", "two-gateways", "no-parent-gateway", "no-selecting-service"],
)
def test_a_gateway_that_cannot_be_discovered_is_an_error_that_says_to_set_it(run_module, monkeypatch, breaks, reason):
    c = refcluster_pd()
    breaks(c)
    r = run(run_module, monkeypatch, c)
    assert (r.verdict, r.reason) == ("error", "cannot discover the gateway: " + reason + SET_GATEWAY)
    assert r["checks"] == [] and "scaling" not in r["observations"]


def test_a_cluster_without_httproutes_is_an_error_that_says_to_set_the_gateway(run_module, monkeypatch):
    r = run(run_module, monkeypatch, refcluster_pd(gateway_api=False))
    assert (r.verdict, r.reason) == ("error", "cannot discover the gateway: HTTPRoute is not served by this cluster" + SET_GATEWAY)


READ_FROM = "read from --served-model-name, --model or vllm serve <model>): set model"


@pytest.mark.parametrize(
    ("prefill", "decode", "reason"),
    [
        (["--port=18100"], ["--port=18200"], "no decode pod states one (decode pods: none stated; prefill pods: none stated; "),
        (["--model=other/llm"], None, "the prefill pods serve another model than the decode pods (decode pods: %s; prefill pods: other/llm; " % MODEL),
    ],
    ids=["none-stated", "prefill-disagrees"],
)
def test_a_model_that_cannot_be_discovered_is_an_error_that_says_to_set_it(run_module, monkeypatch, prefill, decode, reason):
    ctr = [{"name": "vllm", "image": "refcluster.local/openai-pd-standin:v1", "args": decode}] if decode else None
    r = run(run_module, monkeypatch, refcluster_pd(prefill_args=prefill, decode=ctr))
    assert (r.verdict, r.reason) == ("error", "cannot discover the model: " + reason + READ_FROM)
    assert r["observations"]["discovered"]["gateway"]["value"] == "llm-d/pd-gateway"  # what was found before is kept


def test_decode_pods_serving_different_models_is_an_error(run_module, monkeypatch):
    c = refcluster_pd()
    other = dict(DECODE, **{"app.kubernetes.io/name": "pd-b"})
    fc.serving_stack(c, NS, "pd-decode-b", other, ["vllm", "serve", "other/llm"])
    r = run(run_module, monkeypatch, c, gateway="llm-d/pd-gateway")
    assert (r.verdict, r.reason) == (
        "error",
        "cannot discover the model: the decode pods serve different models (decode pods: other/llm, %s; prefill pods: %s; " % (MODEL, MODEL) + READ_FROM,
    )


def test_a_given_model_is_not_discovered(run_module, monkeypatch):
    r = run(run_module, monkeypatch, refcluster_pd(prefill_args=["--served-model-name=other/llm", "--port=18100"]), model=MODEL)
    assert "model" not in r["observations"]["discovered"] and r.verdict == "pass"
