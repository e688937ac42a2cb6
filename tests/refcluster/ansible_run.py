"""Run one module of the collection through real ansible (AnsiballZ), as a playbook would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.refcluster.config import REPO


def run_module(name: str, args: dict[str, Any], check: bool = False, timeout_s: int = 900) -> tuple[dict[str, Any], float]:
    """The module's result (as the json callback reports it) and the wall time in seconds."""
    # The json stdout callback's document is decoded alone, so anything printed after it (a
    # progress callback a user enabled) does not matter.
    env = dict(
        os.environ,
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
    )
    cmd = [
        str(Path(sys.executable).with_name("ansible")),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-m",
        "ai_conformance.kubernetes.%s" % name,
        "-a",
        json.dumps(args),
    ]
    if check:
        cmd.append("--check")
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=timeout_s, check=False)
    wall = time.monotonic() - t0
    doc, _end = json.JSONDecoder().raw_decode(out.stdout[out.stdout.index("{") :])
    return doc["plays"][0]["tasks"][0]["hosts"]["localhost"], wall


def run_conformance(extra: dict[str, Any], *flags: str, timeout_s: int = 1800) -> tuple[subprocess.CompletedProcess, float]:
    """conformance.yml on inventories/local (the upstream suite left out) with ``extra`` as extra
    vars and ``flags`` added to the command line (``--check``): the finished process and the wall
    time in seconds."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"))
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(REPO / "conformance.yml"),
        "-i",
        str(REPO / "inventories/local"),
        "--skip-tags",
        "upstream",
        *flags,
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        json.dumps(extra),
    ]
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=timeout_s, check=False)
    return res, time.monotonic() - t0


def run_playbook(playbook: str, inventory: str, extra: dict[str, Any], *flags: str, timeout_s: int = 1800) -> tuple[subprocess.CompletedProcess, float]:
    """Any playbook of the checkout (``playbooks/fleet.yml``) on any inventory, the upstream suite
    left out as in run_conformance: the finished process and the wall time in seconds."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"))
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(REPO / playbook),
        "-i",
        inventory,
        "--skip-tags",
        "upstream",
        *flags,
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        json.dumps(extra),
    ]
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=timeout_s, check=False)
    return res, time.monotonic() - t0
