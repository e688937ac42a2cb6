"""RunContext cleanup order: what is waited for, and what is left to terminate in the background.

A recording client stands in for the apiserver: it answers GET from what exists, records every
DELETE and wait, and (like the namespace controller, which only starts after its deletion grace
period) keeps a deleted namespace present: cleanup must not wait for it."""

from __future__ import annotations

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext

RUN = "r2612060900-ab12"


class Recorder:
    def __init__(self) -> None:
        self.objects: dict[tuple, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, str]] = []

    def add(self, ctx: RunContext, api: str, kind: str, name: str, namespace: str | None = None) -> None:
        obj = ctx.labelled({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": name + "-uid"}})
        self.objects[(kind, namespace, name)] = obj
        ctx.track(obj)

    def get(self, api: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def delete(self, api: str, kind: str, name: str, namespace: str | None = None, propagation: str = "Background") -> bool:
        self.calls.append(("delete", kind, name))
        if kind != "Namespace":  # a namespace terminates later (the namespace controller's grace period)
            self.objects.pop((kind, namespace, name), None)
        return True

    def wait_gone(self, api: str, kind: str, name: str, namespace: str | None = None, timeout_s: float = 60) -> None:
        self.calls.append(("wait", kind, name))
        assert (kind, namespace, name) not in self.objects, "waited for %s %s, which never goes" % (kind, name)


def test_cleanup_awaits_the_objects_in_its_namespace_then_leaves_the_namespace_terminating_and_releases_the_lease_last():
    client = Recorder()
    ctx = RunContext(client, RUN, "gang_scheduling")
    client.add(ctx, lease.API, lease.KIND, "aic-gpu-capacity", lease.NAMESPACE)
    client.add(ctx, "v1", "Namespace", "aic-gang")
    client.add(ctx, "v1", "Pod", "member-0", "aic-gang")
    client.add(ctx, "resource.k8s.io/v1", "ResourceClaim", "gpu", "aic-gang")
    client.add(ctx, "resource.k8s.io/v1", "DeviceClass", "aic-class")  # cluster-scoped: waited for itself
    report = ctx.cleanup()
    assert client.calls == [
        ("delete", "DeviceClass", "aic-class"),
        ("wait", "DeviceClass", "aic-class"),
        ("delete", "ResourceClaim", "gpu"),
        ("delete", "Pod", "member-0"),
        # The capacity the pods and claims held is free before anything else happens ...
        ("wait", "ResourceClaim", "gpu"),
        ("wait", "Pod", "member-0"),
        # ... the namespace is only asked to go (it still exists: never waited for) ...
        ("delete", "Namespace", "aic-gang"),
        # ... and the Lease that guards that capacity goes last.
        ("delete", "Lease", "aic-gpu-capacity"),
        ("wait", "Lease", "aic-gpu-capacity"),
    ]
    outcomes = {r["kind"]: r["outcome"] for r in report}
    assert outcomes == {"DeviceClass": "deleted", "ResourceClaim": "deleted", "Pod": "deleted", "Namespace": "delete requested", "Lease": "deleted"}
    assert ctx.created == []


def test_an_object_that_does_not_go_is_an_error_row_and_the_lease_is_still_released():
    client = Recorder()
    ctx = RunContext(client, RUN, "gang_scheduling")
    client.add(ctx, lease.API, lease.KIND, "aic-gpu-capacity", lease.NAMESPACE)
    client.add(ctx, "v1", "Namespace", "aic-gang")
    client.add(ctx, "v1", "Pod", "stuck", "aic-gang")
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError

    def stuck(api, kind, name, namespace=None, timeout_s=60):
        client.calls.append(("wait", kind, name))
        if kind == "Pod":
            raise ClusterError("Pod aic-gang/stuck not deleted after 60 s")

    client.wait_gone = stuck
    report = ctx.cleanup()
    rows = {r["kind"]: r["outcome"] for r in report}
    assert rows["Pod"] == "error: Pod aic-gang/stuck not deleted after 60 s"
    assert rows["Lease"] == "deleted" and ("delete", "Lease", "aic-gpu-capacity") in client.calls


class Namespaces:
    """Lists the run's namespaces by label; one of them never finishes terminating."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, float]] = []

    def list(self, api: str, kind: str, namespace: str | None = None, label_selector: str = "", **kw: Any) -> dict[str, Any]:
        assert (api, kind) == ("v1", "Namespace") and "ai-conformance.io/run-id=%s" % RUN in label_selector, label_selector
        return {"items": [{"metadata": {"name": "aic-dra-support-x"}}, {"metadata": {"name": "aic-stuck-x"}}]}

    def wait_until(self, api: str, kind: str, name: str, predicate: Any, namespace: str | None, timeout_s: float) -> tuple[bool, Any]:
        self.asked.append((name, timeout_s))
        gone = name != "aic-stuck-x"
        return (predicate(None), None) if gone else (predicate({"metadata": {"name": name}}), {"metadata": {"name": name}})


def test_the_end_of_a_run_awaits_its_terminating_namespaces_and_names_those_left():
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import await_namespaces

    client = Namespaces()
    assert await_namespaces(client, RUN, timeout_s=30) == ["aic-stuck-x"]
    assert [name for name, waited in client.asked] == ["aic-dra-support-x", "aic-stuck-x"]
    assert all(0 <= waited <= 30 for name, waited in client.asked)  # one deadline for all, never more than asked
