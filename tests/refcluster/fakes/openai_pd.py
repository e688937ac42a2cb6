"""FAKE disaggregated model servers for the reference cluster: the containers of a prefill/decode pair.

On a real cluster a disaggregated serving stack (llm-d, vLLM with a KV connector, Dynamo) runs
prefill and decode as separate vLLM workloads: the request enters the decode side, which has a
prefill instance process the prompt (``max_tokens=1``, ``kv_transfer_params.do_remote_decode``),
takes over its KV cache and generates the answer.  kwok runs no containers, so on the reference
cluster the serving pods are host-network pods on the host node (``refcluster-host``) and this
process plays their containers.  It is a stand-in: it speaks the OpenAI completions API and
exposes vLLM's metric names, and it computes no tokens.

Which pod a port stands for is read from the API: a Running, not-deleting, host-network pod on the
host node whose container runs with ``--port=<P>`` (the pods declare no container port, so a
second replica of a workload can share the node; with two such pods the oldest answers).  Its
``llm-d.ai/role`` label picks the behaviour:

- ``prefill``: answers a completion with one token and ``kv_transfer_params`` naming itself.
- ``decode``: calls a prefill endpoint first, then answers with ``max_tokens`` tokens.  The
  prefill endpoint is the ``x-prefiller-host-port`` header when present (llm-d's endpoint picker
  sets it), else a ready endpoint of the Service named by the container's
  ``AIC_STANDIN_PREFILL_SERVICE`` variable.  Without either the decode pod prefills locally: that
  is aggregated serving, which the fault tests use.

A pod without the ``llm-d.ai/role`` label but labelled ``aic-standin/model-server`` is an
aggregated vLLM server (an InferencePool endpoint): it answers whole requests itself.  Such a pod
may run one container per data-parallel rank, each with its own ``--port``; every (pod, port) has
its own counters, as each rank is its own vLLM API server.  ``--max-num-seqs=N`` (vLLM's flag)
bounds the requests in execution; the rest wait, and the container's
``AIC_STANDIN_TOKEN_DELAY_S`` makes each generated token take that long, so a loaded server
advertises a queue (``vllm:num_requests_waiting``) and a KV-cache usage
(``vllm:kv_cache_usage_perc``, running / max-num-seqs) as a real one does.

Every response names the pods that handled it (``x-aic-standin-prefill-pod``,
``x-aic-standin-decode-pod``).  ``/metrics`` serves, per pod, ``vllm:request_success_total``,
``vllm:prompt_tokens_total``, ``vllm:generation_tokens_total``, ``vllm:num_requests_running``
and ``vllm:num_requests_waiting``.  A model the pod does not serve (``--served-model-name`` or
``--model``) gets vLLM's 404 error body and moves no counter.  With no pod behind a port the
connection is closed without an answer, as an unbound port would.
"""

from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.refcluster.config import ensure_collection_path

ensure_collection_path()

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import get_client  # noqa: E402
from tests.refcluster.fakes.http_backends import close_unanswered, fake_args, serve  # noqa: E402

ROLE_LABEL = "llm-d.ai/role"
SERVER_LABEL = "aic-standin/model-server"
DELAY_ENV = "AIC_STANDIN_TOKEN_DELAY_S"
PREFILL_ENV = "AIC_STANDIN_PREFILL_SERVICE"


def flag_int(ctr: dict[str, Any], flag: str) -> int:
    for arg in list(ctr.get("command") or []) + list(ctr.get("args") or []):
        if arg.startswith(flag + "="):
            return int(arg.split("=", 1)[1])
    return 0


def container_port(ctr: dict[str, Any]) -> int | None:
    return flag_int(ctr, "--port") or None


def served_model(ctr: dict[str, Any]) -> str:
    args = list(ctr.get("command") or []) + list(ctr.get("args") or [])
    for flag in ("--served-model-name", "--model"):
        for i, arg in enumerate(args):
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
            if arg == flag and i + 1 < len(args):
                return args[i + 1]
    return ""


def env_of(ctr: dict[str, Any], name: str) -> str:
    for env in ctr.get("env") or []:
        if env.get("name") == name:
            return str(env.get("value") or "")
    return ""


def pods_by_port(pods: list[dict[str, Any]], node: str) -> dict[int, dict[str, Any]]:
    """port -> {name, namespace, uid, role, model, prefill_service} of the oldest live serving pod."""
    out: dict[int, dict[str, Any]] = {}
    live = []
    for pod in pods:
        spec = pod.get("spec") or {}
        md = pod.get("metadata") or {}
        if spec.get("nodeName") != node or not spec.get("hostNetwork") or md.get("deletionTimestamp"):
            continue
        labels = md.get("labels") or {}
        if (pod.get("status") or {}).get("phase") != "Running" or not (labels.get(ROLE_LABEL) or labels.get(SERVER_LABEL)):
            continue
        live.append(pod)
    live.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
    for pod in live:
        md = pod["metadata"]
        for ctr in pod["spec"].get("containers") or []:
            port = container_port(ctr)
            if port is None or port in out:
                continue
            out[port] = {
                "name": md["name"],
                "namespace": md["namespace"],
                "uid": md["uid"],
                "role": md["labels"].get(ROLE_LABEL) or "aggregated",
                "model": served_model(ctr),
                "prefill_service": env_of(ctr, PREFILL_ENV),
                "max_num_seqs": flag_int(ctr, "--max-num-seqs"),
                "token_delay_s": float(env_of(ctr, DELAY_ENV) or 0),
                "key": "%s:%d" % (md["uid"], port),
            }
    return out


class Counters:
    """vLLM's counters for one server, a pod's port (a new pod UID starts from zero, as a restarted
    server does)."""

    def __init__(self, max_num_seqs: int = 0) -> None:
        self.success: dict[str, int] = {}
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.running = 0
        self.waiting = 0
        self.max_num_seqs = max_num_seqs
        self.slots = threading.BoundedSemaphore(max_num_seqs) if max_num_seqs > 0 else None

    def exposition(self, model: str) -> str:
        m = 'model_name="%s"' % model
        lines = [
            "# HELP vllm:request_success_total Count of successfully processed requests.",
            "# TYPE vllm:request_success_total counter",
        ]
        for reason in sorted(self.success) or ["length"]:
            lines.append('vllm:request_success_total{%s,finished_reason="%s"} %d' % (m, reason, self.success.get(reason, 0)))
        lines += [
            "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.",
            "# TYPE vllm:prompt_tokens_total counter",
            "vllm:prompt_tokens_total{%s} %d" % (m, self.prompt_tokens),
            "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
            "# TYPE vllm:generation_tokens_total counter",
            "vllm:generation_tokens_total{%s} %d" % (m, self.generation_tokens),
            "# HELP vllm:num_requests_running Number of requests in model execution batches.",
            "# TYPE vllm:num_requests_running gauge",
            "vllm:num_requests_running{%s} %d" % (m, self.running),
            "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
            "# TYPE vllm:num_requests_waiting gauge",
            "vllm:num_requests_waiting{%s} %d" % (m, self.waiting),
            "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
            "# TYPE vllm:kv_cache_usage_perc gauge",
            "vllm:kv_cache_usage_perc{%s} %s" % (m, repr(round(self.running / self.max_num_seqs, 4)) if self.max_num_seqs else "0.0"),
        ]
        return "\n".join(lines) + "\n"


class Servers:
    def __init__(self, kubeconfig: str, node: str) -> None:
        self.client = get_client({"kubeconfig": kubeconfig})
        self.node = node
        self.lock = threading.Lock()
        self.by_port: dict[int, dict[str, Any]] = {}
        self.counters: dict[str, Counters] = {}
        self.endpoints: dict[tuple[str, str], list[str]] = {}
        self.rr = itertools.count()

    def refresh(self) -> None:
        items = self.client.list("v1", "Pod", field_selector="spec.nodeName=%s" % self.node)["items"]
        table = pods_by_port(items, self.node)
        services = {(p["namespace"], p["prefill_service"]) for p in table.values() if p["prefill_service"]}
        endpoints = {}
        for ns, svc in services:
            slices = self.client.list("discovery.k8s.io/v1", "EndpointSlice", ns, label_selector="kubernetes.io/service-name=%s" % svc)["items"]
            addrs = []
            for sl in slices:
                port = next((p.get("port") for p in sl.get("ports") or [] if p.get("port")), None)
                for ep in sl.get("endpoints") or []:
                    if (ep.get("conditions") or {}).get("ready") and port:
                        addrs += ["%s:%d" % (a, port) for a in ep.get("addresses") or []]
            endpoints[(ns, svc)] = sorted(addrs)
        with self.lock:
            self.by_port = table
            self.endpoints = endpoints

    def pod_for(self, port: int) -> dict[str, Any] | None:
        with self.lock:
            return self.by_port.get(port)

    def counters_for(self, pod: dict[str, Any]) -> Counters:
        with self.lock:
            return self.counters.setdefault(pod["key"], Counters(pod.get("max_num_seqs") or 0))

    def prefill_target(self, pod: dict[str, Any]) -> str | None:
        with self.lock:
            addrs = self.endpoints.get((pod["namespace"], pod["prefill_service"])) or []
        if not addrs:
            return None
        return addrs[next(self.rr) % len(addrs)]


def prompt_tokens(req: dict[str, Any]) -> int:
    if "messages" in req:
        text = " ".join(str(m.get("content") or "") for m in req.get("messages") or [] if isinstance(m, dict))
    else:
        prompt = req.get("prompt") or ""
        text = " ".join(prompt) if isinstance(prompt, list) else str(prompt)
    return max(1, len(text.split()))


def call_prefill(target: str, path: str, req: dict[str, Any], timeout_s: float = 10) -> tuple[int, dict[str, Any], str]:
    host, _, port = target.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    body = dict(req, max_tokens=1, stream=False, kv_transfer_params={"do_remote_decode": True, "do_remote_prefill": False})
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        data = resp.read()
        try:
            doc = json.loads(data)
        except ValueError:
            doc = {}
        return resp.status, doc, resp.getheader("x-aic-standin-prefill-pod") or ""
    except (OSError, http.client.HTTPException) as exc:
        return 0, {"error": str(exc)}, ""
    finally:
        conn.close()


def handler_for(servers: Servers, port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def pod_or_close(self) -> dict[str, Any] | None:
            pod = servers.pod_for(port)
            if pod is None:
                close_unanswered(self)
            return pod

        def reply(self, code: int, doc: Any, headers: dict[str, str] | None = None, ctype: str = "application/json") -> None:
            data = (json.dumps(doc) if ctype == "application/json" else str(doc)).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            pod = self.pod_or_close()
            if pod is None:
                return
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.reply(200, servers.counters_for(pod).exposition(pod["model"]), ctype="text/plain; version=0.0.4")
            elif path in ("/health", "/ready"):
                self.reply(200, {})
            elif path == "/v1/models":
                self.reply(200, {"object": "list", "data": [{"id": pod["model"], "object": "model", "owned_by": "vllm"}]})
            else:
                self.reply(404, {"detail": "Not Found"})

        def do_POST(self) -> None:
            pod = self.pod_or_close()
            if pod is None:
                return
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            try:
                req = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self.reply(400, {"object": "error", "message": "request body is not JSON", "type": "BadRequestError", "code": 400})
                return
            if path not in ("/v1/completions", "/v1/chat/completions") or not isinstance(req, dict):
                self.reply(404, {"detail": "Not Found"})
                return
            model = str(req.get("model") or "")
            if model != pod["model"]:
                msg = "The model `%s` does not exist." % model
                self.reply(404, {"object": "error", "message": msg, "type": "NotFoundError", "param": None, "code": 404})
                return
            counters = servers.counters_for(pod)
            n_prompt = prompt_tokens(req)
            headers = {"x-aic-standin-%s-pod" % pod["role"]: pod["name"]}
            if pod["role"] == "prefill":
                n_out = 1
            else:
                n_out = max(1, int(req.get("max_tokens") or 16))
                target = self.headers.get("x-prefiller-host-port") or (servers.prefill_target(pod) if pod["prefill_service"] else None)
                if target:
                    status, _doc, prefill_pod = call_prefill(target, path, req)
                    if status != 200:
                        self.reply(503, {"object": "error", "message": "prefill at %s failed: HTTP %d" % (target, status), "type": "ServiceUnavailableError"})
                        return
                    headers["x-aic-standin-prefill-pod"] = prefill_pod
                elif pod["prefill_service"]:
                    self.reply(503, {"object": "error", "message": "no ready prefill endpoint", "type": "ServiceUnavailableError"})
                    return
            if pod["role"] == "aggregated":
                n_out = max(1, int(req.get("max_tokens") or 16))
                self.execute(counters, n_out * pod["token_delay_s"])
            with servers.lock:
                counters.prompt_tokens += n_prompt
                counters.generation_tokens += n_out
                counters.success["length"] = counters.success.get("length", 0) + 1
            text = " ".join("tok%d" % i for i in range(n_out))
            chat = path.endswith("/chat/completions")
            choice: dict[str, Any] = {"index": 0, "finish_reason": "length"}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            doc: dict[str, Any] = {
                # vLLM names a completion after the caller's X-Request-Id when one is sent
                # (OpenAIServing._base_request_id: cmpl-<id>, chatcmpl-<id> for chat).
                "id": ("chatcmpl-" if chat else "cmpl-") + (self.headers.get("X-Request-Id") or "%s-%d" % (pod["name"], counters.success["length"])),
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out},
            }
            if pod["role"] == "prefill":
                doc["kv_transfer_params"] = {"do_remote_prefill": True, "do_remote_decode": False, "remote_engine_id": pod["uid"], "remote_host": pod["name"]}
            self.reply(200, doc, headers)

        def execute(self, counters: Counters, seconds: float) -> None:
            """Wait for a batch slot (queued), then run for ``seconds`` (in the batch)."""
            if counters.slots is not None:
                with servers.lock:
                    counters.waiting += 1
                counters.slots.acquire()
                with servers.lock:
                    counters.waiting -= 1
            with servers.lock:
                counters.running += 1
            try:
                time.sleep(seconds)
            finally:
                with servers.lock:
                    counters.running -= 1
                if counters.slots is not None:
                    counters.slots.release()

        def log_message(self, *a: Any) -> None:
            pass

    return Handler


def main() -> int:
    args = fake_args(__doc__.splitlines()[0])
    servers = Servers(args.kubeconfig, args.node)
    serve(args, lambda port: handler_for(servers, port), servers.refresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
