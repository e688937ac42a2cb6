"""FakeCluster: the store, the API verbs, the clock and the controller loop, put together from the
parts in this package (see its docstring)."""

from __future__ import annotations

import copy
import itertools
from typing import Any, Callable

from .admission import AdmissionMixin
from .api import ApiMixin
from .base import BUILTIN, DEFAULT_SCHEDULER
from .dra import DraMixin
from .gang import GangMixin
from .kubelet import KubeletMixin
from .scheduler import SchedulerMixin
from .store import StoreMixin
from .workloads import WorkloadsMixin


class FakeCluster(StoreMixin, ApiMixin, AdmissionMixin, WorkloadsMixin, DraMixin, SchedulerMixin, GangMixin, KubeletMixin):
    """The store, the API verbs, the clock and the controller loop.  See the package docstring."""

    source = "fake cluster"

    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, tuple[str, bool, bool]]] = copy.deepcopy(BUILTIN)
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.rv = 100
        self.uids = itertools.count(1)
        self.now = 1000.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.controllers: list[Callable[[], bool]] = []
        self.admission: list[Callable[[str, dict[str, Any], dict[str, Any] | None], None]] = []
        self.services: dict[tuple[str, str], Callable[..., Any]] = {}
        self.apps: list[Callable[[dict[str, Any]], Any]] = []
        self.logs: dict[str, str] = {}
        self.dp_assigned: dict[str, list[str]] = {}
        self.node_runtime: dict[str, dict[str, Any]] = {}
        self.schedulers = {DEFAULT_SCHEDULER}
        self.pod_security = True
        self.gang_plugin = True
        # Broken-platform switches of the built-in controllers (see each use):
        # dra-ignore-request-selectors, dra-ignore-class-selectors, dra-ignore-constraints,
        # dra-double-allocate, dra-plugin-withdraws-on-prepare (the node's DRA kubelet plugin fails
        # preparing a claim and deregisters: the kubelet deletes its ResourceSlices, the allocation stays),
        # claim-controller-off, no-extended-resource-accounting (the scheduler counts no pod's
        # nvidia.com/* use against a node), no-extended-resource-fit (nor any request of one),
        # runtime-class-admission-off.
        self.faults: set[str] = set()
        self.settling = False
        self.calls: list[str] = []
        self.controllers += [self._namespaces, self._claims, self._scheduler, self._kubelet, self._replicasets, self._deployments]
        self.admission += [self._admit_pod_security, self._admit_runtime_class]
        self.create_obj({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
