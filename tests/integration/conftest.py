"""Integration fixtures: the local reference cluster, once per pytest session.

``refcluster`` brings the cluster up (idempotent; builds what is missing) and tears it down at the
end of the session unless AIC_KEEP_CLUSTER=1.  Tests break it on purpose through ``breaker``:

    with breaker.stopped("fake-dra-driver"):   # a component stopped, restarted afterwards
        ...
    with breaker.deleted("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com"):  # an object removed, restored afterwards
        ...
    with breaker.labelled("refcluster-gpu-2", {"nvidia.com/cuda.driver-version.full": "570.1.1"}):  # node labels changed
        ...
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
from typing import Any

import pytest

from tests.refcluster import cluster as harness
from tests.refcluster.config import ensure_collection_path, kubeconfig_path, load_components

ensure_collection_path()

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import get_client  # noqa: E402

# Tiers, run in this order.  runtime: the harness and the runtime lane (its faults too): containers
# run and every runtime check is decided; it always runs.  core: the main job's bundle, the
# least-privilege run of the whole play, cleanup and the AWX-style run; probes: every other
# healthy-cluster test; faults: every other fault test.  Under a deadline (AIC_TEST_DEADLINE, epoch
# seconds: `make test` sets it from its time budget) a tier whose measured duration (TIER_S,
# docs/reference-cluster.md) no longer fits is skipped whole, each test with that reason; without
# one every tier runs.  On a new machine the cold build leaves time for the runtime tier only.
RUNTIME_FILES = ("test_refcluster.py", "test_runtime_lane.py")
CORE_FILES = ("test_bundle.py", "test_least_privilege.py", "test_cleanup_run.py", "test_awx_runner.py")
TIERS = ("runtime", "core", "probes", "faults")
# Reliability tests that take minutes each run with the fault tests: two runs at once on one cluster.
FAULT_FILES = ("test_concurrency.py",)
# Measured 2026-12-06 on a new machine: runtime 374 s (harness 132, runtime lane 242), core 1,204 s
# (bundle 677, least privilege 380, AWX-style run 126, cleanup 21).  Estimates from runs on a loaded
# machine: probes + fleet (about 3 min) and Trainer (about 2 min).  Faults, measured 2026-12-06 on the
# machine CI runs on (warm build cache): the 59 fault tests 1,274 s (the runtime lane's among them, 117 s;
# 3 interrupt trials and the run after them 381 s) and two concurrent runs 259 s, about 1,420 s; 1,800
# with a margin, so CI on a warm machine runs every tier (its run there: 39 min without the faults tier).
TIER_S = {"runtime": 0, "core": 1200, "probes": 1800, "faults": 1800}
_tier_verdict: dict[str, str | None] = {}


def tier_of(item) -> str:
    if item.path.name in RUNTIME_FILES:
        return "runtime"
    if item.path.name in CORE_FILES:
        return "core"
    return "faults" if item.get_closest_marker("fault") or item.path.name in FAULT_FILES else "probes"


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda it: TIERS.index(tier_of(it)))  # stable: file order kept within a tier


def pytest_runtest_setup(item):
    deadline = os.environ.get("AIC_TEST_DEADLINE")
    tier = tier_of(item)
    if not deadline or tier == "runtime":
        return
    if tier not in _tier_verdict:
        left = int(deadline) - time.time()
        _tier_verdict[tier] = (
            None
            if left >= TIER_S[tier]
            else "integration tier %r skipped: it takes about %d s and %d s of the test budget are left (an empty build cache takes most of it); "
            "run `make integration` for every tier" % (tier, TIER_S[tier], max(0, left))
        )
    if _tier_verdict[tier]:
        pytest.skip(_tier_verdict[tier])


class Breaker:
    def __init__(self, client):
        self.client = client

    @contextlib.contextmanager
    def stopped(self, component: str):
        comps = load_components()
        harness.stop(component)
        try:
            yield
        finally:
            harness.start(comps[component], comps)
            harness.wait_ready(comps[component])
            if comps[component].run.get("manifests"):
                harness.wire(comps[component])

    @contextlib.contextmanager
    def running(self, component: str):
        """Start an optional component (a fault instrument) and wire it; stop and unwire it afterwards."""
        comps = load_components()
        harness.start(comps[component], comps)
        try:
            harness.wait_ready(comps[component])
            if comps[component].run.get("manifests"):
                harness.wire(comps[component])
            yield
        finally:
            harness.stop(component)

    @contextlib.contextmanager
    def reconfigured(self, component: str, drop_args: list[str], add_args: list[str] | None = None):
        """Restart a component without some of its declared arguments (and with ``add_args``);
        restore it afterwards."""
        comps = load_components()
        changed = copy.deepcopy(comps[component])
        missing = [a for a in drop_args if a not in changed.run["args"]]
        if missing:
            raise AssertionError("%s has no argument %s: nothing to break" % (component, missing))
        changed.run["args"] = [a for a in changed.run["args"] if a not in drop_args] + list(add_args or [])
        harness.stop(component)
        harness.start(changed, comps)
        harness.wait_ready(changed)
        if changed.run.get("manifests"):
            harness.wire(changed)
        try:
            yield
        finally:
            harness.stop(component)
            harness.start(comps[component], comps)
            harness.wait_ready(comps[component])
            if comps[component].run.get("manifests"):
                harness.wire(comps[component])

    @contextlib.contextmanager
    def patched(self, api_version: str, kind: str, name: str, patch: dict[str, Any], namespace: str | None = None):
        """Merge-patch an object; put back the values the patch touched afterwards."""
        live = self.client.get(api_version, kind, name, namespace)
        if live is None:
            raise AssertionError("%s %s does not exist: nothing to break" % (kind, name))

        def old(p, obj):
            return {
                k: (old(v, (obj or {}).get(k)) if isinstance(v, dict) and isinstance((obj or {}).get(k), dict) else (obj or {}).get(k)) for k, v in p.items()
            }

        restore = old(patch, live)
        self.client.patch(api_version, kind, name, patch, namespace)
        try:
            yield
        finally:
            self.client.patch(api_version, kind, name, restore, namespace)

    @contextlib.contextmanager
    def labelled(self, node: str, labels: dict[str, str | None]):
        """Set (or remove, with None) node labels; restore the old values afterwards."""
        live = self.client.get("v1", "Node", node)
        old = {k: (live["metadata"].get("labels") or {}).get(k) for k in labels}
        self.client.patch("v1", "Node", node, {"metadata": {"labels": labels}})
        try:
            yield
        finally:
            self.client.patch("v1", "Node", node, {"metadata": {"labels": old}})

    @contextlib.contextmanager
    def allocatable(self, node: str, resources: dict[str, str]):
        """Change a fake node's capacity/allocatable (what a device plugin would advertise); restore afterwards."""
        live = self.client.get("v1", "Node", node)
        old_cap, old_alloc = dict(live["status"]["capacity"]), dict(live["status"]["allocatable"])
        patch = {"status": {"capacity": resources, "allocatable": resources}}
        self.client.patch("v1", "Node", node, patch, subresource="status")
        try:
            yield
        finally:
            self.client.patch(
                "v1",
                "Node",
                node,
                {"status": {"capacity": {k: old_cap.get(k) for k in resources}, "allocatable": {k: old_alloc.get(k) for k in resources}}},
                subresource="status",
            )

    @contextlib.contextmanager
    def node_fault(self, **faults: str):
        """Break the real worker nodes (tests/refcluster/runtime_nodes.py control file):
        dra_fault / device_plugin_fault = all-devices (a plugin that hands every container every
        GPU) or stopped (the plugin gone; a stopped DRA plugin's ResourceSlices withdrawn),
        runtime = legacy-nvidia (a runtime that honours NVIDIA_VISIBLE_DEVICES), sandbox_runtime =
        runc (the sandbox handler runs plain runc).  Restored afterwards."""
        from tests.refcluster import runtime_nodes as rn

        def apply(control: dict[str, str]) -> None:
            rn.APPLIED.unlink(missing_ok=True)
            rn.CONTROL.write_text(json.dumps(control))
            deadline = time.monotonic() + 120
            while not (rn.APPLIED.is_file() and json.loads(rn.APPLIED.read_text()) == dict(rn.DEFAULT_CONTROL, **control)):
                if time.monotonic() > deadline or harness.running("runtime-nodes") is None:
                    raise AssertionError("the runtime nodes did not apply %s; see .build/refcluster/logs/runtime-nodes.log" % control)
                time.sleep(0.5)

        apply(dict(faults))
        try:
            yield
        finally:
            apply({})

    @contextlib.contextmanager
    def dcgm_control(self, **control: Any):
        """Break the fake DCGM exporter through its control file (tests/refcluster/fakes/dcgm_exporter.py):
        frozen=True (DCGM stopped: the last readings are served again), wrong_gpu=True (each pod is
        named on another GPU of its node).  Restored afterwards."""
        from tests.refcluster.config import STATE

        path = STATE / "run" / "dcgm-control.json"
        old = path.read_text() if path.is_file() else None
        path.write_text(json.dumps(control))
        time.sleep(3)  # one collection of the exporter (its --interval is 2 s)
        try:
            yield
        finally:
            if old is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(old)

    @contextlib.contextmanager
    def deleted(self, api_version: str, kind: str, name: str, namespace: str | None = None):
        live = self.client.get(api_version, kind, name, namespace)
        if live is None:
            raise AssertionError("%s %s does not exist: nothing to break" % (kind, name))
        saved: dict[str, Any] = copy.deepcopy(live)
        for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
            saved["metadata"].pop(k, None)
        saved.pop("status", None)
        self.client.delete(api_version, kind, name, namespace)
        self.client.wait_gone(api_version, kind, name, namespace, timeout_s=30)
        try:
            yield live
        finally:
            if self.client.get(api_version, kind, name, namespace) is None:
                self.client.create(saved)


@pytest.fixture(scope="session")
def refcluster():
    st = harness.up()
    assert st["healthy"], st
    yield st
    if not os.environ.get("AIC_KEEP_CLUSTER"):
        harness.down(quiet=True)


@pytest.fixture(scope="session")
def runtime_nodes(refcluster) -> list[str]:
    """The real worker nodes, or a skip saying why this host runs kwok nodes only."""
    from tests.refcluster import runtime_nodes as rn
    from tests.refcluster.config import STATE

    info = json.loads((STATE / "run" / "runtime-nodes.ready").read_text())
    if info.get("skipped"):
        pytest.skip("no real worker nodes on this host: %s" % info["skipped"])
    return list(rn.NODES)


@pytest.fixture(scope="session")
def probe_image(refcluster) -> str:
    """The locally built probe image (inventories/local), for the probes' container-level checks."""
    from tests.refcluster.config import local_vars

    return local_vars()["accelerators_probe_image"]


@pytest.fixture(scope="session")
def kubeconfig(refcluster) -> str:
    return str(kubeconfig_path())


@pytest.fixture(scope="session")
def k8s(kubeconfig):
    return get_client({"kubeconfig": kubeconfig})


@pytest.fixture
def breaker(k8s):
    return Breaker(k8s)


# The probes whose container-level checks take an image, and the option that names it.
IMAGE_OPTION = {
    "dra_probe": "gpu_image",
    "dcgm_query": "gpu_image",
    "hpa_probe": "load_image",
    "accelerator_isolation_probe": "probe_image",
    "driver_runtime_probe": "probe_image",
    "gpu_sharing_probe": "probe_image",
    "sandbox_probe": "probe_image",
}


@pytest.fixture(scope="session")
def ansible_module(kubeconfig):
    """ansible_module(name, **args) -> the module's JSON result, run through real ansible (AnsiballZ)."""
    from tests.refcluster.ansible_run import run_module
    from tests.refcluster.config import local_vars

    image = local_vars()["accelerators_probe_image"]

    def run(name: str, check: bool = False, **args: Any) -> dict[str, Any]:
        args.setdefault("kubeconfig", kubeconfig)
        # The container-level checks use the probe image built here, as inventories/local says:
        # the modules' public defaults (nvcr.io/nvidia/cuda) cannot be pulled on this machine.
        if name in IMAGE_OPTION:
            args.setdefault(IMAGE_OPTION[name], image)
        return run_module(name, args, check=check)[0]

    return run
