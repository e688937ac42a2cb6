"""Running a probe against a fake cluster: the virtual ``time`` module, the patches that point the
collection's client and HTTP calls at the fake, and the result with lookups by check."""

from __future__ import annotations

import json
import sys
import time as _real_time
from typing import Any

from .base import EPOCH
from .cluster import FakeCluster


class FakeTime:
    """The ``time`` module as the collection's code sees it: monotonic/time/sleep on the fake
    cluster's clock (a sleep runs what the cluster had scheduled meanwhile)."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def monotonic(self) -> float:
        return self.cluster.now

    perf_counter = monotonic

    def time(self) -> float:
        return EPOCH + self.cluster.now

    def sleep(self, seconds: float) -> None:
        self.cluster.advance(max(0.0, seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


def _http(cluster: FakeCluster, method: str, url: str, host: str, path: str, headers: dict[str, str] | None, body: Any) -> tuple[int, Any, dict[str, str]]:
    gw_ctl = getattr(cluster, "gateway_controller", None)
    if gw_ctl is None:
        return 0, "ConnectionRefusedError: [Errno 111] Connection refused", {}
    return gw_ctl.serve_http(method, url, host, path, {k.lower(): v for k, v in (headers or {}).items()}, body)


def patch_http(monkeypatch: Any, cluster: FakeCluster) -> None:
    """gateway.send and disagg.post_json (the probes' only HTTP client) answered by the fake data plane."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import disagg, gateway

    def send(url, host, path, headers=None, timeout_s=5):
        cluster.advance(0.01)
        status, body, _h = _http(cluster, "GET", url, host, path, headers, None)
        return status, body if isinstance(body, str) else json.dumps(body)

    def post_json(url, host, path, body, headers=None, timeout_s=30):
        cluster.advance(0.05)
        status, doc, hdrs = _http(cluster, "POST", url, host, path, headers, body)
        return {"status": status, "json": doc if isinstance(doc, dict) else None, "headers": hdrs, "text": json.dumps(doc)[:300] if doc is not None else ""}

    monkeypatch.setattr(gateway, "send", send)
    monkeypatch.setattr(disagg, "post_json", post_json)


def use(monkeypatch: Any, cluster: FakeCluster) -> None:
    """Make every probe talk to ``cluster`` (its client and its HTTP calls) and every module of
    the collection keep its time."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod

    monkeypatch.setattr(probe_mod, "get_client", lambda params: cluster)
    monkeypatch.setattr(probe_mod, "check_reachable", lambda c: {})
    fake = FakeTime(cluster)
    for name, mod in list(sys.modules.items()):
        if name.startswith("ansible_collections.ai_conformance.kubernetes.plugins.") and getattr(mod, "time", None) is _real_time:
            monkeypatch.setattr(mod, "time", fake)
    patch_http(monkeypatch, cluster)


def run_probe(run_module: Any, monkeypatch: Any, module: Any, cluster: FakeCluster, **args: Any) -> Result:
    """Run a probe module's main() against ``cluster``; the result, checked against the contract."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import validate_result_dict

    use(monkeypatch, cluster)
    res = run_module(module.main, dict({"run_id": "t1", "timeout": 60}, **args))
    assert not res.failed, res.result
    r = res.result["result"]
    assert validate_result_dict(r) == [], r
    return Result(r)


class Result(dict):
    """A probe result with lookups by check name and negative case."""

    @property
    def verdict(self) -> str:
        return self["verdict"]

    @property
    def reason(self) -> str:
        return self["reason"]

    def check(self, name: str) -> dict[str, Any]:
        found = [c for c in self["checks"] if c["name"] == name] or [c for c in self["checks"] if c["name"].startswith(name)]
        assert found, "no check %r in %s" % (name, [c["name"] for c in self["checks"]])
        return found[0]

    def ok(self, name: str) -> bool | None:
        return self.check(name)["ok"]

    def failed(self) -> list[str]:
        return [c["name"] for c in self["checks"] if c["ok"] is False]

    def undecided(self) -> list[str]:
        return [c["name"] for c in self["checks"] if c["ok"] is None]

    def negative(self, case: str) -> dict[str, Any]:
        found = [n for n in self["negative"] if n["case"].startswith(case)]
        assert found, "no negative case %r in %s" % (case, [n["case"] for n in self["negative"]])
        return found[0]
