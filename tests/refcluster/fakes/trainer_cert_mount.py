"""FAKE secret volume for the Kubeflow Trainer controller run as a host process.

Upstream runs the controller in a pod whose Secret volume (kubeflow-trainer-webhook-cert) the
kubelet mounts at /tmp/k8s-webhook-server/serving-certs; the controller's certificate rotator
(open-policy-agent/cert-controller, compiled in, pkg/util/cert) fills that Secret and waits for
the files to appear there, and the path is a constant of the binary.  This wrapper plays the
kubelet's part: it starts the controller (the command after ``--``), copies the Secret's keys
to the directory whenever they change, and exits with the controller's exit status.  Stopping it
(SIGTERM to the process group, as the harness does) stops both.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.refcluster.config import ensure_collection_path

ensure_collection_path()

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError, get_client  # noqa: E402

KEYS = ("ca.crt", "tls.crt", "tls.key")


def sync(data: dict[str, str], target: Path) -> bool:
    """Write the Secret's keys into ``target`` (atomically, each file); True when a file changed."""
    changed = False
    target.mkdir(parents=True, exist_ok=True)
    for key in KEYS:
        if key not in data:
            continue
        raw = base64.b64decode(data[key])
        dest = target / key
        if dest.is_file() and dest.read_bytes() == raw:
            continue
        tmp = target / (".%s.tmp" % key)
        tmp.write_bytes(raw)
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
        changed = True
    return changed


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: trainer_cert_mount.py --kubeconfig K --namespace NS --secret NAME --dir DIR -- COMMAND...", file=sys.stderr)
        return 2
    i = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args(argv[:i])
    target = Path(args.dir)
    # Files of an earlier run belong to a CA that no longer exists: the controller must wait for this one's.
    for key in KEYS:
        (target / key).unlink(missing_ok=True)
    child = subprocess.Popen(argv[i + 1 :])

    def forward(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    client = get_client({"kubeconfig": args.kubeconfig})
    while child.poll() is None:
        try:
            secret = client.get("v1", "Secret", args.secret, args.namespace)
        except ClusterError as exc:
            print("trainer_cert_mount: reading Secret %s/%s: %s" % (args.namespace, args.secret, exc), file=sys.stderr)
            secret = None
        if secret and sync(secret.get("data") or {}, target):
            print("trainer_cert_mount: Secret %s/%s copied to %s" % (args.namespace, args.secret, target), file=sys.stderr, flush=True)
        time.sleep(1)  # the kubelet refreshes a Secret volume within its sync period; a second here
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
