"""Integration fixtures: the local reference cluster, once per pytest session.

``refcluster`` brings the cluster up (idempotent; builds what is missing) and tears it down at the
end of the session unless AIC_KEEP_CLUSTER=1.  Tests break it on purpose through ``breaker``:

    with breaker.stopped("fake-dra-driver"):   # a component stopped, restarted afterwards
        ...
    with breaker.deleted("resource.k8s.io/v1", "DeviceClass", "gpu.nvidia.com"):  # an object removed, restored afterwards
        ...
"""

from __future__ import annotations

import contextlib
import copy
import os
from typing import Any

import pytest

from tests.refcluster import cluster as harness
from tests.refcluster.config import ensure_collection_path, kubeconfig_path, load_components

ensure_collection_path()

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.client import get_client  # noqa: E402


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
def kubeconfig(refcluster) -> str:
    return str(kubeconfig_path())


@pytest.fixture(scope="session")
def k8s(kubeconfig):
    return get_client({"kubeconfig": kubeconfig})


@pytest.fixture
def breaker(k8s):
    return Breaker(k8s)
