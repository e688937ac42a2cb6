"""disagg: scale targets from owner references, state diffs, vLLM counters, OpenAI requests over a real socket."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg as dg

# vLLM v0.11 /metrics, trimmed to the counter the probe reads (two finished_reason series).
VLLM_PAGE = """# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="Qwen/Qwen3-0.6B"} 7.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="Qwen/Qwen3-0.6B"} 3.0
vllm:request_success_total{engine="0",finished_reason="abort",model_name="Qwen/Qwen3-0.6B"} 0.0
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 2571.0
"""


def test_counter_sum_adds_every_series_and_tells_absent_from_zero():
    assert dg.counter_sum(VLLM_PAGE, "vllm:request_success_total") == 10.0
    assert dg.counter_sum(VLLM_PAGE, "vllm:prompt_tokens_total") == 2571.0
    assert dg.counter_sum(VLLM_PAGE, "dynamo_component_requests_total") is None
    assert dg.counter_sum("", "vllm:request_success_total") is None


def pod(name, ready=True, phase="Running", deleting=False, owner=None):
    md = {"name": name, "namespace": "llm-d", "uid": "uid-" + name}
    if deleting:
        md["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    if owner:
        md["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2], "controller": True}]
    return {"metadata": md, "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_is_ready_needs_running_ready_and_not_deleting():
    assert dg.is_ready(pod("a"))
    assert not dg.is_ready(pod("b", ready=False))
    assert not dg.is_ready(pod("c", phase="Pending"))
    assert not dg.is_ready(pod("d", deleting=True))


class OwnerClient:
    """Discovery and objects of a cluster with Deployments/ReplicaSets (scalable), LeaderWorkerSets
    (scalable) and a Dynamo-like graph kind without /scale."""

    DISCOVERY = {
        "apps/v1": [("deployments", "Deployment", True), ("replicasets", "ReplicaSet", True), ("statefulsets", "StatefulSet", True)],
        "leaderworkerset.x-k8s.io/v1": [("leaderworkersets", "LeaderWorkerSet", True)],
        "nvidia.com/v1alpha1": [("dynamographdeployments", "DynamoGraphDeployment", False)],
    }

    def __init__(self, objects):
        self.objects = objects
        self.discovered = []

    @staticmethod
    def gv_path(api_version):
        return "/apis/%s" % api_version

    def get_path(self, path, what=""):
        self.discovered.append(path)
        gv = path[len("/apis/") :]
        res = []
        for plural, kind, scale in self.DISCOVERY[gv]:
            res.append({"name": plural, "kind": kind})
            if scale:
                res.append({"name": plural + "/scale", "kind": "Scale"})
        return {"resources": res}

    def resources(self, api_version):
        return {entry[1]: {"name": entry[0]} for entry in self.DISCOVERY[api_version]}

    def get(self, api_version, kind, name, namespace=None):
        return self.objects.get((kind, name))


def obj(name, owner=None):
    return pod(name, owner=owner)


def test_scale_target_is_the_highest_scalable_owner():
    c = OwnerClient(
        {
            ("ReplicaSet", "pd-decode-5d8"): obj("pd-decode-5d8", ("apps/v1", "Deployment", "pd-decode")),
            ("Deployment", "pd-decode"): obj("pd-decode"),
        }
    )
    ref = dg.scale_target(c, pod("pd-decode-5d8-abc", owner=("apps/v1", "ReplicaSet", "pd-decode-5d8")))
    assert (ref["kind"], ref["name"], ref["uid"]) == ("Deployment", "pd-decode", "uid-pd-decode")


def test_scale_target_stops_below_an_owner_without_scale():
    # Dynamo: graph -> Deployment per component -> ReplicaSet -> Pod; the graph has no /scale, the component Deployment scales.
    c = OwnerClient(
        {
            ("ReplicaSet", "prefill-rs"): obj("prefill-rs", ("apps/v1", "Deployment", "graph-prefill")),
            ("Deployment", "graph-prefill"): obj("graph-prefill", ("nvidia.com/v1alpha1", "DynamoGraphDeployment", "graph")),
            ("DynamoGraphDeployment", "graph"): obj("graph"),
        }
    )
    ref = dg.scale_target(c, pod("prefill-0", owner=("apps/v1", "ReplicaSet", "prefill-rs")))
    assert (ref["kind"], ref["name"]) == ("Deployment", "graph-prefill")


def test_scale_target_walks_through_a_statefulset_to_its_leaderworkerset():
    c = OwnerClient(
        {
            ("StatefulSet", "decode"): obj("decode", ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", "decode")),
            ("LeaderWorkerSet", "decode"): obj("decode"),
        }
    )
    ref = dg.scale_target(c, pod("decode-0", owner=("apps/v1", "StatefulSet", "decode")))
    assert (ref["apiVersion"], ref["kind"]) == ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")


def test_discovery_is_read_once_per_group_version_with_a_cache():
    c = OwnerClient(
        {
            ("ReplicaSet", "rs"): obj("rs", ("apps/v1", "Deployment", "d")),
            ("Deployment", "d"): obj("d"),
        }
    )
    cache = {}
    for name in ("p1", "p2", "p3"):
        assert dg.scale_target(c, pod(name, owner=("apps/v1", "ReplicaSet", "rs")), cache)["name"] == "d"
    assert c.discovered == ["/apis/apps/v1"]
    assert cache[("apps/v1", "Deployment")] is True and cache[("apps/v1", "ReplicaSet")] is True


def test_a_bare_pod_has_no_scale_target():
    assert dg.scale_target(OwnerClient({}), pod("bare")) is None


def test_state_changes_name_every_movement():
    before = {"replicas": 1, "generation": 3, "ready_pods": ["a"]}
    assert dg.state_changes(before, dict(before)) == []
    after = {"replicas": 2, "generation": 4, "ready_pods": ["b"]}
    assert dg.state_changes(before, after) == ["replicas 1 -> 2", "generation 3 -> 4", "1 ready pod(s) replaced or lost", "1 new ready pod(s)"]


def test_completion_body_shapes():
    body = dg.completion_body("m", 5, 4, chat=False, seq=1)
    assert body["model"] == "m" and body["max_tokens"] == 4 and len(body["prompt"].split()) == 5
    chat = dg.completion_body("m", 3, 4, chat=True, seq=1)
    assert "prompt" not in chat and len(chat["messages"][0]["content"].split()) == 3
    assert dg.completion_body("m", 5, 4, False, 1)["prompt"] != dg.completion_body("m", 5, 4, False, 2)["prompt"]


@pytest.mark.parametrize(
    ("doc", "ok"),
    [
        ({"object": "text_completion", "choices": [{"text": "x"}]}, True),
        ({"object": "chat.completion", "choices": [{"message": {}}]}, True),
        ({"object": "text_completion", "choices": []}, False),
        ({"object": "error", "message": "The model `x` does not exist."}, False),
        (None, False),
    ],
)
def test_is_completion(doc, ok):
    assert dg.is_completion(doc) is ok


@pytest.fixture
def openai_server():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, self.headers["Host"], body))
            code, doc = (200, {"object": "text_completion", "choices": [{"text": "hi"}]}) if body["model"] == "m" else (404, {"object": "error"})
            data = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Served-By", "decode-0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1], seen
    srv.shutdown()


def test_post_json_sends_the_host_header_and_reads_status_body_and_headers(openai_server):
    url, seen = openai_server
    r = dg.post_json(url, "pd.example", "/v1/completions", {"model": "m"})
    assert r["status"] == 200 and dg.is_completion(r["json"]) and r["headers"]["x-served-by"] == "decode-0"
    assert seen[0][:2] == ("/v1/completions", "pd.example")
    assert dg.post_json(url, "pd.example", "/v1/completions", {"model": "other"})["status"] == 404


def test_post_json_reports_no_answer_as_status_zero():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = srv.server_address[1]
    srv.server_close()
    r = dg.post_json("http://127.0.0.1:%d" % port, "h", "/v1/completions", {"model": "m"}, timeout_s=2)
    assert r["status"] == 0 and "Refused" in r["text"]


@pytest.mark.parametrize(
    ("statuses", "moved", "refused"),
    [
        ([404, 404, 404], {}, True),
        ([404, 200, 404], {}, False),  # one answered
        ([404, 404, 404], {"decode": 1.0}, False),  # refused, but a server finished it
        ([0, 0, 0], {}, False),  # no answer is not a refusal
        ([], {}, False),
    ],
)
def test_unserved_model_refused_needs_every_4xx_and_no_counter(statuses, moved, refused):
    got, outcome = dg.unserved_model_refused(statuses, moved, "no endpoint counter moved")
    assert got is refused
    assert outcome.startswith("HTTP %s; " % statuses)
    assert outcome.endswith("no endpoint counter moved" if not moved else "counters moved: %s" % moved)


def test_counters_read_a_pod_that_came_since_discovery_on_its_phases_port(monkeypatch):
    # A replica the probe's own scaling added is not in the map discovery made: it is read on the
    # phase's one port (the given one, or the one every known pod states), else on its own --port.
    read = []
    monkeypatch.setattr(dg, "scrape", lambda client, pod, port, path: read.append((pod["metadata"]["name"], port)) or "")

    def pod(name, port=None):
        return {"metadata": {"name": name}, "spec": {"containers": [{"name": "vllm", "args": ["--port=%d" % port] if port else []}]}}

    pods = {"prefill": [pod("p0", 18100), pod("p1", 18100)], "decode": [pod("d0", 18200), pod("d1", 9000)]}
    dg.counters(None, pods, {"prefill": {"p0": 18100}, "decode": {"d0": 18200, "dx": 18300}}, "/metrics", "m")
    assert read == [("p0", 18100), ("p1", 18100), ("d0", 18200), ("d1", 9000)]
