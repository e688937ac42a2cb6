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
