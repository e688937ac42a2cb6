"""The interrupted-run sweep releases what Kueue holds and removes the Kueue objects a gang probe
makes, cluster-scoped ones included (found by the interrupt matrix: a gang probe killed mid-run left
its pods, held by Kueue's finalizer, its namespace and its ResourceFlavor)."""

from __future__ import annotations

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL, sweep

RUN = "int-261206-28"
LABELS = {MANAGED_BY_LABEL: MANAGED_BY, RUN_ID_LABEL: RUN}


class Store:
    """Answers list by kind from a fixed store; records patches and deletes."""

    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = objects
        self.calls: list[tuple] = []

    def served(self, api: str, kind: str) -> bool:
        return True

    def list(self, api: str, kind: str, namespace: str | None = None, label_selector: str = "", **kw: Any) -> dict[str, Any]:
        return {"items": self.objects.get(kind, [])}

    def get(self, api: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return None

    def patch(self, api: str, kind: str, name: str, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self.calls.append(("patch", kind, name, body))
        return {}

    def delete(self, api: str, kind: str, name: str, namespace: str | None = None) -> bool:
        self.calls.append(("delete", kind, name))
        return True


def pod(name: str, finalizers: list[str], terminating: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "aic-gang", "labels": LABELS, "finalizers": finalizers}
    if terminating:
        md["deletionTimestamp"] = "2026-12-06T09:00:00Z"
    return {"metadata": md}


def test_kueue_held_pods_are_released_and_the_flavor_goes_after_its_queue():
    store = Store(
        {
            "Pod": [pod("gang-wait-0", [wl.KUEUE_POD_FINALIZER]), pod("gang-wait-1", [wl.KUEUE_POD_FINALIZER], terminating=True), pod("plain", [])],
            "ClusterQueue": [{"metadata": {"name": "aic-cq", "labels": LABELS}}],
            "ResourceFlavor": [{"metadata": {"name": "aic-flavor", "labels": LABELS}}],
        }
    )
    swept = sweep(store, RUN)
    patched = [c[2] for c in store.calls if c[0] == "patch"]
    # Both Kueue-held pods are marked non-retriable, the one already terminating too; the plain pod is not touched.
    assert patched == ["gang-wait-0", "gang-wait-1"]
    assert all(c[3] == wl.KUEUE_NOT_RETRIABLE for c in store.calls if c[0] == "patch")
    deleted = [(c[1], c[2]) for c in store.calls if c[0] == "delete"]
    assert ("Pod", "gang-wait-1") not in deleted  # already going: not deleted twice
    assert deleted.index(("ClusterQueue", "aic-cq")) < deleted.index(("ResourceFlavor", "aic-flavor"))
    assert {(s["kind"], s["name"]) for s in swept} >= {("ResourceFlavor", "aic-flavor"), ("Pod", "gang-wait-0"), ("Pod", "plain")}


def test_dry_run_patches_nothing():
    store = Store({"Pod": [pod("gang-wait-0", [wl.KUEUE_POD_FINALIZER])]})
    assert [s["name"] for s in sweep(store, RUN, dry_run=True)] == ["gang-wait-0"]
    assert store.calls == []


def test_a_pod_gone_between_the_list_and_the_patch_is_skipped():
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import ClusterError

    store = Store({"Pod": [pod("gang-wait-1", [wl.KUEUE_POD_FINALIZER], terminating=True)]})

    def gone(*a, **kw):
        raise ClusterError("not found (404) while trying to patch Pod aic-gang/gang-wait-1", status=404)

    store.patch = gone
    assert sweep(store, RUN) == []
