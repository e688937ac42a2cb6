"""A second reference cluster beside the main one: kwok-only (etcd, the control plane and kwok's
fake nodes), on its own ports (components.yaml ``clusters.second``), state dir (<state>-second)
and PKI, so that starting, checking or stopping it never touches the main cluster.

    python -m tests.refcluster.second up|down|status

It is the main harness (tests/refcluster/cluster.py) run in a child process with
AIC_CLUSTER_NAME=second: the harness reads its paths and ports when it is imported, and the
process asking (a pytest session) already holds the main cluster's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.refcluster.config import REPO, kubeconfig_path, ports, profile, state_dir

NAME = "second"
UP_TIMEOUT_S = 600


class SecondClusterError(RuntimeError):
    pass


def _harness(cmd: str, name: str = NAME, timeout_s: float = UP_TIMEOUT_S) -> subprocess.CompletedProcess:
    profile(name)  # an unknown name is one clear error here, not in the child
    env = dict(os.environ, AIC_CLUSTER_NAME=name)
    return subprocess.run(
        [sys.executable, "-m", "tests.refcluster.cluster", cmd], capture_output=True, text=True, cwd=str(REPO), env=env, timeout=timeout_s, check=False
    )


def _tail(res: subprocess.CompletedProcess) -> str:
    return (res.stderr or res.stdout).strip()[-2000:]


def _json(res: subprocess.CompletedProcess, what: str) -> dict[str, Any]:
    try:
        return json.loads(res.stdout[res.stdout.index("{") :])
    except ValueError:
        raise SecondClusterError("%s: no status from the harness (exit %d): %s" % (what, res.returncode, _tail(res)))


def up(name: str = NAME) -> dict[str, Any]:
    """Start it (idempotent: a healthy one is left alone); its status."""
    res = _harness("up", name)
    if res.returncode != 0:
        raise SecondClusterError("cluster %s did not start (exit %d): %s" % (name, res.returncode, _tail(res)))
    st = _json(res, "cluster %s up" % name)
    if not st.get("healthy"):
        raise SecondClusterError("cluster %s started but is not healthy: %s" % (name, json.dumps(st)[:2000]))
    return st


def status(name: str = NAME) -> dict[str, Any]:
    return _json(_harness("status", name, timeout_s=120), "cluster %s status" % name)


def down(name: str = NAME) -> None:
    res = _harness("down", name, timeout_s=300)
    if res.returncode != 0:
        raise SecondClusterError("cluster %s did not stop cleanly (exit %d): %s" % (name, res.returncode, _tail(res)))


def kubeconfig(name: str = NAME) -> Path:
    return kubeconfig_path(name)


def paths(name: str = NAME) -> dict[str, str]:
    return {"state": str(state_dir(name)), "kubeconfig": str(kubeconfig(name)), "apiserver": "https://127.0.0.1:%d" % ports(name)["apiserver"]}


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    if cmd not in ("up", "down", "status"):
        print("usage: python -m tests.refcluster.second up|down|status", file=sys.stderr)
        return 2
    res = _harness(cmd)
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    return res.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
