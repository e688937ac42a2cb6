"""Backends behind Services and gateways: agnhost netexec, OpenAI-speaking model servers (vLLM's
metrics, prefill/decode), and a Deployment of them."""

from __future__ import annotations

from typing import Any, Callable

from .base import is_ready, phase_of
from .cluster import FakeCluster
from .install import deployment

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost"


def agnhost(pod: dict[str, Any]) -> Callable[..., Any] | None:
    """agnhost netexec answers GET /hostname with its pod's name."""
    if not any(str(c_.get("image", "")).startswith(AGNHOST) for c_ in pod["spec"]["containers"]):
        return None
    return lambda port, method, path, query, body: (200, pod["metadata"]["name"], {}) if path == "/hostname" else (404, "404 page not found", {})


def service_pods(cluster: FakeCluster, ns: str, name: str) -> list[dict[str, Any]]:
    """Ready pods behind a Service (its endpoints)."""
    svc = cluster.obj("v1", "Service", name, ns)
    if svc is None:
        return []
    selector = svc["spec"].get("selector") or {}
    return [p for p in cluster.pods_matching(ns, selector) if is_ready(p)] if selector else []


class ModelServers:
    """OpenAI-speaking model servers (the shape of tests/refcluster/fakes/openai_pd.py): a pod whose
    container runs with ``--served-model-name=<model>`` answers POST /v1/completions for that model
    (404 for any other) on every target port, and exports vLLM's counters and gauges on GET /metrics
    per port.  A decode server whose env names AIC_STANDIN_PREFILL_SERVICE first has a prefill pod
    of that Service process the prompt (both counters move).  broken: "skip-prefill" (decode
    answers alone), "serve-any-model"."""

    def __init__(self, c: FakeCluster, broken: str = "") -> None:
        self.c, self.broken = c, broken
        self.done: dict[tuple[str, int], int] = {}
        self.running: dict[tuple[str, int], int] = {}
        c.apps.append(self.app)

    def other_client(self, ns: str, labels: dict[str, str], port: int, every: float) -> None:
        """Another client of the model servers (another tenant, a health checker that sends
        completions): one completion every ``every`` seconds, straight to a running pod with
        ``labels``; the servers count it like any other request."""

        def tick() -> None:
            pods = [p for p in self.c.pods_matching(ns, labels) if phase_of(p) == "Running"]
            handler = self.app(pods[0]) if pods else None
            if handler is not None:
                handler(port, "POST", "/v1/completions", {}, {"model": self.model_of(pods[0]), "prompt": "ping"})

        self.c.every(every, tick)

    @staticmethod
    def model_of(pod: dict[str, Any]) -> str | None:
        for c_ in pod["spec"]["containers"]:
            for a in c_.get("args") or []:
                if a.startswith("--served-model-name="):
                    return a.split("=", 1)[1]
        return None

    def app(self, pod: dict[str, Any]) -> Callable[..., Any] | None:
        model = self.model_of(pod)
        if model is None:
            return None
        key = pod["metadata"]["uid"]
        env = {e["name"]: e.get("value") for c_ in pod["spec"]["containers"] for e in c_.get("env") or []}

        def handle(port: int, method: str, path: str, query: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
            if method == "GET" and path == "/metrics":
                lines = [
                    'vllm:request_success_total{model_name="%s",finished_reason="length"} %d' % (model, self.done.get((key, port), 0)),
                    'vllm:num_requests_running{model_name="%s"} %d' % (model, self.running.get((key, port), 0)),
                    'vllm:num_requests_waiting{model_name="%s"} 0' % model,
                    'vllm:kv_cache_usage_perc{model_name="%s"} 0' % model,
                ]
                return 200, "\n".join(lines) + "\n", {}
            if method != "POST" or not path.endswith("completions"):
                return 404, {"error": "not found"}, {}
            if (body or {}).get("model") != model and self.broken != "serve-any-model":
                return 404, {"error": {"message": "The model `%s` does not exist." % (body or {}).get("model"), "type": "NotFoundError", "code": 404}}, {}
            prefill = env.get("AIC_STANDIN_PREFILL_SERVICE")
            if prefill and self.broken != "skip-prefill":
                pods = service_pods(self.c, pod["metadata"]["namespace"], prefill)
                if not pods:
                    return 503, {"error": "no prefill endpoint"}, {}
                p = pods[sum(self.done.values()) % len(pods)]
                self.done[(p["metadata"]["uid"], 8000)] = self.done.get((p["metadata"]["uid"], 8000), 0) + 1
            self.done[(key, port)] = self.done.get((key, port), 0) + 1
            return 200, {"object": "text_completion", "model": model, "choices": [{"index": 0, "text": " ok", "finish_reason": "length"}]}, {}

        return handle


def serving_stack(c: FakeCluster, ns: str, name: str, labels: dict[str, str], args: list[str], env: dict[str, str] | None = None, replicas: int = 1) -> None:
    """A Deployment of model-server pods (the shape of tests/refcluster/manifests/pd-standin.yaml)."""
    c.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        if c.obj("v1", "Namespace", ns) is None
        else {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name + "-cfg", "namespace": ns}}
    )
    container = {
        "name": "vllm",
        "image": "refcluster.local/openai-pd-standin:v1",
        "args": list(args),
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    c.apply(deployment(ns, name, labels, [container], replicas=replicas, labelled=False))
