"""A minimal validating admission webhook for testing the harness's webhook wiring.

Serves https://127.0.0.1:<port>/validate with the reference cluster's webhook certificate and
denies every object it is asked about (its configuration scopes it to objects labelled
refcluster.ai-conformance.io/deny=true).  Not a fake of any product: a test instrument.

On ``/mutate/single-backend`` it is a mutating webhook that breaks HTTPRoutes on purpose: it
drops every backendRef of each rule but the first, so a route written with a weighted split is
stored with one backend, the way a gateway that ignores weights behaves (fault tests of
gateway_check; configuration in manifests/route-mangler.yaml).
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import ssl
import sys
from pathlib import Path


def single_backend_patch(route: dict) -> list:
    """JSON patch operations keeping only the first backendRef of each rule of an HTTPRoute."""
    ops = []
    for i, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        refs = rule.get("backendRefs") or []
        if len(refs) > 1:
            ops.append({"op": "replace", "path": "/spec/rules/%d/backendRefs" % i, "value": refs[:1]})
    return ops


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        uid = review.get("request", {}).get("uid", "")
        if self.path.startswith("/mutate/single-backend"):
            response = {"uid": uid, "allowed": True}
            ops = single_backend_patch(review.get("request", {}).get("object") or {})
            if ops:
                response.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(ops).encode()).decode())
        else:
            response = {"uid": uid, "allowed": False, "status": {"code": 403, "message": "denied by the refcluster test webhook"}}
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pki", required=True)
    ap.add_argument("--ready-file", required=True)
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(Path(a.pki) / "webhook.crt"), str(Path(a.pki) / "webhook.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    Path(a.ready_file).parent.mkdir(parents=True, exist_ok=True)
    Path(a.ready_file).write_text("ok\n")
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
