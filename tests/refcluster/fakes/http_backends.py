"""FAKE HTTP backends for the reference cluster: the containers of gateway_check's backend pods.

On a real cluster gateway_check deploys its backends as pods running agnhost ``netexec``
(registry.k8s.io/e2e-test-images/agnhost, the Kubernetes e2e image), whose ``/hostname`` answers
the pod's hostname, that is its name.  kwok runs no containers, so on the reference cluster the
backends are host-network pods on the host node (``refcluster-host``) and this process plays their
containers: it listens on the host node's address at each port of ``--ports`` and answers a request
on port P as the pod behind P would.

The pod behind P is found in the API: bound to the host node, host network, a container declaring
``containerPort: P``, Running and not being deleted.  With no such pod the connection is closed
without an answer, as an unbound port would refuse it, so a gateway that sends traffic to a backend
whose pod is gone sees the failure it would see on a real cluster.  Which pod answered is never
decided here by the route: only the gateway's choice of endpoint (address and port) decides it.

Implemented agnhost netexec endpoints: ``/hostname`` (the pod name), ``/healthz``, ``/echo?msg=``,
``/clientip`` and ``/header?key=``.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.refcluster.config import ensure_collection_path

ensure_collection_path()

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError, get_client  # noqa: E402


def close_unanswered(handler: BaseHTTPRequestHandler) -> None:
    """No pod behind this port: behave like a closed port, answer nothing."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def fake_args(description: str) -> argparse.Namespace:
    """The command line every fake container process takes."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--address", required=True)
    ap.add_argument("--ports", required=True, help="comma-separated ports to serve")
    ap.add_argument("--node", default="refcluster-host")
    ap.add_argument("--ready-file", default="")
    return ap.parse_args()


def serve(args: argparse.Namespace, handler_for_port: Callable[[int], type[BaseHTTPRequestHandler]], refresh: Callable[[], None]) -> None:
    """Listen on each port of --ports, then keep the pod table fresh (every 0.3 s) for ever; the
    ready file is written after the first good refresh."""
    for port in (int(p) for p in args.ports.split(",")):
        server = ThreadingHTTPServer((args.address, port), handler_for_port(port))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            refresh()
            if args.ready_file and not Path(args.ready_file).exists():
                Path(args.ready_file).parent.mkdir(parents=True, exist_ok=True)
                Path(args.ready_file).write_text("ok\n")
        except ClusterError as exc:
            print("refresh failed: %s" % exc, flush=True)
        time.sleep(0.3)


def pods_by_port(pods: list[dict[str, Any]], node: str) -> dict[int, str]:
    """Map each container port of the node's live host-network pods to the pod's name."""
    out: dict[int, str] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        md = pod.get("metadata") or {}
        if spec.get("nodeName") != node or not spec.get("hostNetwork") or md.get("deletionTimestamp"):
            continue
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        for ctr in spec.get("containers") or []:
            for port in ctr.get("ports") or []:
                if port.get("containerPort"):
                    out[int(port["containerPort"])] = md["name"]
    return out


class Backends:
    def __init__(self, kubeconfig: str, node: str) -> None:
        self.client = get_client({"kubeconfig": kubeconfig})
        self.node = node
        self.lock = threading.Lock()
        self.by_port: dict[int, str] = {}
        self.synced = False

    def refresh(self) -> None:
        items = self.client.list("v1", "Pod", field_selector="spec.nodeName=%s" % self.node)["items"]
        table = pods_by_port(items, self.node)
        with self.lock:
            self.by_port = table
            self.synced = True

    def pod_for(self, port: int) -> str | None:
        with self.lock:
            return self.by_port.get(port)


def handler_for(backends: Backends, port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            pod = backends.pod_for(port)
            if pod is None:
                close_unanswered(self)
                return
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/hostname":
                body, code = pod, 200
            elif url.path == "/healthz":
                body, code = "", 200
            elif url.path == "/echo":
                body, code = (query.get("msg") or [""])[0], 200
            elif url.path == "/clientip":
                body, code = "%s:%s" % self.client_address[:2], 200
            elif url.path == "/header":
                body, code = self.headers.get((query.get("key") or [""])[0], ""), 200
            else:
                body, code = "404 page not found\n", 404
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a: Any) -> None:
            pass

    return Handler


def main() -> int:
    args = fake_args(__doc__.splitlines()[0])
    backends = Backends(args.kubeconfig, args.node)
    serve(args, lambda port: handler_for(backends, port), backends.refresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
