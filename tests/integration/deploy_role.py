"""One deploy role run on the reference cluster through tests/integration/playbooks/deploy_role.yml,
and what the stand-in charts record (shared by tests/integration/test_deploy_roles*.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.refcluster.config import REPO, load_components


def helm_binary() -> str:
    return str(load_components()["helm"].bin_dir / "helm")


def play(kubeconfig, role, check=False, **extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"))
    args = dict(extra, deploy_role=role, ansible_python_interpreter=sys.executable)
    args.setdefault("%s_kubeconfig" % role, kubeconfig)
    args.setdefault("%s_helm_binary" % role, helm_binary())
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(REPO / "tests/integration/playbooks/deploy_role.yml"),
        "-i",
        "localhost,",
        "-e",
        json.dumps(args),
    ] + (["--check"] if check else [])
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=600, check=False)
    recap = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", res.stdout)
    return res, {"ok": int(recap.group(1)), "changed": int(recap.group(2)), "failed": int(recap.group(3))} if recap else None


def release_exists(k8s, ns, name):
    return bool(k8s.list("v1", "Secret", ns, label_selector="owner=helm,name=%s" % name)["items"]) if k8s.get("v1", "Namespace", ns) else False


def received_values(k8s, ns, release):
    return json.loads(k8s.get("v1", "ConfigMap", "%s-received-values" % release, ns)["data"]["values.json"])
