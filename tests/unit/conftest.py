"""Shared fixtures for unit tests: module runner with exit/fail captured, a fake API client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
_COLL = REPO / ".build" / "collections"
if not (_COLL / "ansible_collections" / "ai_conformance" / "kubernetes").exists():
    (_COLL / "ansible_collections" / "ai_conformance").mkdir(parents=True, exist_ok=True)
    (_COLL / "ansible_collections" / "ai_conformance" / "kubernetes").symlink_to(Path("../../../.."))
sys.path.insert(0, str(_COLL))

# Ansible's collection finder owns ansible_collections from the start, as under ansible-test units: a
# test that starts the plugin loader later (the callback tests) then finds the collection already
# loaded with its metadata, and imports made afterwards (importlib in a test body) keep working.
from ansible.plugins.loader import init_plugin_loader  # noqa: E402

init_plugin_loader([str(_COLL)])

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402


class ModuleExit(Exception):
    def __init__(self, kwargs: dict[str, Any], failed: bool) -> None:
        super().__init__(kwargs.get("msg", ""))
        self.result = kwargs
        self.failed = failed


def _exit(self, **kwargs: Any) -> None:
    raise ModuleExit(kwargs, False)


def _fail(self, **kwargs: Any) -> None:
    raise ModuleExit(kwargs, True)


@pytest.fixture
def run_module(monkeypatch):
    """run_module(main, args, check_mode=False) -> ModuleExit with .result and .failed"""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail)

    def runner(main, args: dict[str, Any], check_mode: bool = False) -> ModuleExit:
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as info:
                main()
        return info.value

    return runner


class FakeClient:
    """Stands in for module_utils.client.Client at the API boundary: canned responses by path,
    by (apiVersion, kind) for lists, and errors to raise for given paths."""

    def __init__(
        self,
        paths: dict[str, Any] | None = None,
        lists: dict[tuple[str, str], list[dict[str, Any]]] | None = None,
        errors: dict[str, Exception] | None = None,
        served: set[str] | None = None,
    ) -> None:
        self.paths = paths or {}
        self.lists = lists or {}
        self.errors = errors or {}
        self.served_gvs = served if served is not None else {"v1", "resource.k8s.io/v1", "apiextensions.k8s.io/v1", "node.k8s.io/v1"}
        self.source = "fake"
        self.calls: list[str] = []

    def get_path(self, path: str, what: str = "") -> Any:
        self.calls.append(path)
        if path in self.errors:
            raise self.errors[path]
        return json.loads(json.dumps(self.paths[path]))

    def served(self, api_version: str, kind: str | None = None) -> bool:
        return api_version in self.served_gvs

    def list(self, api_version: str, kind: str, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        key = "list %s %s" % (api_version, kind)
        self.calls.append(key)
        if key in self.errors:
            raise self.errors[key]
        return {"items": json.loads(json.dumps(self.lists.get((api_version, kind), []))), "resourceVersion": "1"}


# ---- a tiny HTTP API server on 127.0.0.1, for testing the real client against real sockets ----
import http.server  # noqa: E402
import threading  # noqa: E402


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}


@pytest.fixture
def api_server(tmp_path):
    """api_server(routes) -> kubeconfig path.  routes: {path: (status, json_body)}; other paths 404."""
    servers = []

    def start(routes: dict[str, tuple[int, Any]]) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0]
                code, body = routes.get(path, (404, status_body(404, "NotFound", "the server could not find the requested resource")))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        kc = tmp_path / ("kubeconfig-%d" % len(servers))
        kc.write_text(kubeconfig_text("http://127.0.0.1:%d" % srv.server_address[1]))
        return str(kc)

    yield start
    for s in servers:
        s.shutdown()


def kubeconfig_text(server: str, context: str = "test") -> str:
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: '%s'}\n"
        "users:\n- name: u\n  user: {token: not-a-real-token}\n"
        "contexts:\n- name: %s\n  context: {cluster: c, user: u}\ncurrent-context: %s\n" % (server, context, context)
    )


def closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NoCluster:
    """A client that fails the test if the probe touches the API."""

    source = "fake"

    def __getattr__(self, name):
        raise AssertionError("the probe called the API (%s) before deciding" % name)


@pytest.fixture
def offline(monkeypatch):
    """Probes run with NoCluster: for decisions made before any API call (inputs, declared none)."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod

    monkeypatch.setattr(probe_mod, "get_client", lambda params: NoCluster())
    monkeypatch.setattr(probe_mod, "check_reachable", lambda c: {})


def playbook_env(**extra: str) -> dict[str, str]:
    """The environment of an ansible-playbook run from this checkout in a test: its ansible.cfg and
    collection path, the progress callback, no colour; ``extra`` adds or overrides variables."""
    import os

    repo = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(repo / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(repo / ".build" / "collections"),
        ANSIBLE_CALLBACKS_ENABLED="ai_conformance.kubernetes.conformance_progress",
        ANSIBLE_NOCOLOR="1",
    )
    env.update(extra)
    return env
