"""A fake Kubernetes cluster at the API boundary, for the probes' verdict-logic unit tests.

It answers the calls the probes make on ``module_utils.client.Client`` (served, get, list, create,
patch, delete, request, watch, wait_for, wait_until, holds, wait_gone) from an object store keyed
by (apiVersion, kind, namespace, name), and runs small models of the controllers the probes rely
on after every write, the way the real ones react to a watch:

- admission: Pod Security (namespace label ``pod-security.kubernetes.io/enforce``), RuntimeClass
  (overhead, scheduling, unknown class), and validating webhooks registered by components;
- kube-scheduler: node selectors, taints, extended resources from node allocatable, RuntimeClass
  overhead, DRA claims allocated from ResourceSlices (DeviceClass and request CEL selectors, count,
  allocationMode All, matchAttribute constraints), and a native gang plugin (PodGroup minCount);
  a pod nothing fits is marked Unschedulable with the scheduler's message;
- the resourceclaim controller (reservations dropped for finished pods, devices freed), the
  Deployment/ReplicaSet controllers (with the scale subresource), the garbage collector and the
  namespace controller;
- kubelets: a kwok node runs no container (pods just turn Running); a node whose runtime runs
  containers executes the two programs the probes run (the observer script of
  module_utils/runtime.py and ``uname -r``) from what the node gives the container: the GPUs of its
  claims or device-plugin allocation through CDI, and, under fault ``legacy-envvar``, every GPU its
  NVIDIA_VISIBLE_DEVICES names (shared/reference/apis.md section 8, tests/refcluster/node/README.md).

Time is virtual: ``wait_until`` runs the scheduled events (a pod finishing, a node joining, a
scrape) up to its deadline and returns what the store holds; ``FakeTime`` (patched into the
collection's modules) makes sleeps and polls advance the same clock.  Nothing here looks at a
probe's object names to decide an outcome: components react to kinds, labels and specs only.
Optional components (Karpenter, Prometheus and the DCGM exporter, a custom-metrics adapter and the
HPA controller, a Gateway controller and its data plane, model servers, KubeRay) are classes at
the end that install themselves into a cluster; each has switches for the ways it can be broken.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import math
import re
import time as _real_time
from pathlib import Path
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import client as cl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import runtime as rt_mod

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFCLUSTER = json.loads((FIXTURES / "refcluster.json").read_text())
EPOCH = 1_790_000_000.0
KWOK_RUNTIME = "kwok://fake"
CONTAINERD = "containerd://2.4.2"
# Kernel of the reference cluster's real node, as its container reported it (test_runtime.py LOG_ONE_GPU).
HOST_KERNEL = "6.18.44-fc-v1045"
# What gVisor reports as its kernel (shared/reference/runtime-lane.md: `uname -r` inside was 4.19.0-gvisor).
GVISOR_KERNEL = "4.19.0-gvisor"

# (apiVersion) -> {kind: (plural, namespaced, has_scale)}
BUILTIN = {
    "v1": {
        "Namespace": ("namespaces", False, False),
        "Node": ("nodes", False, False),
        "Pod": ("pods", True, False),
        "Service": ("services", True, False),
        "ConfigMap": ("configmaps", True, False),
        "ServiceAccount": ("serviceaccounts", True, False),
        "Event": ("events", True, False),
    },
    "apps/v1": {"Deployment": ("deployments", True, True), "ReplicaSet": ("replicasets", True, True)},
    "resource.k8s.io/v1": {
        "DeviceClass": ("deviceclasses", False, False),
        "ResourceSlice": ("resourceslices", False, False),
        "ResourceClaim": ("resourceclaims", True, False),
        "ResourceClaimTemplate": ("resourceclaimtemplates", True, False),
    },
    "node.k8s.io/v1": {"RuntimeClass": ("runtimeclasses", False, False)},
    "apiextensions.k8s.io/v1": {"CustomResourceDefinition": ("customresourcedefinitions", False, False)},
    "admissionregistration.k8s.io/v1": {"ValidatingWebhookConfiguration": ("validatingwebhookconfigurations", False, False)},
    "apiregistration.k8s.io/v1": {"APIService": ("apiservices", False, False)},
    "autoscaling/v2": {"HorizontalPodAutoscaler": ("horizontalpodautoscalers", True, False)},
}
DEFAULT_SCHEDULER = "default-scheduler"
RESOURCE_API = "resource.k8s.io/v1"


class Deny(Exception):
    """An admission refusal: HTTP code, Status reason, message."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def api_error(code: int, reason: str, message: str, what: str) -> cl.ClusterError:
    """The ClusterError the real client raises for this HTTP answer (same translation code)."""
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
    return cl.translate_api_exception(cl._HTTPFailure(code, reason, json.dumps(body).encode()), what)


# ---- quantities, selectors, merge patch ---------------------------------------------------------
_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3}


def qty(v: Any) -> float:
    s = str(v).strip()
    for suf, mul in sorted(_SUFFIX.items(), key=lambda kv: -len(kv[0])):
        if s.endswith(suf) and s[: -len(suf)].replace(".", "", 1).isdigit():
            return float(s[: -len(suf)]) * mul
    try:
        return float(s)
    except ValueError:
        return 0.0


def labels_match(labels: dict[str, str] | None, sel: str | None) -> bool:
    labels = labels or {}
    for term in [t.strip() for t in (sel or "").split(",") if t.strip()]:
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def fields_match(obj: dict[str, Any], sel: str | None) -> bool:
    for term in [t for t in (sel or "").split(",") if t]:
        k, v = term.split("=", 1)
        if str(dotted(obj, k) if dotted(obj, k) is not None else "") != v:
            return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def cond(obj: dict[str, Any], ctype: str, status: str, reason: str = "", message: str = "", now: str = "") -> bool:
    """Set a condition in obj.status.conditions; True when it changed."""
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    for c in conds:
        if c.get("type") == ctype:
            if (c.get("status"), c.get("reason", ""), c.get("message", "")) == (status, reason, message):
                return False
            c.update(status=status, reason=reason, message=message, lastTransitionTime=now)
            return True
    conds.append({"type": ctype, "status": status, "reason": reason, "message": message, "lastTransitionTime": now})
    return True


def get_cond(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c.get("type") == ctype), {})


# ---- a small CEL evaluator for DRA selectors ------------------------------------------------------
class _Version:
    def __init__(self, v: str) -> None:
        self.t = tuple(int(x) for x in re.findall(r"\d+", str(v))[:3])

    def isLessThan(self, o: _Version) -> bool:
        return self.t < o.t

    def isGreaterThan(self, o: _Version) -> bool:
        return self.t > o.t

    def __eq__(self, o: object) -> bool:
        return isinstance(o, _Version) and self.t == o.t

    __hash__ = None  # type: ignore[assignment]


class CelError(Exception):
    pass


def cel_match(expr: str, device: dict[str, Any], driver: str) -> bool:
    """Evaluate the DRA CEL subset the probes and drivers use: device.driver, device.attributes[
    '<domain>'].<name> (strings, ints, bools, versions), ==, !=, &&, ||, !, isLessThan/
    isGreaterThan(semver(...)).  A missing attribute is a CEL runtime error: no match."""
    attrs = device.get("attributes") or {}

    def attr(domain: str, name: str) -> Any:
        key = name if domain == driver and name in attrs else "%s/%s" % (domain, name)
        raw = attrs.get(key)
        if raw is None:
            raise CelError("no such key: %s" % key)
        if "version" in raw:
            return _Version(raw["version"])
        for k in ("string", "int", "bool"):
            if k in raw:
                return raw[k]
        raise CelError("bad attribute %s" % key)

    py = re.sub(r"device\.attributes\['([^']+)'\]\.([A-Za-z0-9_]+)", r"attr('\1', '\2')", expr)
    py = py.replace("device.driver", "drv").replace("&&", " and ").replace("||", " or ")
    py = re.sub(r"!(?!=)", " not ", py)
    py = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", py))
    try:
        return bool(eval(py, {"__builtins__": {}}, {"attr": attr, "drv": driver, "semver": _Version}))
    except (CelError, AttributeError, TypeError):  # CEL runtime errors: no such key, no such method
        return False


# ---- the cluster ---------------------------------------------------------------------------------
class FakeCluster:
    """The store, the API verbs, the clock and the controller loop.  See the module docstring."""

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

    # -- clock ---------------------------------------------------------------------------------
    def iso(self) -> str:
        return _real_time.strftime("%Y-%m-%dT%H:%M:%SZ", _real_time.gmtime(EPOCH + self.now))

    def after(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._seq), fn))

    def every(self, period: float, fn: Callable[[], None], first: float | None = None) -> None:
        def tick() -> None:
            fn()
            self.after(period, tick)

        self.after(period if first is None else first, tick)

    def step(self, deadline: float) -> bool:
        """Run the next event due by ``deadline``; False (and the clock at the deadline) when none."""
        if not self._queue or self._queue[0][0] > deadline:
            self.now = max(self.now, deadline)
            return False
        t, _s, fn = heapq.heappop(self._queue)
        self.now = max(self.now, t)
        fn()
        self.settle()
        return True

    def advance(self, seconds: float) -> None:
        deadline = self.now + seconds
        while self.step(deadline):
            pass

    # -- discovery -----------------------------------------------------------------------------
    def serve(self, api_version: str, kind: str, plural: str, namespaced: bool = True, scale: bool = False) -> None:
        self.kinds.setdefault(api_version, {})[kind] = (plural, namespaced, scale)

    def served(self, api_version: str, kind: str | None = None) -> bool:
        return api_version in self.kinds and (kind is None or kind in self.kinds[api_version])

    def resources(self, api_version: str) -> dict[str, dict[str, Any]]:
        if api_version not in self.kinds:
            raise cl.ClusterError("API %s is not served by this cluster" % api_version, "not_served", 404)
        return {k: {"name": p, "namespaced": n, "verbs": []} for k, (p, n, _s) in self.kinds[api_version].items()}

    gv_path = staticmethod(cl.Client.gv_path)

    def path(self, api_version: str, kind: str, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        table = self.resources(api_version)
        if kind not in table:
            raise cl.ClusterError("kind %s is not served in API %s" % (kind, api_version), "not_served", 404)
        parts = [self.gv_path(api_version)]
        if table[kind]["namespaced"] and namespace:
            parts.append("namespaces/%s" % namespace)
        parts.append(table[kind]["name"])
        parts += [x for x in (name, subresource) if x]
        return "/".join(parts)

    def _parse_path(self, path: str) -> tuple[str, str, str | None, str | None, str | None]:
        for av, kinds in self.kinds.items():
            base = self.gv_path(av) + "/"
            if not path.startswith(base):
                continue
            rest = path[len(base) :].split("/")
            ns = None
            if rest[0] == "namespaces" and len(rest) > 2:
                ns, rest = rest[1], rest[2:]
            for kind, (plural, _n, _s) in kinds.items():
                if rest[0] == plural:
                    return av, kind, ns, (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        raise api_error(404, "NotFound", "the server could not find the requested resource", "GET %s" % path)

    # -- store ---------------------------------------------------------------------------------
    def key(self, api_version: str, kind: str, namespace: str | None, name: str) -> tuple[str, str, str, str]:
        namespaced = self.kinds.get(api_version, {}).get(kind, ("", True, False))[1]
        return (api_version, kind, (namespace or "") if namespaced else "", name)

    def obj(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The stored object itself (components and tests may change it, then call settle)."""
        return self.objects.get(self.key(api_version, kind, namespace, name))

    def all(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for (av, k, ns, _n), o in sorted(self.objects.items()) if av == api_version and k == kind and (namespace is None or ns == namespace)]

    def _bump(self, obj: dict[str, Any], etype: str) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append({"type": etype, "object": copy.deepcopy(obj), "rv": self.rv})

    def touch(self, obj: dict[str, Any]) -> None:
        """Record a change a controller made to a stored object."""
        self._bump(obj, "MODIFIED")

    def create_obj(self, obj: dict[str, Any], admit: bool = False) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        av, kind = obj["apiVersion"], obj["kind"]
        what = "create %s %s" % (kind, md.get("name") or md.get("generateName"))
        if not self.served(av, kind):
            raise cl.ClusterError("kind %s is not served in API %s" % (kind, av), "not_served", 404)
        if not md.get("name") and md.get("generateName"):
            md["name"] = "%s%05x" % (md["generateName"], next(self.uids) * 7919 % 0xFFFFF)
        namespaced = self.kinds[av][kind][1]
        if namespaced and self.obj("v1", "Namespace", md.get("namespace") or "") is None:
            raise api_error(404, "NotFound", 'namespaces "%s" not found' % md.get("namespace"), what)
        if namespaced and (self.obj("v1", "Namespace", md["namespace"]) or {}).get("metadata", {}).get("deletionTimestamp"):
            raise api_error(403, "Forbidden", "namespace %s is being terminated" % md["namespace"], what)
        k = self.key(av, kind, md.get("namespace"), md["name"])
        if k in self.objects:
            raise api_error(409, "AlreadyExists", '%s "%s" already exists' % (self.kinds[av][kind][0], md["name"]), what)
        if admit:
            for hook in self.admission:
                try:
                    hook("CREATE", obj, None)
                except Deny as exc:
                    raise api_error(exc.code, exc.reason, exc.message, what)
        if not namespaced:
            md.pop("namespace", None)
        md.update(uid="uid-%d" % next(self.uids), creationTimestamp=self.iso(), generation=1)
        md.setdefault("labels", {})
        self.objects[k] = obj
        self._bump(obj, "ADDED")
        return obj

    def remove(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete one object and, like the garbage collector, everything it owns."""
        k = self.key(api_version, kind, namespace, name)
        obj = self.objects.pop(k, None)
        if obj is None:
            return False
        self.history.append({"type": "DELETED", "object": copy.deepcopy(obj), "rv": self.rv})
        uid = obj["metadata"]["uid"]
        for ok_, child in list(self.objects.items()):
            if any(r.get("uid") == uid for r in child["metadata"].get("ownerReferences") or []) and ok_ in self.objects:
                self.remove(ok_[0], ok_[1], ok_[3], ok_[2] or None)
        if kind == "Namespace":
            for ok_ in [x for x in self.objects if x[2] == name]:
                if ok_ in self.objects:
                    self.remove(ok_[0], ok_[1], ok_[3], name)
        return True

    def settle(self) -> None:
        """Run the controllers until none changes anything (what their watches would do)."""
        if self.settling:
            return
        self.settling = True
        try:
            for _i in range(200):
                if not any([c() for c in self.controllers]):
                    return
            raise AssertionError("the fake cluster's controllers did not settle")
        finally:
            self.settling = False

    def apply(self, *objs: dict[str, Any]) -> None:
        """Set up the cluster: store objects as an installer would (no admission), then settle."""
        for o in objs:
            self.create_obj(o)
        self.settle()

    # -- the client API ------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.path(api_version, kind, namespace, name)
        o = self.obj(api_version, kind, name, namespace)
        return copy.deepcopy(o) if o is not None else None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None, field_selector: str | None = None
    ) -> dict[str, Any]:
        self.path(api_version, kind, namespace)
        self.calls.append("list %s %s" % (api_version, kind))
        items = [
            copy.deepcopy(o)
            for o in self.all(api_version, kind, namespace)
            if labels_match(o["metadata"].get("labels"), label_selector) and fields_match(o, field_selector)
        ]
        return {"items": items, "resourceVersion": str(self.rv)}

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        stored = self.create_obj(obj, admit=True)
        out = copy.deepcopy(stored)
        self.settle()
        return out

    def patch(
        self, api_version: str, kind: str, name: str, patch: Any, namespace: str | None = None, patch_type: str = "merge", subresource: str | None = None
    ) -> dict[str, Any]:
        self.path(api_version, kind, namespace, name, subresource)
        o = self.obj(api_version, kind, name, namespace)
        if o is None:
            raise api_error(404, "NotFound", '%s "%s" not found' % (self.kinds[api_version][kind][0], name), "patch %s %s" % (kind, name))
        if subresource == "scale":
            patch = {"spec": {"replicas": patch["spec"]["replicas"]}}
        new = merge_patch(o, patch)
        if new.get("spec") != o.get("spec"):
            new["metadata"]["generation"] = o["metadata"].get("generation", 1) + 1
        o.clear()
        o.update(new)
        self._bump(o, "MODIFIED")
        self.settle()
        return copy.deepcopy(o) if subresource != "scale" else self.scale_of(o)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, propagation: str = "Background") -> bool:
        self.path(api_version, kind, namespace, name)
        gone = self.remove(api_version, kind, name, namespace)
        self.settle()
        return gone

    def watch(
        self, api_version: str, kind: str, namespace: str | None = None, resource_version: str = "", label_selector=None, field_selector=None, timeout_s=30
    ):
        """Replay the recorded events after resource_version (what a watch from it would send)."""
        for ev in list(self.history):
            o = ev["object"]
            if ev["rv"] <= int(resource_version or 0) or o["apiVersion"] != api_version or o["kind"] != kind:
                continue
            if namespace and o["metadata"].get("namespace") != namespace:
                continue
            if labels_match(o["metadata"].get("labels"), label_selector) and fields_match(o, field_selector):
                yield {"type": ev["type"], "object": copy.deepcopy(o)}

    def wait_until(self, api_version, kind, name, predicate, namespace=None, timeout_s=60):
        deadline = self.now + timeout_s
        last = self.get(api_version, kind, name, namespace)
        while not predicate(last):
            if not self.step(deadline):
                return False, last
            last = self.get(api_version, kind, name, namespace)
        return True, last

    def wait_for(self, api_version, kind, name, predicate, namespace=None, timeout_s=60, what=""):
        ok, last = self.wait_until(api_version, kind, name, predicate, namespace, timeout_s)
        if ok:
            return last
        qual = "%s/%s" % (namespace, name) if namespace else name
        raise cl.ClusterError("timed out after %ss waiting for %s %s%s" % (int(timeout_s), kind, qual, " to %s" % what if what else ""), "timeout")

    def holds(self, api_version, kind, name, forbidden, namespace=None, seconds=10):
        seen, last = self.wait_until(api_version, kind, name, forbidden, namespace, seconds)
        return not seen, last

    def wait_gone(self, api_version, kind, name, namespace=None, timeout_s=60):
        self.wait_for(api_version, kind, name, lambda o: o is None, namespace, timeout_s, "be deleted")

    def get_path(self, path: str, what: str = "") -> Any:
        return self.request("GET", path, what=what)

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None, what: str = "", **_kw: Any) -> Any:
        self.calls.append("%s %s" % (method, path))
        what = what or "%s %s" % (method, path)
        if path == "/version":
            return {"major": "1", "minor": "37", "gitVersion": "v1.37.2"}
        for av in self.kinds:
            if path == self.gv_path(av):
                res = []
                for kind, (plural, namespaced, scale) in self.kinds[av].items():
                    res.append({"name": plural, "kind": kind, "namespaced": namespaced, "verbs": ["get", "list", "create", "delete"]})
                    if scale:
                        res.append({"name": plural + "/scale", "kind": "Scale", "namespaced": namespaced})
                return {"kind": "APIResourceList", "groupVersion": av, "resources": res}
        m = re.match(r"^/api/v1/namespaces/([^/]+)/(services|pods)/([^/:]+)(?::([^/]+))?/proxy(/.*)?$", path)
        if m:
            return self._proxy(m.group(2), m.group(1), m.group(3), m.group(4), method, m.group(5) or "/", query or {}, body, what)
        m = re.match(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$", path)
        if m:
            pod = self.obj("v1", "Pod", m.group(2), m.group(1))
            if pod is None:
                raise api_error(404, "NotFound", 'pods "%s" not found' % m.group(2), what)
            return {"raw": self.logs.get(pod["metadata"]["uid"], "")}
        av, kind, ns, name, sub = self._parse_path(path)
        if sub == "scale" and name:
            o = self.obj(av, kind, name, ns)
            if o is None:
                raise api_error(404, "NotFound", '%s "%s" not found' % (self.kinds[av][kind][0], name), what)
            if method == "PATCH":
                return self.patch(av, kind, name, body, ns, subresource="scale")
            return self.scale_of(o)
        raise api_error(405, "MethodNotAllowed", "the fake does not serve %s %s" % (method, path), what)

    def scale_of(self, o: dict[str, Any]) -> dict[str, Any]:
        sel = ",".join("%s=%s" % kv for kv in sorted((((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}).items()))
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"].get("namespace")},
            "spec": {"replicas": (o.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (o.get("status") or {}).get("replicas", 0), "selector": sel},
        }

    def _proxy(self, what_kind: str, ns: str, name: str, port: str | None, method: str, rest: str, query: dict[str, Any], body: Any, what: str) -> Any:
        if what_kind == "services":
            handler = self.services.get((ns, name))
            if handler is None or self.obj("v1", "Service", name, ns) is None:
                raise api_error(503, "ServiceUnavailable", 'no endpoints available for service "%s"' % name, what)
            return handler(method, rest, query, body)
        pod = self.obj("v1", "Pod", name, ns)
        if pod is None or (pod.get("status") or {}).get("phase") != "Running":
            raise api_error(503, "ServiceUnavailable", "pod %s/%s is not running" % (ns, name), what)
        for app in self.apps:
            handler = app(pod)
            if handler is not None:
                status, out, _h = handler(int(port or 0), method, rest, query, body)
                if status >= 400:
                    raise api_error(status, "InternalError", str(out)[:200], what)
                return out if isinstance(out, dict) else {"raw": out}
        raise api_error(503, "ServiceUnavailable", "error trying to reach pod %s: connection refused" % name, what)

    # -- built-in admission --------------------------------------------------------------------
    def _admit_pod_security(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        if obj["kind"] != "Pod" or not self.pod_security:
            return
        ns = self.obj("v1", "Namespace", obj["metadata"].get("namespace") or "") or {}
        if (ns["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce") not in ("baseline", "restricted"):
            return
        spec = obj.get("spec") or {}
        bad = []
        priv = [c["name"] for c in spec.get("containers") or [] if (c.get("securityContext") or {}).get("privileged")]
        if priv:
            bad.append('privileged (container "%s" must not set securityContext.privileged=true)' % priv[0])
        host = [v["name"] for v in spec.get("volumes") or [] if v.get("hostPath")]
        if host:
            bad.append('hostPath volumes (volume "%s")' % host[0])
        if bad:
            raise Deny(403, "Forbidden", 'pods "%s" is forbidden: violates PodSecurity "baseline:latest": %s' % (obj["metadata"]["name"], ", ".join(bad)))

    def _admit_runtime_class(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        spec = obj.get("spec") or {}
        if obj["kind"] != "Pod" or not spec.get("runtimeClassName") or "runtime-class-admission-off" in self.faults:
            return
        rc = self.obj("node.k8s.io/v1", "RuntimeClass", spec["runtimeClassName"])
        if rc is None:
            raise Deny(403, "Forbidden", 'pod rejected: RuntimeClass "%s" not found' % spec["runtimeClassName"])
        fixed = (rc.get("overhead") or {}).get("podFixed")
        if fixed:
            if spec.get("overhead") and spec["overhead"] != fixed:
                raise Deny(403, "Forbidden", "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
            spec["overhead"] = dict(fixed)
        sched = rc.get("scheduling") or {}
        for k, v in (sched.get("nodeSelector") or {}).items():
            if (spec.get("nodeSelector") or {}).get(k, v) != v:
                raise Deny(403, "Forbidden", "pod rejected: conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s]" % (k, v, k))
            spec.setdefault("nodeSelector", {})[k] = v
        for t in sched.get("tolerations") or []:
            if t not in (spec.get("tolerations") or []):
                spec.setdefault("tolerations", []).append(dict(t))

    # -- controllers ---------------------------------------------------------------------------
    def _namespaces(self) -> bool:
        changed = False
        for ns in self.all("v1", "Namespace"):
            name = ns["metadata"]["name"]
            ns["metadata"]["labels"].setdefault("kubernetes.io/metadata.name", name)
            if self.obj("v1", "ServiceAccount", "default", name) is None:
                self.create_obj({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}})
                changed = True
        return changed

    def event(self, involved: dict[str, Any], reason: str, message: str, etype: str = "Normal") -> None:
        md = involved["metadata"]
        ns = md.get("namespace") or "default"
        self.create_obj(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": "%s." % md["name"], "namespace": ns},
                "involvedObject": {"kind": involved["kind"], "name": md["name"], "namespace": md.get("namespace"), "uid": md["uid"]},
                "reason": reason,
                "message": message,
                "type": etype,
                "lastTimestamp": self.iso(),
            }
        )

    def terminal(self, pod: dict[str, Any] | None) -> bool:
        return ((pod or {}).get("status") or {}).get("phase") in ("Succeeded", "Failed")

    def _claims(self) -> bool:
        """The resourceclaim controller: drop reservations of pods that are gone or finished, and
        free the devices of a claim nobody reserves any more."""
        changed = False
        if "claim-controller-off" in self.faults:
            return False
        pods = {p["metadata"]["uid"]: p for p in self.all("v1", "Pod")}
        for c in self.all(RESOURCE_API, "ResourceClaim"):
            st = c.setdefault("status", {})
            keep = [r for r in st.get("reservedFor") or [] if r.get("uid") in pods and not self.terminal(pods[r["uid"]])]
            if keep != (st.get("reservedFor") or []):
                st["reservedFor"] = keep
                changed = True
            if not keep and st.get("allocation"):
                st.pop("allocation")
                st.pop("reservedFor", None)
                changed = True
            if changed:
                self.touch(c)
        return changed

    # scheduler -------------------------------------------------------------------------------
    def pod_requests(self, pod: dict[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {"pods": 1}
        spec = pod.get("spec") or {}
        for c in spec.get("containers") or []:
            res = c.get("resources") or {}
            for k in set(res.get("limits") or {}) | set(res.get("requests") or {}):
                v = (res.get("requests") or {}).get(k, (res.get("limits") or {}).get(k))
                out[k] = out.get(k, 0) + qty(v)
        for k, v in (spec.get("overhead") or {}).items():
            out[k] = out.get(k, 0) + qty(v)
        return out

    def node_free(self, node: dict[str, Any], extra: dict[str, dict[str, float]] | None = None) -> dict[str, float]:
        name = node["metadata"]["name"]
        free = {k: qty(v) for k, v in ((node.get("status") or {}).get("allocatable") or {}).items()}
        for p in self.all("v1", "Pod"):
            if (p.get("spec") or {}).get("nodeName") == name and not self.terminal(p):
                for k, v in self.pod_requests(p).items():
                    if "/" in k and "no-extended-resource-accounting" in self.faults:
                        continue
                    free[k] = free.get(k, 0) - v
        for k, v in ((extra or {}).get(name) or {}).items():
            free[k] = free.get(k, 0) - v
        return free

    @staticmethod
    def affinity_matches(pod: dict[str, Any], labels: dict[str, str]) -> bool:
        """requiredDuringSchedulingIgnoredDuringExecution: any term whose matchExpressions all hold
        (In, NotIn, Exists, DoesNotExist, and Gt/Lt on a label parsed as an integer)."""
        req = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        if not req:
            return True

        def holds(e: dict[str, Any]) -> bool:
            op, key, vals = e["operator"], e["key"], e.get("values") or []
            if op == "Exists":
                return key in labels
            if op == "DoesNotExist":
                return key not in labels
            if op == "In":
                return labels.get(key) in vals
            if op == "NotIn":
                return labels.get(key) not in vals
            try:
                have, want = int(labels[key]), int(vals[0])
            except (KeyError, ValueError, IndexError):
                return False
            return have > want if op == "Gt" else have < want

        return any(all(holds(e) for e in t.get("matchExpressions") or []) for t in req.get("nodeSelectorTerms") or [])

    @staticmethod
    def tolerates(pod: dict[str, Any], taint: dict[str, Any]) -> bool:
        for t in (pod.get("spec") or {}).get("tolerations") or []:
            if t.get("effect") not in (None, "", taint.get("effect")):
                continue
            if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint["key"]):
                return True
            if t.get("key") == taint["key"] and t.get("value", "") == taint.get("value", ""):
                return True
        return False

    def devices(self) -> list[dict[str, Any]]:
        out = []
        for s in self.all(RESOURCE_API, "ResourceSlice"):
            spec = s["spec"]
            for d in spec.get("devices") or []:
                out.append(dict(d, driver=spec["driver"], pool=spec["pool"]["name"], node=spec.get("nodeName"), all_nodes=bool(spec.get("allNodes"))))
        return out

    def taken_devices(self) -> set[tuple[str, str, str]]:
        if "dra-double-allocate" in self.faults:
            return set()
        return {
            (r["driver"], r["pool"], r["device"])
            for c in self.all(RESOURCE_API, "ResourceClaim")
            for r in (((c.get("status") or {}).get("allocation") or {}).get("devices") or {}).get("results") or []
        }

    def allocate(self, claim: dict[str, Any], node: str, taken: set[tuple[str, str, str]]) -> list[dict[str, Any]] | None:
        """A full allocation of the claim's requests from the devices on ``node``, or None."""
        spec = (claim.get("spec") or {}).get("devices") or {}
        avail = [d for d in self.devices() if (d["node"] == node or d["all_nodes"]) and (d["driver"], d["pool"], d["name"]) not in taken]
        per_request = []
        for req in spec.get("requests") or []:
            ex = req.get("exactly") or {}
            dc = self.obj(RESOURCE_API, "DeviceClass", ex.get("deviceClassName", ""))
            if dc is None:
                return None
            exprs = [] if "dra-ignore-class-selectors" in self.faults else [s["cel"]["expression"] for s in (dc.get("spec") or {}).get("selectors") or []]
            if "dra-ignore-request-selectors" not in self.faults:
                exprs += [s["cel"]["expression"] for s in ex.get("selectors") or []]
            match = [d for d in avail if all(cel_match(e, d, d["driver"]) for e in exprs)]
            if ex.get("allocationMode") == "All":
                if not match:
                    return None
                per_request.append((req["name"], [tuple(match)]))
            else:
                per_request.append((req["name"], list(itertools.combinations(match, int(ex.get("count", 1))))))
        constraints = [] if "dra-ignore-constraints" in self.faults else spec.get("constraints") or []

        def value(d: dict[str, Any], attr: str) -> Any:
            a = d.get("attributes") or {}
            raw = a.get(attr) or a.get(attr.split("/", 1)[-1] if attr.startswith(d["driver"] + "/") else "")
            return json.dumps(raw, sort_keys=True) if raw else None

        def ok(chosen: dict[str, tuple]) -> bool:
            ids = [(d["driver"], d["pool"], d["name"]) for ds in chosen.values() for d in ds]
            if len(ids) != len(set(ids)):
                return False
            for c in constraints:
                vals = [value(d, c["matchAttribute"]) for r in c.get("requests") or chosen for d in chosen.get(r, ())]
                if None in vals or len(set(vals)) > 1:
                    return False
            return True

        def search(i: int, chosen: dict[str, tuple]) -> dict[str, tuple] | None:
            if i == len(per_request):
                return chosen
            name, options = per_request[i]
            for opt in options:
                trial = dict(chosen, **{name: opt})
                if ok(trial):
                    found = search(i + 1, trial)
                    if found:
                        return found
            return None

        found = search(0, {})
        if found is None:
            return None
        return [{"request": r, "driver": d["driver"], "pool": d["pool"], "device": d["name"]} for r, ds in found.items() for d in ds]

    def fit(self, pod: dict[str, Any], node: dict[str, Any], extra: dict[str, dict[str, float]], taken: set) -> tuple[str | None, dict[str, Any]]:
        """(None, claim allocations) when the pod fits the node, else (the scheduler's reason, {})."""
        spec = pod.get("spec") or {}
        labels = node["metadata"].get("labels") or {}
        if (node.get("spec") or {}).get("unschedulable"):
            return "node(s) were unschedulable", {}
        if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()) or not self.affinity_matches(pod, labels):
            return "node(s) didn't match Pod's node affinity/selector", {}
        for t in (node.get("spec") or {}).get("taints") or []:
            if t.get("effect") in ("NoSchedule", "NoExecute") and not self.tolerates(pod, t):
                return "node(s) had untolerated taint {%s: %s}" % (t["key"], t.get("value", "")), {}
        free = self.node_free(node, extra)
        for k, v in self.pod_requests(pod).items():
            if "/" in k and "no-extended-resource-fit" in self.faults:
                continue
            if v > free.get(k, 0) + 1e-9:
                return "Insufficient %s" % k, {}
        allocations: dict[str, Any] = {}
        mine = set(taken)
        for rc in spec.get("resourceClaims") or []:
            claim = self.obj(RESOURCE_API, "ResourceClaim", rc.get("resourceClaimName", ""), pod["metadata"]["namespace"])
            alloc = ((claim or {}).get("status") or {}).get("allocation")
            if alloc:
                where = alloc["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0]["values"]
                if node["metadata"]["name"] not in where:
                    return "node(s) didn't match the allocation of a claim", {}
                continue
            got = self.allocate(claim, node["metadata"]["name"], mine)
            if got is None:
                return "cannot allocate all claims", {}
            mine |= {(r["driver"], r["pool"], r["device"]) for r in got}
            allocations[claim["metadata"]["name"]] = got
        return None, allocations

    def place(self, pod: dict[str, Any], extra: dict[str, dict[str, float]], taken: set) -> tuple[dict[str, Any] | None, dict[str, Any], str]:
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            if self.obj(RESOURCE_API, "ResourceClaim", rc.get("resourceClaimName", ""), pod["metadata"]["namespace"]) is None:
                return None, {}, 'pod "%s": resourceclaim "%s" not found' % (pod["metadata"]["name"], rc.get("resourceClaimName"))
        reasons: dict[str, int] = {}
        nodes = self.all("v1", "Node")
        for node in nodes:
            why, allocs = self.fit(pod, node, extra, taken)
            if why is None:
                return node, allocs, ""
            reasons[why] = reasons.get(why, 0) + 1
        text = ", ".join("%d %s" % (n, r) for r, n in sorted(reasons.items()))
        n = len(nodes)
        return None, {}, "0/%d nodes are available: %s. preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling." % (n, text, n, n)

    def bind(self, pod: dict[str, Any], node: dict[str, Any], allocs: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        for claim_name, results in allocs.items():
            c = self.obj(RESOURCE_API, "ResourceClaim", claim_name, pod["metadata"]["namespace"])
            sel = {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}]}
            c.setdefault("status", {})["allocation"] = {"devices": {"results": results}, "nodeSelector": sel}
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            c = self.obj(RESOURCE_API, "ResourceClaim", rc["resourceClaimName"], pod["metadata"]["namespace"])
            c["status"].setdefault("reservedFor", []).append({"resource": "pods", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]})
            self.touch(c)
        pod["spec"]["nodeName"] = name
        cond(pod, "PodScheduled", "True", now=self.iso())
        self.touch(pod)

    def unschedulable(self, pod: dict[str, Any], message: str) -> bool:
        if cond(pod, "PodScheduled", "False", "Unschedulable", message, self.iso()):
            self.touch(pod)
            self.event(pod, "FailedScheduling", message, "Warning")
            return True
        return False

    def pending(self) -> list[dict[str, Any]]:
        pods = [
            p
            for p in self.all("v1", "Pod")
            if not (p.get("spec") or {}).get("nodeName")
            and not (p.get("spec") or {}).get("schedulingGates")
            and (p.get("spec") or {}).get("schedulerName", DEFAULT_SCHEDULER) in self.schedulers
        ]
        return sorted(pods, key=lambda p: int(p["metadata"]["uid"].split("-")[1]))

    def gang_of(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        """The native PodGroup with a gang policy the pod joins (scheduling.k8s.io), when the
        scheduler runs the gang plugin."""
        ref = ((pod.get("spec") or {}).get("schedulingGroup") or {}).get("podGroupName")
        if not ref or self.gang_plugin is False:
            return None
        for av in ("scheduling.k8s.io/v1", "scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1alpha3"):
            if self.served(av, "PodGroup"):
                return self.obj(av, "PodGroup", ref, pod["metadata"]["namespace"])
        return None

    def _scheduler(self) -> bool:
        changed = False
        done_groups: set[str] = set()
        for pod in self.pending():
            if pod["metadata"]["uid"] in done_groups:
                continue
            group = self.gang_of(pod)
            if group is not None:
                changed |= self._schedule_gang(pod, group, done_groups)
                continue
            node, allocs, why = self.place(pod, {}, self.taken_devices())
            if node is not None:
                self.bind(pod, node, allocs)
                changed = True
            else:
                changed |= self.unschedulable(pod, why)
        return changed

    def _schedule_gang(self, pod: dict[str, Any], group: dict[str, Any], done: set[str]) -> bool:
        ns, gname = pod["metadata"]["namespace"], group["metadata"]["name"]
        members = [p for p in self.pending() if p["metadata"]["namespace"] == ns and ((p["spec"].get("schedulingGroup") or {}).get("podGroupName") == gname)]
        done.update(p["metadata"]["uid"] for p in members)
        need = int(((group.get("spec") or {}).get("schedulingPolicy") or {}).get("gang", {}).get("minCount", 1))
        bound = [p for p in self.all("v1", "Pod", ns) if (p["spec"].get("schedulingGroup") or {}).get("podGroupName") == gname and p["spec"].get("nodeName")]
        if len(members) + len(bound) < need or self.gang_plugin == "stuck":
            return False  # waits at PreEnqueue until the group is complete (or forever, when stuck)
        extra: dict[str, dict[str, float]] = {}
        plan, why = [], ""
        for p in members:
            node, allocs, why = self.place(p, extra, self.taken_devices())
            if node is None:
                break
            plan.append((p, node, allocs))
            for k, v in self.pod_requests(p).items():
                extra.setdefault(node["metadata"]["name"], {})[k] = extra.get(node["metadata"]["name"], {}).get(k, 0) + v
        if len(plan) >= need - len(bound):  # the quorum (minCount) fits: those bind, the rest wait as single pods do
            changed = bool(plan)
            for p, node, allocs in plan:
                self.bind(p, node, allocs)
            for p in members[len(plan) :]:
                changed |= self.unschedulable(p, why)
            if cond(group, "PodGroupInitiallyScheduled", "True", "Scheduled", "", self.iso()):
                self.touch(group)
                changed = True
            return changed
        msg = "%d/%d pods of the gang could not be scheduled: %s" % (len(members) - len(plan), len(members), why)
        changed = any(self.unschedulable(p, msg) for p in members)
        if cond(group, "PodGroupInitiallyScheduled", "False", "Unschedulable", msg, self.iso()):
            self.touch(group)
            changed = True
        return changed

    # kubelets --------------------------------------------------------------------------------
    def runs_containers(self, node_name: str) -> bool:
        node = self.obj("v1", "Node", node_name) or {}
        return not str(((node.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion", "")).startswith("kwok")

    def _kubelet(self) -> bool:
        changed = False
        for pod in self.all("v1", "Pod"):
            node = (pod.get("spec") or {}).get("nodeName")
            st = pod.setdefault("status", {})
            if not node or st.get("phase") in ("Running", "Succeeded", "Failed"):
                continue
            uid = pod["metadata"]["uid"]
            short = self.assign_device_plugin(pod, node)
            if short and self.runs_containers(node):  # kwok runs no device plugin: only real kubelets admit
                msg = "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. Requested: %d, Available: %d, which is unexpected"
                st.update(phase="Failed", reason="UnexpectedAdmissionError", message=msg % short)
                self.touch(pod)
                changed = True
                continue
            if "dra-plugin-withdraws-on-prepare" in self.faults:
                self.withdraw_slices(pod, node)
            st.update(phase="Running", podIP="10.244.%d.%d" % (next(self.uids) % 250, next(self.uids) % 250), startTime=self.iso())
            cond(pod, "Ready", "True", now=self.iso())
            self.touch(pod)
            changed = True
            if self.runs_containers(node) and (pod["spec"].get("restartPolicy") == "Never"):
                log = self.execute(pod, node)
                if log is not None and pod["spec"]["containers"][0].get("command") == rt_mod.HOLD_COMMAND:
                    self.after(1.0, lambda uid=uid, log=log: self.logs.__setitem__(uid, log))  # reports, then runs on
                elif log is not None:
                    self.after(2.0, lambda uid=uid, log=log: self._finish(uid, log))
        return changed

    def withdraw_slices(self, pod: dict[str, Any], node: str) -> None:
        """A DRA plugin that deregisters while preparing the pod's claims: the kubelet removes the
        ResourceSlices it published for this node.  Allocations are not touched (nothing does)."""
        drivers = set()
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            c = self.obj(RESOURCE_API, "ResourceClaim", rc.get("resourceClaimName", ""), pod["metadata"]["namespace"]) or {}
            drivers |= {r["driver"] for r in (((c.get("status") or {}).get("allocation") or {}).get("devices") or {}).get("results") or []}
        for sl in self.all(RESOURCE_API, "ResourceSlice"):
            if sl["spec"].get("nodeName") == node and sl["spec"].get("driver") in drivers:
                self.remove(RESOURCE_API, "ResourceSlice", sl["metadata"]["name"])

    def _finish(self, uid: str, log: str) -> None:
        for pod in self.all("v1", "Pod"):
            if pod["metadata"]["uid"] == uid:
                self.logs[uid] = log
                pod["status"]["phase"] = "Succeeded"
                cond(pod, "Ready", "False", "PodCompleted", now=self.iso())
                self.touch(pod)

    def node_gpus(self, node: str) -> list[dict[str, Any]]:
        """The node's GPUs (uuid, minor, model): its runtime inventory, else its DRA slice."""
        if self.node_runtime.get(node, {}).get("gpus"):
            return self.node_runtime[node]["gpus"]
        out = []
        for d in self.devices():
            a = d.get("attributes") or {}
            if d["node"] == node and "uuid" in a:
                out.append({"uuid": a["uuid"]["string"], "minor": a.get("minor", {}).get("int", 0), "model": a.get("productName", {}).get("string", "")})
        return sorted(out, key=lambda g: g["minor"])

    def assign_device_plugin(self, pod: dict[str, Any], node: str) -> tuple[int, int] | None:
        """The device plugin's Allocate: which GPUs (by UUID) the container of a pod requesting
        nvidia.com/gpu gets, among the node's GPUs no running pod holds, or, when the node's plugin
        time-slices (its runtime's ``replicas``), that fewer than ``replicas`` running pods hold
        (least used first).  (requested, available) when it cannot give what was requested."""
        want = int(self.pod_requests(pod).get("nvidia.com/gpu", 0))
        if not want:
            return None
        replicas = int(self.node_runtime.get(node, {}).get("replicas", 1))
        uses: dict[str, int] = {}
        for p in self.all("v1", "Pod"):
            if not self.terminal(p) and p["metadata"]["uid"] != pod["metadata"]["uid"]:
                for u in self.dp_assigned.get(p["metadata"]["uid"], []):
                    uses[u] = uses.get(u, 0) + 1
        free = sorted((uses.get(g["uuid"], 0), i, g["uuid"]) for i, g in enumerate(self.node_gpus(node)) if uses.get(g["uuid"], 0) < replicas)
        got = [u for _n, _i, u in free][:want]
        self.dp_assigned[pod["metadata"]["uid"]] = got
        return (want, len(got)) if len(got) < want else None

    def claim_gpus(self, pod: dict[str, Any]) -> list[str]:
        uuids = []
        by_key = {(d["driver"], d["pool"], d["name"]): d for d in self.devices()}
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            c = self.obj(RESOURCE_API, "ResourceClaim", rc.get("resourceClaimName", ""), pod["metadata"]["namespace"]) or {}
            for r in (((c.get("status") or {}).get("allocation") or {}).get("devices") or {}).get("results") or []:
                d = by_key.get((r["driver"], r["pool"], r["device"]))
                if d and "uuid" in (d.get("attributes") or {}):
                    uuids.append(d["attributes"]["uuid"]["string"])
        return uuids

    def execute(self, pod: dict[str, Any], node: str) -> str | None:
        """What the container prints, for the programs the probes run; None for any other (it runs on)."""
        rtm = self.node_runtime.get(node, {})
        c = pod["spec"]["containers"][0]
        handler = "runc"
        if pod["spec"].get("runtimeClassName"):
            handler = (self.obj("node.k8s.io/v1", "RuntimeClass", pod["spec"]["runtimeClassName"]) or {}).get("handler", "runc")
        kernel = rtm.get("handlers", {}).get(handler, rtm.get("kernel", HOST_KERNEL))
        if c.get("command") == ["uname", "-r"]:
            return kernel + "\n"
        if c.get("command") not in (rt_mod.OBSERVE_COMMAND, rt_mod.HOLD_COMMAND):
            return None
        node_gpus = rtm.get("gpus", [])
        # What the resource framework grants: the claims' devices (CDI) and the device plugin's
        # Allocate; both also set NVIDIA_VISIBLE_DEVICES to those UUIDs, over the image's value.
        granted = self.claim_gpus(pod) + self.dp_assigned.get(pod["metadata"]["uid"], [])
        env = {e["name"]: e.get("value", "") for e in c.get("env") or []}
        image_env = "all" if str(c.get("image", "")).startswith("nvcr.io/nvidia/") else None  # CUDA images set it
        asked = env.get("NVIDIA_VISIBLE_DEVICES", image_env)
        visible = ",".join(granted) if granted else asked
        given = list(granted)
        if "legacy-envvar" in rtm.get("faults", ()) and visible:  # the runtime injects what the env names
            given += [g["uuid"] for g in node_gpus if visible == "all" or g["uuid"] in visible.split(",")]
        if "all-devices" in rtm.get("faults", ()) and granted:
            given = [g["uuid"] for g in node_gpus]
        seen = [g for g in node_gpus if g["uuid"] in set(given)]
        lines = ["aic.devices=%s" % "".join("nvidia%d " % g["minor"] for g in seen), "aic.visible_env=%s" % (visible if visible is not None else "<unset>")]
        if seen:
            lines += ["aic.smi_rc=0"] + ["aic.smi=%s, %s" % (g["uuid"], rtm.get("driver_version", REFCLUSTER["driver_version"])) for g in seen]
        else:
            lines.append("aic.smi_rc=127")
        lines += ["aic.kernel=%s" % kernel, "aic.done=1"]
        return "\n".join(lines) + "\n"

    # workload controllers --------------------------------------------------------------------
    def _deployments(self) -> bool:
        changed = False
        for d in self.all("apps/v1", "Deployment"):
            ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
            rs_name = "%s-7c9f8d6b5" % name
            rs = self.obj("apps/v1", "ReplicaSet", rs_name, ns)
            want = int(d["spec"].get("replicas", 1))
            if rs is None:
                tmpl = copy.deepcopy(d["spec"]["template"])
                md = tmpl.get("metadata") or {}
                tmpl["metadata"] = {
                    "labels": dict(md.get("labels") or {}, **{"pod-template-hash": "7c9f8d6b5"}),
                    "annotations": dict(md.get("annotations") or {}),
                }
                owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": d["metadata"]["uid"], "controller": True}
                self.create_obj(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": {"name": rs_name, "namespace": ns, "labels": tmpl["metadata"]["labels"], "ownerReferences": [owner]},
                        "spec": {"replicas": want, "selector": d["spec"]["selector"], "template": tmpl},
                    }
                )
                changed = True
            elif rs["spec"]["replicas"] != want:
                rs["spec"]["replicas"] = want
                self.touch(rs)
                changed = True
            rs = self.obj("apps/v1", "ReplicaSet", rs_name, ns)
            rst = rs.get("status") or {}
            status = {
                "observedGeneration": d["metadata"]["generation"],
                "replicas": rst.get("replicas", 0),
                "readyReplicas": rst.get("readyReplicas", 0),
                "availableReplicas": rst.get("readyReplicas", 0),
            }
            if d.get("status") != status:
                d["status"] = status
                self.touch(d)
                changed = True
        return changed

    def _replicasets(self) -> bool:
        changed = False
        for rs in self.all("apps/v1", "ReplicaSet"):
            ns = rs["metadata"]["namespace"]
            mine = [p for p in self.all("v1", "Pod", ns) if any(r.get("uid") == rs["metadata"]["uid"] for r in p["metadata"].get("ownerReferences") or [])]
            want = int(rs["spec"]["replicas"])
            for _i in range(want - len(mine)):
                tmpl = copy.deepcopy(rs["spec"]["template"])
                owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"], "controller": True}
                md = dict(tmpl.get("metadata") or {}, generateName=rs["metadata"]["name"] + "-", namespace=ns, ownerReferences=[owner])
                self.create_obj({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": tmpl["spec"]}, admit=True)
                changed = True
            for extra in sorted(mine, key=lambda p: p["metadata"]["creationTimestamp"])[want:][::-1][: max(0, len(mine) - want)]:
                self.remove("v1", "Pod", extra["metadata"]["name"], ns)
                changed = True
            mine = [p for p in self.all("v1", "Pod", ns) if any(r.get("uid") == rs["metadata"]["uid"] for r in p["metadata"].get("ownerReferences") or [])]
            ready = sum(1 for p in mine if get_cond(p, "Ready").get("status") == "True" and p["status"].get("phase") == "Running")
            status = {"replicas": len(mine), "readyReplicas": ready, "availableReplicas": ready}
            if rs.get("status") != status:
                rs["status"] = status
                self.touch(rs)
                changed = True
        return changed


# ---- time ----------------------------------------------------------------------------------------
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


def use(monkeypatch: Any, cluster: FakeCluster) -> None:
    """Make every probe talk to ``cluster`` and every module of the collection keep its time."""
    import sys

    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import probe as probe_mod

    monkeypatch.setattr(probe_mod, "get_client", lambda params: cluster)
    monkeypatch.setattr(probe_mod, "check_reachable", lambda c: {})
    fake = FakeTime(cluster)
    for name, mod in list(sys.modules.items()):
        if name.startswith("ansible_collections.ai_conformance.kubernetes.plugins.") and getattr(mod, "time", None) is _real_time:
            monkeypatch.setattr(mod, "time", fake)


def run_probe(run_module: Any, monkeypatch: Any, module: Any, cluster: FakeCluster, **args: Any) -> Result:
    """Run a probe module's main() against ``cluster``; the result, checked against the contract."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import validate_result_dict

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


# ---- the reference cluster's shape ---------------------------------------------------------------
def kwok_nodes() -> list[dict[str, Any]]:
    """The reference cluster's kwok nodes (two 8-GPU H100 nodes, a CPU node, a gVisor sandbox node),
    with the Ready condition kwok gives them."""
    out = copy.deepcopy(REFCLUSTER["kwok_nodes"])
    for n in out:
        n["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    return out


def gfd_driver_labels(version: str) -> dict[str, str]:
    """The driver labels GPU feature discovery sets (as on the kwok nodes of the fixture)."""
    major, minor, rev = (version.split(".") + ["", ""])[:3]
    prefix = "nvidia.com/cuda.driver-version."
    return {prefix + "full": version, prefix + "major": major, prefix + "minor": minor, prefix + "revision": rev}


def runtime_gpu_node(name: str = "refcluster-rt-1", runtime: str = CONTAINERD) -> dict[str, Any]:
    """The reference cluster's real GPU node (kubelet + containerd, 2 fake GPUs, GPU taint)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": dict(gfd_driver_labels(REFCLUSTER["driver_version"]), **{"kubernetes.io/hostname": name, "nvidia.com/gpu.present": "true"}),
        },
        "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"},
            "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"},
            "nodeInfo": {"containerRuntimeVersion": runtime, "kernelVersion": HOST_KERNEL, "kubeletVersion": "v1.37.2"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def sandbox_runtime_node(name: str = "refcluster-rt-2") -> dict[str, Any]:
    """The reference cluster's real gVisor node, labelled and tainted as GKE Sandbox nodes are."""
    node = runtime_gpu_node(name)
    node["metadata"]["labels"] = {"kubernetes.io/hostname": name, "sandbox.gke.io/runtime": "gvisor"}
    node["spec"]["taints"] = [{"key": "sandbox.gke.io/runtime", "value": "gvisor", "effect": "NoSchedule"}]
    for k in ("capacity", "allocatable"):
        node["status"][k].pop("nvidia.com/gpu")
    return node


def reference_cluster(dra: bool = True, runtime_node: bool = False, nics: bool = False) -> FakeCluster:
    """A fake shaped like the reference cluster: its kwok nodes, and (dra) the NVIDIA DRA driver's
    DeviceClass and slices, (nics) DRANET's, (runtime_node) the real GPU node refcluster-rt-1."""
    c = FakeCluster()
    for n in kwok_nodes():
        c.create_obj(n)
    if dra:
        c.apply(REFCLUSTER["device_classes"][0], *REFCLUSTER["gpu_slices"])
    if nics:
        c.apply(REFCLUSTER["device_classes"][1], *REFCLUSTER["nic_slices"])
    if runtime_node:
        add_runtime_gpu_node(c, dra=dra)
    c.settle()
    return c


def add_sandbox_node(c: FakeCluster, handlers: dict[str, str] | None = None) -> None:
    """The real gVisor node: runc runs on the host kernel, runsc on gVisor's."""
    c.create_obj(sandbox_runtime_node())
    c.node_runtime["refcluster-rt-2"] = {"kernel": HOST_KERNEL, "handlers": handlers or {"runc": HOST_KERNEL, "runsc": GVISOR_KERNEL}}
    c.settle()


def add_runtime_gpu_node(c: FakeCluster, dra: bool = True, faults: tuple[str, ...] = (), driver_version: str | None = None, replicas: int = 1) -> None:
    """The real GPU node; ``replicas`` > 1: its device plugin time-slices each GPU that many times."""
    c.create_obj(runtime_gpu_node())
    c.node_runtime["refcluster-rt-1"] = {
        "replicas": replicas,
        "gpus": REFCLUSTER["rt_gpus"],
        "driver_version": driver_version or REFCLUSTER["driver_version"],
        "kernel": HOST_KERNEL,
        "handlers": {"runc": HOST_KERNEL},
        "faults": faults,
    }
    if dra:
        c.create_obj(REFCLUSTER["rt_gpu_slice"])
    c.settle()


# ---- HTTP through the fake gateway ---------------------------------------------------------------
def _http(cluster: FakeCluster, method: str, url: str, host: str, path: str, headers: dict[str, str] | None, body: Any) -> tuple[int, Any, dict[str, str]]:
    gw_ctl = getattr(cluster, "gateway_controller", None)
    if gw_ctl is None:
        return 0, "ConnectionRefusedError: [Errno 111] Connection refused", {}
    return gw_ctl.serve_http(method, url, host, path, {k.lower(): v for k, v in (headers or {}).items()}, body)


def patch_http(monkeypatch: Any, cluster: FakeCluster) -> None:
    """gateway.send and disagg.post_json (the probes' only HTTP client) answered by the fake data plane."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils import disagg, gateway

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


_use = use


def use(monkeypatch: Any, cluster: FakeCluster) -> None:
    _use(monkeypatch, cluster)
    patch_http(monkeypatch, cluster)


def service_pods(cluster: FakeCluster, ns: str, name: str) -> list[dict[str, Any]]:
    """Ready pods behind a Service (its endpoints)."""
    svc = cluster.obj("v1", "Service", name, ns)
    if svc is None:
        return []
    sel = ",".join("%s=%s" % kv for kv in sorted((svc["spec"].get("selector") or {}).items()))
    return [p for p in cluster.all("v1", "Pod", ns) if sel and labels_match(p["metadata"]["labels"], sel) and get_cond(p, "Ready").get("status") == "True"]


# ---- gang schedulers -----------------------------------------------------------------------------
def native_gang(c: FakeCluster, plugin: Any = True) -> FakeCluster:
    """The native Workload API (scheduling.k8s.io PodGroup with a gang policy) and kube-scheduler's
    gang plugin: True places a group whole or not at all, False ignores groups (pods are placed one
    by one), "stuck" never places a group."""
    c.serve("scheduling.k8s.io/v1beta1", "PodGroup", "podgroups")
    c.gang_plugin = plugin
    return c


class MutatingWebhook:
    """A mutating admission webhook (a MutatingWebhookConfiguration with one webhook) that changes
    what is created before it is stored, as the API server applies the webhook's patch: ``mutate``
    edits every object whose group and resource its ``rules`` match, in place."""

    def __init__(self, c: FakeCluster, name: str, rules: list[dict[str, Any]], mutate: Callable[[dict[str, Any]], None]) -> None:
        self.c, self.rules, self.mutate = c, rules, mutate
        c.serve("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", namespaced=False)
        c.apply(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": name + "-cfg"},
                "webhooks": [{"name": name, "clientConfig": {"service": {"namespace": "policy", "name": name}}, "rules": rules}],
            }
        )
        c.admission.insert(0, self.admit)  # mutating admission runs before validation

    def admit(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        group = obj["apiVersion"].rpartition("/")[0]
        plural = self.c.kinds.get(obj["apiVersion"], {}).get(obj["kind"], ("",))[0]
        for r in self.rules:
            if op in r.get("operations", []) and group in r.get("apiGroups", []) and plural in r.get("resources", []):
                self.mutate(obj)
                return


def kueue_crds_only(c: FakeCluster) -> FakeCluster:
    """Kueue's CRDs served with no controller running: nothing ever becomes Active."""
    for kind, plural, nsd in (
        ("ResourceFlavor", "resourceflavors", False),
        ("ClusterQueue", "clusterqueues", False),
        ("LocalQueue", "localqueues", True),
        ("Workload", "workloads", True),
    ):
        c.serve("kueue.x-k8s.io/v1beta2", kind, plural, nsd)
    return c


# ---- Karpenter -----------------------------------------------------------------------------------
# The reference cluster's autoscaled pool, tests/refcluster/manifests/karpenter-gpu-pool.yaml.
KARPENTER_POOL = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodePool",
    "metadata": {"name": "refcluster-gpu"},
    "spec": {
        "template": {
            "metadata": {
                "labels": {"ai-conformance.io/node-pool": "refcluster-gpu", "nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
            },
            "spec": {
                "nodeClassRef": {"group": "karpenter.kwok.sh", "kind": "KWOKNodeClass", "name": "refcluster"},
                "taints": [{"key": "ai-conformance.io/autoscaled", "value": "true", "effect": "NoSchedule"}],
                "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["gpu-8x-h100-80gb"]}],
            },
        },
        "limits": {"nvidia.com/gpu": "16"},
        "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "5s"},
    },
}


class Karpenter:
    """Karpenter with the kwok provider: for pods the scheduler reported Unschedulable that a pool
    selects and tolerates, it launches a node of an instance type (tests/refcluster/fixtures/
    karpenter-instance-types.json) that fits them, within the pool's limits, after ``launch_s``;
    it removes a node it launched once no pod has run on it for ``consolidate_s``.  Like Karpenter
    v1 it decides with a NodeClaim (labelled with its pool, created when it decides, the pod's
    ``Nominated`` event naming it), which gets the node's name once the node registers; the node
    names its NodeClaim as owner, and consolidation deletes the NodeClaim (and so the node).
    ``batch_s``: how long a pending pod waits before Karpenter decides (its batch window).
    ``settings``: the environment of a Karpenter Deployment kube-system/karpenter (the Helm chart's
    BATCH_MAX_DURATION, BATCH_IDLE_DURATION); None: it runs outside the cluster, as on the
    reference cluster.  broken: "off" (launches nothing), "no-consolidation", "launch-anyway"
    (launches a node even for a pod no instance type can hold)."""

    API = "karpenter.sh/v1"

    def __init__(
        self,
        c: FakeCluster,
        broken: str = "",
        pool: dict[str, Any] | None = None,
        launch_s: float = 20,
        consolidate_s: float = 30,
        batch_s: float = 0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.c, self.broken, self.launch_s, self.consolidate_s, self.batch_s = c, broken, launch_s, consolidate_s, batch_s
        self.types = REFCLUSTER["karpenter_instance_types"]
        self.nominated: set[str] = set()
        self.pending_since: dict[str, float] = {}
        self.launched: dict[str, float] = {}
        self.count = itertools.count(1)
        c.serve(self.API, "NodePool", "nodepools", namespaced=False)
        c.serve(self.API, "NodeClaim", "nodeclaims", namespaced=False)
        p = copy.deepcopy(pool or KARPENTER_POOL)
        p["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}], "resources": {}}
        c.apply(p)
        if settings is not None:
            ensure_namespace(c, "kube-system")
            labels = {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
            env = [{"name": k, "value": v} for k, v in sorted(settings.items())]
            container = {"name": "controller", "image": "public.ecr.aws/karpenter/controller:1.14.3", "env": env}
            c.apply(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "karpenter", "namespace": "kube-system", "labels": labels},
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                    },
                }
            )
        c.controllers.append(self.reconcile)
        c.every(5.0, self.consolidate)

    def reconcile(self) -> bool:
        if self.broken == "off":
            return False
        changed = False
        for pod in self.c.all("v1", "Pod"):
            uid = pod["metadata"]["uid"]
            if pod["spec"].get("nodeName") or uid in self.nominated or get_cond(pod, "PodScheduled").get("reason") != "Unschedulable":
                continue
            since = self.pending_since.setdefault(uid, self.c.now)
            if self.c.now < since + self.batch_s:
                if since == self.c.now and self.batch_s:
                    self.c.after(self.batch_s, lambda: None)  # the batch window closes: decide then
                continue
            for pool in self.c.all(self.API, "NodePool"):
                labels = dict(pool["spec"]["template"]["metadata"]["labels"], **{"karpenter.sh/nodepool": pool["metadata"]["name"]})
                if any(labels.get(k) != v for k, v in (pod["spec"].get("nodeSelector") or {}).items()):
                    continue
                if not all(self.c.tolerates(pod, t) for t in pool["spec"]["template"]["spec"].get("taints") or []):
                    continue
                need = self.c.pod_requests(pod)
                fits = [t for t in self.types if all(qty(t["resources"].get(k, 0)) >= v for k, v in need.items())]
                if not fits and self.broken != "launch-anyway":
                    self.nominated.add(uid)
                    self.c.event(
                        pod,
                        "FailedScheduling",
                        "Failed to schedule pod, incompatible with nodepool %r, no instance type satisfied resources %s" % (pool["metadata"]["name"], need),
                        "Warning",
                    )
                    changed = True
                    break
                itype = (fits or self.types)[0]
                limit = (pool["spec"].get("limits") or {}).get("nvidia.com/gpu")
                used = qty((pool["status"].get("resources") or {}).get("nvidia.com/gpu", 0))
                if limit is not None and used + qty(itype["resources"].get("nvidia.com/gpu", 0)) > qty(limit):
                    continue
                self.nominated.add(uid)
                pool["status"].setdefault("resources", {})["nvidia.com/gpu"] = str(int(used + qty(itype["resources"].get("nvidia.com/gpu", 0))))
                claim = self.c.create_obj(
                    {
                        "apiVersion": self.API,
                        "kind": "NodeClaim",
                        "metadata": {"name": "%s-%05d" % (pool["metadata"]["name"], next(self.count)), "labels": dict(labels)},
                        "spec": {
                            "nodeClassRef": copy.deepcopy(pool["spec"]["template"]["spec"]["nodeClassRef"]),
                            "requirements": copy.deepcopy(pool["spec"]["template"]["spec"].get("requirements") or []),
                            "resources": {"requests": {k: str(v) for k, v in need.items()}},
                        },
                        "status": {"conditions": [{"type": "Launched", "status": "Unknown"}]},
                    }
                )
                self.c.event(pod, "Nominated", "Pod should schedule on: nodeclaim/%s" % claim["metadata"]["name"])
                self.c.after(self.launch_s, lambda claim=claim, labels=labels, itype=itype: self.launch(claim, labels, itype))
                changed = True
                break
        return changed

    def launch(self, claim: dict[str, Any], labels: dict[str, str], itype: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        if self.c.obj(self.API, "NodeClaim", name) is None:
            return
        res = {k: str(v) for k, v in itype["resources"].items()}
        pool = self.c.obj(self.API, "NodePool", labels["karpenter.sh/nodepool"])
        owner = {"apiVersion": self.API, "kind": "NodeClaim", "name": name, "uid": claim["metadata"]["uid"], "blockOwnerDeletion": True}
        claim["status"] = {
            "nodeName": name,
            "providerID": "kwok://%s" % name,
            "conditions": [{"type": t, "status": "True"} for t in ("Launched", "Registered")],
        }
        self.c.touch(claim)
        self.c.create_obj(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": dict(
                        labels, **{"kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": itype["name"], "karpenter.sh/registered": "true"}
                    ),
                    "ownerReferences": [owner],
                },
                "spec": {"taints": copy.deepcopy(pool["spec"]["template"]["spec"].get("taints") or [])},
                "status": {
                    "capacity": res,
                    "allocatable": dict(res),
                    "nodeInfo": {"containerRuntimeVersion": KWOK_RUNTIME},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
        self.launched[name] = self.c.now

    def consolidate(self) -> None:
        if self.broken in ("off", "no-consolidation"):
            return
        for name, since in list(self.launched.items()):
            pool = self.c.obj(
                self.API, "NodePool", (self.c.obj(self.API, "NodeClaim", name) or {}).get("metadata", {}).get("labels", {}).get("karpenter.sh/nodepool", "")
            )
            if ((pool or {}).get("spec") or {}).get("disruption", {}).get("consolidateAfter") == "Never":
                continue
            busy = [p for p in self.c.all("v1", "Pod") if p["spec"].get("nodeName") == name and not self.c.terminal(p)]
            if busy:
                self.launched[name] = self.c.now
            elif self.c.now - since >= self.consolidate_s:
                node = self.c.obj("v1", "Node", name)
                pool = self.c.obj(self.API, "NodePool", node["metadata"]["labels"]["karpenter.sh/nodepool"])
                gpus = qty(node["status"]["allocatable"].get("nvidia.com/gpu", 0))
                pool["status"]["resources"]["nvidia.com/gpu"] = str(int(qty(pool["status"]["resources"].get("nvidia.com/gpu", 0)) - gpus))
                self.c.remove(self.API, "NodeClaim", name)  # the node goes with it (owner reference)
                self.c.remove("v1", "Node", name)
                del self.launched[name]


class ClusterAutoscaler:
    """The Cluster Autoscaler with one kwok node group (shared/reference/apis.md section 5): its
    Deployment kube-system/cluster-autoscaler with the flags ``flags`` and its status ConfigMap.
    Every --scan-interval (default 10s) it looks at the pods the scheduler reported Unschedulable:
    one the group's template node fits (labels, taints, resources) triggers a scale-up (event
    TriggeredScaleUp, a node ``kwok-fake-<group>-<n>`` after ``launch_s``), one it does not gets
    NotTriggerScaleUp; a node it added that has had no pod for --scale-down-unneeded-time (default
    10m) is removed (event ScaleDown).  broken: "off", "launch-anyway" (scales up for pods the template cannot hold),
    "no-scale-down"."""

    GROUP_LABEL = "ai-conformance.io/node-group"

    def __init__(
        self,
        c: FakeCluster,
        broken: str = "",
        group: str = "ca-gpu",
        gpus: int = 8,
        launch_s: float = 20,
        flags: list[str] | None = None,
    ) -> None:
        opts = dict(f.lstrip("-").split("=", 1) for f in flags or [] if "=" in f)
        seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}

        def flag(name: str, default: str) -> float:
            return sum(float(n) * seconds[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", opts.get(name, default)))

        self.c, self.broken, self.group, self.launch_s = c, broken, group, launch_s
        self.unneeded_s = flag("scale-down-unneeded-time", "10m")
        self.template = {
            "labels": {self.GROUP_LABEL: group, "nvidia.com/gpu.present": "true"},
            "taints": [{"key": "ai-conformance.io/autoscaled", "value": "true", "effect": "NoSchedule"}],
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": str(gpus)},
        }
        self.triggered: set[str] = set()
        self.added: dict[str, float] = {}
        self.count = itertools.count(1)
        args = ["--cloud-provider=kwok", "--nodes=0:4:%s" % group] + list(flags or [])
        ensure_namespace(c, "kube-system")
        c.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cluster-autoscaler-status", "namespace": "kube-system"},
                "data": {"status": "Healthy"},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "cluster-autoscaler"}},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "cluster-autoscaler"}},
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "cluster-autoscaler"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "cluster-autoscaler",
                                    "image": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.0",
                                    "command": ["./cluster-autoscaler"],
                                    "args": args,
                                }
                            ]
                        },
                    },
                },
            },
        )
        c.every(flag("scan-interval", "10s"), self.scan)

    def scan(self) -> None:
        if self.broken == "off":
            return
        for pod in self.c.all("v1", "Pod"):
            uid = pod["metadata"]["uid"]
            if pod["spec"].get("nodeName") or uid in self.triggered or get_cond(pod, "PodScheduled").get("reason") != "Unschedulable":
                continue
            if any(self.template["labels"].get(k) != v for k, v in (pod["spec"].get("nodeSelector") or {}).items()):
                continue
            if not all(self.c.tolerates(pod, t) for t in self.template["taints"]):
                continue
            fits = all(qty(self.template["allocatable"].get(k, 0)) >= v for k, v in self.c.pod_requests(pod).items())
            if not fits and self.broken != "launch-anyway":
                msg = "pod didn't trigger scale-up: 1 max node group size reached or 1 Insufficient %s" % ", ".join(sorted(self.c.pod_requests(pod)))
                self.c.event(pod, "NotTriggerScaleUp", msg)
                self.triggered.add(uid)
                continue
            self.triggered.add(uid)
            self.c.event(pod, "TriggeredScaleUp", "pod triggered scale-up: [{%s 0->1 (max: 4)}]" % self.group)
            self.c.after(self.launch_s, self.add_node)
        self.c.settle()
        if self.broken != "no-scale-down":
            self.scale_down()

    def add_node(self) -> None:
        name = "kwok-fake-%s-%05d" % (self.group, next(self.count))
        self.c.create_obj(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": dict(self.template["labels"], **{"kubernetes.io/hostname": name}),
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                },
                "spec": {"taints": copy.deepcopy(self.template["taints"]), "providerID": "kwok:%s" % name},
                "status": {
                    "capacity": dict(self.template["allocatable"]),
                    "allocatable": dict(self.template["allocatable"]),
                    "nodeInfo": {"containerRuntimeVersion": KWOK_RUNTIME},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
        self.added[name] = self.c.now

    def scale_down(self) -> None:
        for name, since in list(self.added.items()):
            if any(p["spec"].get("nodeName") == name and not self.c.terminal(p) for p in self.c.all("v1", "Pod")):
                self.added[name] = self.c.now
            elif self.c.now - since >= self.unneeded_s:
                node = self.c.obj("v1", "Node", name)
                self.c.event(node, "ScaleDown", "nodes removed by cluster autoscaler")
                self.c.remove("v1", "Node", name)
                del self.added[name]


# ---- Prometheus, the DCGM exporter, the metrics adapter and the HPA controller -----------------
# One GPU's readings as the recorded H100 reported them (tests/refcluster/fixtures/h100-query.csv).
H100_READINGS = {
    "DCGM_FI_DEV_GPU_UTIL": 0.0,
    "DCGM_FI_DEV_FB_USED": 0.0,
    "DCGM_FI_DEV_FB_FREE": 81079.0,
    "DCGM_FI_DEV_GPU_TEMP": 34.0,
    "DCGM_FI_DEV_POWER_USAGE": 123.5,
    "DCGM_FI_DEV_SM_CLOCK": 1980.0,
}
EXAMPLE_APP = "quay.io/brancz/prometheus-example-app"


def load_of(c: FakeCluster, pod: dict[str, Any]) -> float:
    """The GPU utilization a pod's load program drives: the ``utilization`` key of a ConfigMap it
    mounts (hpa_probe's workload reads /load/utilization), else idle."""
    for v in pod["spec"].get("volumes") or []:
        cm = c.obj("v1", "ConfigMap", (v.get("configMap") or {}).get("name", ""), pod["metadata"]["namespace"])
        if cm and "utilization" in (cm.get("data") or {}):
            return float(cm["data"]["utilization"])
    return 0.0


class DcgmExporter:
    """dcgm-exporter on every GPU node, behind Service gpu-operator/nvidia-dcgm-exporter (port
    metrics): one series per GPU and field, labelled gpu, UUID, modelName, Hostname, and pod,
    namespace, container for the pod holding the GPU (kubelet pod-resources), and the energy
    counter DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (mJ since boot, power x time) unless ``counter``
    is False.  A GPU's utilization is what the pods holding it drive (``load_of``), whichever pod
    the exporter names on its series.  broken: a set of "no-attribution", "pods-by-node" (names
    every pod of the GPU's node), "wrong-gpu" (names a pod on the series of the next GPU of its
    node: a device index/minor mix-up), "no-labels" (no UUID or modelName), "hot" (temperature
    200), "one-node" (runs on the first GPU node only), "frozen" (DCGM stopped answering: it
    serves the readings of its first collection forever); ``fields`` limits what it exports."""

    ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"

    def __init__(self, c: FakeCluster, broken: tuple[str, ...] = (), fields: tuple[str, ...] = tuple(H100_READINGS), counter: bool = True) -> None:
        self.c, self.broken, self.fields, self.counter = c, set(broken), fields, counter
        self.boot = c.now - 86400.0
        self.first: list[tuple[str, dict[str, str], float]] | None = None
        c.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-operator"}},
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "nvidia-dcgm-exporter", "namespace": "gpu-operator", "labels": {"app": "nvidia-dcgm-exporter"}},
                "spec": {"ports": [{"name": "metrics", "port": 9400}]},
            },
        )
        c.services[("gpu-operator", "nvidia-dcgm-exporter")] = lambda method, rest, query, body: {"raw": self.exposition()}

    def holders(self, g: dict[str, Any], on_node: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [p for p in on_node if g["uuid"] in self.c.dp_assigned.get(p["metadata"]["uid"], []) + self.c.claim_gpus(p)]

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        if "frozen" in self.broken and self.first is not None:
            return self.first
        out = []
        nodes = sorted({d["node"] for d in self.c.devices() if d["node"]})
        for node in nodes[:1] if "one-node" in self.broken else nodes:
            on_node = [p for p in self.c.all("v1", "Pod") if p["spec"].get("nodeName") == node and not self.c.terminal(p)]
            gpus = self.c.node_gpus(node)
            for i, g in enumerate(gpus):
                physical = self.holders(g, on_node)
                util = max([load_of(self.c, h) for h in physical] or [0.0])
                named = physical
                if "wrong-gpu" in self.broken:
                    named = self.holders(gpus[(i + 1) % len(gpus)], on_node)
                if "pods-by-node" in self.broken:
                    named = on_node
                if "no-attribution" in self.broken:
                    named = []
                for holder in named or [None]:
                    labels = {
                        "gpu": str(g["minor"]),
                        "UUID": g["uuid"],
                        "modelName": g.get("model") or "NVIDIA H100 80GB HBM3",
                        "Hostname": node,
                        "device": "nvidia%d" % g["minor"],
                    }
                    if "no-labels" in self.broken:
                        labels.pop("UUID")
                        labels.pop("modelName")
                    if holder is not None:
                        labels.update(
                            pod=holder["metadata"]["name"], namespace=holder["metadata"]["namespace"], container=holder["spec"]["containers"][0]["name"]
                        )
                    for f in self.fields:
                        v = H100_READINGS[f]
                        if f == "DCGM_FI_DEV_GPU_UTIL":
                            v = util
                        if f == "DCGM_FI_DEV_GPU_TEMP" and "hot" in self.broken:
                            v = 200.0
                        out.append((f, labels, v))
                    if self.counter:
                        out.append((self.ENERGY, labels, round(H100_READINGS["DCGM_FI_DEV_POWER_USAGE"] * 1000.0 * (self.c.now - self.boot))))
        if self.first is None:
            self.first = out
        return out

    def exposition(self) -> str:
        lines = []
        samples = self.samples()
        for f in list(self.fields) + ([self.ENERGY] if self.counter else []):
            lines += ["# HELP %s recorded field" % f, "# TYPE %s %s" % (f, "counter" if f == self.ENERGY else "gauge")]
            lines += ["%s{%s} %g" % (n, ",".join('%s="%s"' % kv for kv in sorted(lb.items())), v) for n, lb, v in samples if n == f]
        return "\n".join(lines) + "\n"


class Prometheus:
    """Prometheus behind Service monitoring/prometheus (port web), scraping every 15 s: the DCGM
    exporter, and pods discovered through PodMonitors (served when ``podmonitor``) or the
    prometheus.io/scrape annotation; the example app serves ``version`` and every target ``up``.
    The exporter's series get the target labels job and instance (honor_labels, as the GPU
    operator's ServiceMonitor sets it).  broken: "not-selective" (scrapes every running pod with a
    container port), "blind" (its service discovery finds no pod), "frozen" (its scrapes stop
    after the first).  Serves /api/v1/query (a PromQL subset), /api/v1/targets (with each target's
    scrapeInterval) and /api/v1/status/config; with ``shows_interval`` False neither shows the
    interval (an older Prometheus, or a proxy that serves only queries)."""

    EXPORTER_JOB = "nvidia-dcgm-exporter"

    def __init__(
        self,
        c: FakeCluster,
        podmonitor: bool = True,
        exporter: DcgmExporter | None = None,
        broken: str = "",
        interval: float = 15.0,
        shows_interval: bool = True,
    ) -> None:
        self.c, self.exporter, self.broken = c, exporter, broken
        self.interval, self.shows_interval = interval, shows_interval
        self.series: dict[tuple[str, tuple], tuple[float, float]] = {}
        self.active: list[dict[str, Any]] = []
        self.scrapes = 0
        if podmonitor:
            c.serve("monitoring.coreos.com/v1", "PodMonitor", "podmonitors")
        c.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}},
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "prometheus", "namespace": "monitoring", "labels": {"app.kubernetes.io/name": "prometheus"}},
                "spec": {"ports": [{"name": "web", "port": 9090}]},
            },
        )
        c.services[("monitoring", "prometheus")] = self.http
        self.scrape()
        c.every(interval, self.scrape)

    def targets(self) -> list[tuple[dict[str, Any], str]]:
        out: list[tuple[dict[str, Any], str]] = []
        if self.broken == "blind":
            return out
        monitors = self.c.all("monitoring.coreos.com/v1", "PodMonitor") if self.c.served("monitoring.coreos.com/v1") else []
        for p in self.c.all("v1", "Pod"):
            if (p.get("status") or {}).get("phase") != "Running":
                continue
            ports = [x for c_ in p["spec"]["containers"] for x in c_.get("ports") or []]
            ann = p["metadata"].get("annotations") or {}
            for m in monitors:
                sel = ",".join("%s=%s" % kv for kv in sorted(m["spec"]["selector"].get("matchLabels", {}).items()))
                if m["metadata"]["namespace"] == p["metadata"]["namespace"] and labels_match(p["metadata"]["labels"], sel):
                    if any(x.get("name") == e.get("port") for e in m["spec"]["podMetricsEndpoints"] for x in ports):
                        out.append((p, "podMonitor/%s/%s/0" % (m["metadata"]["namespace"], m["metadata"]["name"])))
            if ann.get("prometheus.io/scrape") == "true" or (self.broken == "not-selective" and ports):
                out.append((p, "kubernetes-pods"))
        return out

    def scrape(self) -> None:
        if self.broken == "frozen" and self.scrapes:
            return
        self.scrapes += 1
        now = EPOCH + self.c.now
        self.active = []
        if self.exporter is not None:
            for name, labels, v in self.exporter.samples():
                target = {"job": self.EXPORTER_JOB, "instance": "%s:9400" % labels.get("Hostname", "")}
                self.series[(name, tuple(sorted(dict(labels, **target).items())))] = (v, now)
            for node in sorted({d["node"] for d in self.c.devices() if d["node"]}):
                self.active.append(
                    {
                        "discoveredLabels": {"__meta_kubernetes_pod_node_name": node},
                        "labels": {"job": self.EXPORTER_JOB, "instance": "%s:9400" % node},
                        "scrapePool": "serviceMonitor/gpu-operator/nvidia-dcgm-exporter/0",
                        "scrapeUrl": "http://%s:9400/metrics" % node,
                        "health": "up",
                    }
                )
        for pod, pool in self.targets():
            base = {"namespace": pod["metadata"]["namespace"], "pod": pod["metadata"]["name"], "job": pool}
            self.series[("up", tuple(sorted(base.items())))] = (1.0, now)
            if any(str(c_.get("image", "")).startswith(EXAMPLE_APP) for c_ in pod["spec"]["containers"]):
                self.series[("version", tuple(sorted(dict(base, version="v0.5.0").items())))] = (1.0, now)
            self.active.append(
                {
                    "discoveredLabels": {"__meta_kubernetes_pod_name": pod["metadata"]["name"]},
                    "labels": base,
                    "scrapePool": pool,
                    "scrapeUrl": "http://%s:8080/metrics" % pod["status"].get("podIP"),
                    "health": "up",
                }
            )
        for t in self.active:
            if self.shows_interval:
                t.update(scrapeInterval="%ds" % self.interval, scrapeTimeout="10s")

    def select(self, q: str) -> list[tuple[dict[str, str], float, float]]:
        """A selector's series in the lookback window: (labels, value, sample timestamp)."""
        now = EPOCH + self.c.now
        m = re.match(r"^([\w:]+)(?:\{(.*)\})?$", q)
        if not m:
            raise ValueError(q)
        want = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out = []
        for (name, labels), (v, ts) in self.series.items():
            lb = dict(labels)
            if name == m.group(1) and all(lb.get(k) == x for k, x in want.items()) and now - ts <= 300:
                out.append((dict(lb, __name__=name), v, ts))
        return out

    def query(self, q: str) -> list[dict[str, Any]]:
        """Instant query results as Prometheus answers them: [evaluation time, value]."""
        now = EPOCH + self.c.now
        q = q.strip()
        if q == "vector(1)":
            return [{"metric": {}, "value": [now, "1"]}]
        m = re.match(r"^(time\(\) - )?timestamp\((\w+)\)$", q)
        if m:
            return [
                {"metric": {k: v for k, v in lb.items() if k != "__name__"}, "value": [now, str(now - ts if m.group(1) else ts)]}
                for lb, _v, ts in self.select(m.group(2))
            ]
        return [{"metric": lb, "value": [now, str(v)]} for lb, v, _ts in self.select(q)]

    def http(self, method: str, rest: str, query: dict[str, Any], body: Any) -> Any:
        if rest == "/api/v1/targets":
            return {"status": "success", "data": {"activeTargets": copy.deepcopy(self.active)}}
        if rest == "/api/v1/status/config" and self.shows_interval:
            return {"status": "success", "data": {"yaml": "global:\n  scrape_interval: %ds\n  scrape_timeout: 10s\n" % self.interval}}
        if rest == "/api/v1/query":
            try:
                return {"status": "success", "data": {"resultType": "vector", "result": self.query(query.get("query", ""))}}
            except ValueError:
                return {"status": "error", "errorType": "bad_data", "error": "parse error"}
        return {"status": "error", "error": "not found"}


class HpaController:
    """prometheus-adapter (APIService v1beta2.custom.metrics.k8s.io, Available unless
    ``available`` is False) serving pod metrics from Prometheus' series that name the pod, and
    the HPA controller syncing every 15 s: Pods/AverageValue targets, min/max replicas, conditions
    ScalingActive and AbleToScale.  broken: "any-metric" (the adapter answers 0 for metrics
    nobody exports), "no-scale-down"."""

    def __init__(self, c: FakeCluster, prom: Prometheus, available: bool = True, broken: str = "", registered: bool = True) -> None:
        self.c, self.prom, self.broken = c, prom, broken
        if registered:
            c.apply(
                {
                    "apiVersion": "apiregistration.k8s.io/v1",
                    "kind": "APIService",
                    "metadata": {"name": "v1beta2.custom.metrics.k8s.io"},
                    "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta2", "service": {"name": "prometheus-adapter", "namespace": "monitoring"}},
                    "status": {
                        "conditions": [
                            {
                                "type": "Available",
                                "status": "True" if available else "False",
                                "reason": "Passed" if available else "MissingEndpoints",
                                "message": "" if available else "endpoints for service/prometheus-adapter in monitoring have no addresses",
                            }
                        ]
                    },
                }
            )
        self.up = registered and available
        c.every(15.0, self.sync)

    def pod_metric(self, pod: dict[str, Any], metric: str) -> float | None:
        vals = [float(r["value"][1]) for r in self.prom.query('%s{namespace="%s",pod="%s"}' % (metric, pod["metadata"]["namespace"], pod["metadata"]["name"]))]
        if not vals:
            return 0.0 if self.broken == "any-metric" else None
        return sum(vals) / len(vals)

    def sync(self) -> None:
        for h in self.c.all("autoscaling/v2", "HorizontalPodAutoscaler"):
            spec = h["spec"]
            dep = self.c.obj("apps/v1", "Deployment", spec["scaleTargetRef"]["name"], h["metadata"]["namespace"])
            if dep is None:
                continue
            sel = ",".join("%s=%s" % kv for kv in sorted(dep["spec"]["selector"]["matchLabels"].items()))
            pods = [
                p
                for p in self.c.all("v1", "Pod", h["metadata"]["namespace"])
                if labels_match(p["metadata"]["labels"], sel) and p["status"].get("phase") == "Running"
            ]
            metric = spec["metrics"][0]["pods"]["metric"]["name"]
            target = qty(spec["metrics"][0]["pods"]["target"]["averageValue"])
            vals = [self.pod_metric(p, metric) for p in pods] if self.up else [None]
            now = self.c.iso()
            cond(h, "AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale", now)
            if not pods or any(v is None for v in vals):
                cond(
                    h,
                    "ScalingActive",
                    "False",
                    "FailedGetPodsMetric",
                    "the HPA was unable to compute the replica count: unable to get metric %s: unable to fetch metrics from custom metrics API: "
                    "the server could not find the metric %s for pods" % (metric, metric),
                    now,
                )
                self.c.touch(h)
                continue
            avg = sum(vals) / len(vals)
            cond(h, "ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from pods metric %s" % metric, now)
            h["status"] = dict(
                h.get("status") or {}, currentMetrics=[{"type": "Pods", "pods": {"metric": {"name": metric}, "current": {"averageValue": "%g" % avg}}}]
            )
            cur = int(dep["spec"].get("replicas", 1))
            want = min(
                int(spec["maxReplicas"]), max(int(spec.get("minReplicas", 1)), math.ceil(cur * avg / target) if avg else int(spec.get("minReplicas", 1)))
            )
            if self.broken == "no-scale-down":
                want = max(want, cur)
            if want != cur:
                dep["spec"]["replicas"] = want
                dep["metadata"]["generation"] += 1
                self.c.touch(dep)
            h["status"].update(currentReplicas=cur, desiredReplicas=want)
            self.c.touch(h)


# ---- Gateway API controller and data plane, model servers ------------------------------------------
GATEWAY_API = "gateway.networking.k8s.io/v1"
POOL_API = "inference.networking.k8s.io/v1"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost"


def agnhost(pod: dict[str, Any]) -> Callable[..., Any] | None:
    """agnhost netexec answers GET /hostname with its pod's name."""
    if not any(str(c_.get("image", "")).startswith(AGNHOST) for c_ in pod["spec"]["containers"]):
        return None
    return lambda port, method, path, query, body: (200, pod["metadata"]["name"], {}) if path == "/hostname" else (404, "404 page not found", {})


class ModelServers:
    """OpenAI-speaking model servers (the shape of tests/refcluster/fakes/openai_pd.py): a pod whose
    container runs with ``--served-model-name=<model>`` answers POST /v1/completions for that model
    (404 for any other) on every target port, and exports vLLM's counters and gauges on GET /metrics
    per port.  A decode server whose env names AIC_STANDIN_PREFILL_SERVICE first has a prefill pod
    of that Service process the prompt (both counters move).  broken: "skip-prefill" (decode
    answers alone), "serve-any-model"."""

    def __init__(self, c: FakeCluster, broken: str = "") -> None:
        self.c, self.broken = c, broken
        self.done: dict[tuple[str, int], int] = {}
        self.running: dict[tuple[str, int], int] = {}
        c.apps.append(self.app)

    def other_client(self, ns: str, labels: dict[str, str], port: int, every: float) -> None:
        """Another client of the model servers (another tenant, a health checker that sends
        completions): one completion every ``every`` seconds, straight to a running pod with
        ``labels``; the servers count it like any other request."""

        def tick() -> None:
            sel = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
            pods = [p for p in self.c.all("v1", "Pod", ns) if labels_match(p["metadata"].get("labels"), sel)]
            pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
            handler = self.app(pods[0]) if pods else None
            if handler is not None:
                handler(port, "POST", "/v1/completions", {}, {"model": self.model_of(pods[0]), "prompt": "ping"})

        self.c.every(every, tick)

    @staticmethod
    def model_of(pod: dict[str, Any]) -> str | None:
        for c_ in pod["spec"]["containers"]:
            for a in c_.get("args") or []:
                if a.startswith("--served-model-name="):
                    return a.split("=", 1)[1]
        return None

    def app(self, pod: dict[str, Any]) -> Callable[..., Any] | None:
        model = self.model_of(pod)
        if model is None:
            return None
        key = pod["metadata"]["uid"]
        env = {e["name"]: e.get("value") for c_ in pod["spec"]["containers"] for e in c_.get("env") or []}

        def handle(port: int, method: str, path: str, query: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
            if method == "GET" and path == "/metrics":
                lines = [
                    'vllm:request_success_total{model_name="%s",finished_reason="length"} %d' % (model, self.done.get((key, port), 0)),
                    'vllm:num_requests_running{model_name="%s"} %d' % (model, self.running.get((key, port), 0)),
                    'vllm:num_requests_waiting{model_name="%s"} 0' % model,
                    'vllm:kv_cache_usage_perc{model_name="%s"} 0' % model,
                ]
                return 200, "\n".join(lines) + "\n", {}
            if method != "POST" or not path.endswith("completions"):
                return 404, {"error": "not found"}, {}
            if (body or {}).get("model") != model and self.broken != "serve-any-model":
                return 404, {"error": {"message": "The model `%s` does not exist." % (body or {}).get("model"), "type": "NotFoundError", "code": 404}}, {}
            prefill = env.get("AIC_STANDIN_PREFILL_SERVICE")
            if prefill and self.broken != "skip-prefill":
                pods = service_pods(self.c, pod["metadata"]["namespace"], prefill)
                if not pods:
                    return 503, {"error": "no prefill endpoint"}, {}
                p = pods[sum(self.done.values()) % len(pods)]
                self.done[(p["metadata"]["uid"], 8000)] = self.done.get((p["metadata"]["uid"], 8000), 0) + 1
            self.done[(key, port)] = self.done.get((key, port), 0) + 1
            return 200, {"object": "text_completion", "model": model, "choices": [{"index": 0, "text": " ok", "finish_reason": "length"}]}, {}

        return handle


class GatewayController:
    """A Gateway API implementation: accepts its GatewayClass, programs Gateways of that class
    (address 10.96.0.10), writes each HTTPRoute's status.parents (Accepted; ResolvedRefs, False
    with BackendNotFound for a missing Service) and each InferencePool's, and serves HTTP: routes
    by hostname, path and exact header matches (the rule with more header matches first), splits
    by backendRef weight (smooth weighted round robin), answers 500 for a backend that does not
    exist, and sends InferencePool traffic to the endpoint with the fewest running requests.
    broken: a set of "ignore-weights", "ignore-headers", "missing-backend-falls-through",
    "no-address", "not-programmed"."""

    ADDRESS = "10.96.0.10"

    def __init__(self, c: FakeCluster, class_name: str = "traefik", broken: tuple[str, ...] = (), pools: bool = False) -> None:
        self.c, self.name, self.broken = c, class_name, set(broken)
        self.controller = "traefik.io/gateway-controller"
        self.rr: dict[Any, Any] = {}
        c.serve(GATEWAY_API, "GatewayClass", "gatewayclasses", namespaced=False)
        c.serve(GATEWAY_API, "Gateway", "gateways")
        c.serve(GATEWAY_API, "HTTPRoute", "httproutes")
        if pools:
            c.serve(POOL_API, "InferencePool", "inferencepools")
        c.apply(
            {
                "apiVersion": GATEWAY_API,
                "kind": "GatewayClass",
                "metadata": {"name": class_name},
                "spec": {"controllerName": self.controller},
                "status": {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"}]},
            }
        )
        c.gateway_controller = self
        c.apps.append(agnhost)
        c.controllers.append(self.reconcile)

    def ours(self) -> list[dict[str, Any]]:
        return [g for g in self.c.all(GATEWAY_API, "Gateway") if g["spec"].get("gatewayClassName") == self.name]

    def reconcile(self) -> bool:
        changed = False
        now = self.c.iso()
        for g in self.ours():
            before = json.dumps(g.get("status"), sort_keys=True)
            cond(g, "Accepted", "True", "Accepted", "", now)
            cond(
                g, "Programmed", "False" if "not-programmed" in self.broken else "True", "Invalid" if "not-programmed" in self.broken else "Programmed", "", now
            )
            g["status"]["addresses"] = [] if "no-address" in self.broken else [{"type": "IPAddress", "value": self.ADDRESS}]
            if json.dumps(g.get("status"), sort_keys=True) != before:
                self.c.touch(g)
                changed = True
        gws = {(g["metadata"]["namespace"], g["metadata"]["name"]) for g in self.ours()}
        kinds = [(GATEWAY_API, "HTTPRoute")] + ([(POOL_API, "InferencePool")] if self.c.served(POOL_API) else [])
        for av, kind in kinds:
            for r in self.c.all(av, kind):
                ns = r["metadata"]["namespace"]
                parents = []
                refs = r["spec"].get("parentRefs") or [] if kind == "HTTPRoute" else [{"name": n, "namespace": gns} for gns, n in sorted(gws)]
                for ref in refs:
                    if (ref.get("namespace") or ns, ref["name"]) not in gws:
                        continue
                    ok, reason = self.resolved(r) if kind == "HTTPRoute" else (True, "ResolvedRefs")
                    conds = [
                        {"type": "Accepted", "status": "True", "reason": "Accepted", "lastTransitionTime": now},
                        {"type": "ResolvedRefs", "status": "True" if ok else "False", "reason": reason, "lastTransitionTime": now},
                    ]
                    parents.append({"parentRef": dict(ref, namespace=ref.get("namespace") or ns), "controllerName": self.controller, "conditions": conds})
                strip = [dict(p, conditions=[{k: v for k, v in x.items() if k != "lastTransitionTime"} for x in p["conditions"]]) for p in parents]
                old = [
                    dict(p, conditions=[{k: v for k, v in x.items() if k != "lastTransitionTime"} for x in p["conditions"]])
                    for p in (r.get("status") or {}).get("parents") or []
                ]
                if strip != old:
                    r["status"] = {"parents": parents}
                    self.c.touch(r)
                    changed = True
        return changed

    def resolved(self, route: dict[str, Any]) -> tuple[bool, str]:
        ns = route["metadata"]["namespace"]
        for rule in route["spec"].get("rules") or []:
            for b in rule.get("backendRefs") or []:
                if b.get("kind", "Service") == "Service" and self.c.obj("v1", "Service", b["name"], ns) is None:
                    return False, "BackendNotFound"
                if b.get("kind") == "InferencePool" and self.c.obj(POOL_API, "InferencePool", b["name"], ns) is None:
                    return False, "BackendNotFound"
        return True, "ResolvedRefs"

    def pick(self, key: Any, refs: list[dict[str, Any]]) -> dict[str, Any]:
        weights = [1 if "ignore-weights" in self.broken else int(b.get("weight", 1)) for b in refs]
        cur = self.rr.setdefault(key, [0] * len(refs))
        for i, w in enumerate(weights):
            cur[i] += w
        best = max(range(len(refs)), key=lambda i: cur[i])
        cur[best] -= sum(weights)
        return refs[best]

    def serve_http(self, method: str, url: str, host: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        if self.ADDRESS not in url or "no-address" in self.broken:
            return 0, "ConnectionRefusedError: [Errno 111] Connection refused", {}
        gws = {(g["metadata"]["namespace"], g["metadata"]["name"]) for g in self.ours()}
        for route in self.c.all(GATEWAY_API, "HTTPRoute"):
            ns = route["metadata"]["namespace"]
            if not any((r.get("namespace") or ns, r["name"]) in gws for r in route["spec"].get("parentRefs") or []):
                continue
            if route["spec"].get("hostnames") and host not in route["spec"]["hostnames"]:
                continue
            rules = sorted(
                enumerate(route["spec"].get("rules") or []), key=lambda ir: -max([len(m.get("headers") or []) for m in ir[1].get("matches") or [{}]])
            )
            for idx, rule in rules:
                if not any(self.matches(m, path, headers) for m in rule.get("matches") or [{}]):
                    continue
                ref = self.pick((route["metadata"]["uid"], idx), rule.get("backendRefs") or [])
                return self.forward(ns, ref, method, path, body)
        return 404, "404 page not found", {}

    def matches(self, m: dict[str, Any], path: str, headers: dict[str, str]) -> bool:
        p = m.get("path") or {"type": "PathPrefix", "value": "/"}
        if (p["type"] == "Exact" and path != p["value"]) or (p["type"] == "PathPrefix" and not path.startswith(p["value"])):
            return False
        if "ignore-headers" in self.broken:
            return True
        return all(headers.get(h["name"].lower()) == h["value"] for h in m.get("headers") or [])

    def forward(self, ns: str, ref: dict[str, Any], method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if ref.get("kind") == "InferencePool":
            pool = self.c.obj(POOL_API, "InferencePool", ref["name"], ns)
            sel = ",".join("%s=%s" % kv for kv in sorted(pool["spec"]["selector"]["matchLabels"].items()))
            eps = [
                (p, t["number"])
                for p in self.c.all("v1", "Pod", ns)
                if labels_match(p["metadata"]["labels"], sel) and get_cond(p, "Ready").get("status") == "True"
                for t in pool["spec"]["targetPorts"]
            ]
            return self.call(*min(eps, key=self.load), method, path, body) if eps else (503, "no healthy upstream", {})
        if self.c.obj("v1", "Service", ref["name"], ns) is None:
            if "missing-backend-falls-through" not in self.broken:
                return 500, "Internal Server Error", {}
            others = [s for s in self.c.all("v1", "Service", ns) if service_pods(self.c, ns, s["metadata"]["name"])]
            ref = {"name": others[0]["metadata"]["name"]} if others else ref
        pods = service_pods(self.c, ns, ref["name"])
        if not pods:
            return 503, "no available server", {}
        n = self.rr.setdefault(("svc", ns, ref["name"]), [0])
        n[0] += 1
        svc = self.c.obj("v1", "Service", ref["name"], ns)
        port = (svc["spec"].get("ports") or [{}])[0]
        return self.call(pods[n[0] % len(pods)], int(port.get("targetPort") or port.get("port") or 80), method, path, body)

    def load(self, ep: tuple[dict[str, Any], int]) -> int:
        servers = next((a.__self__ for a in self.c.apps if isinstance(getattr(a, "__self__", None), ModelServers)), None)
        return servers.running.get((ep[0]["metadata"]["uid"], ep[1]), 0) if servers else 0

    def call(self, pod: dict[str, Any], port: int, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        for app in self.c.apps:
            h = app(pod)
            if h is not None:
                return h(port, method, path, {}, body)
        return 502, "Bad Gateway", {}


# ---- KubeRay -------------------------------------------------------------------------------------
class KubeRay:
    """The KubeRay operator (ray.io/v1 RayCluster, CRD rayclusters.ray.io) with its validating
    webhook vraycluster.kb.io, which refuses duplicate worker group names as
    ray-operator/pkg/webhooks/v1/raycluster_webhook.go does.  The controller creates the head pod,
    one pod per worker replica and the head Service, owned by the RayCluster, and reports
    state ready once the pods run.  broken: "no-webhook", "no-controller", "no-owner-refs".
    install: "in-cluster" (the Helm chart with webhooks: Deployment ray-system/kuberay-operator and
    the webhook's Service selecting its pods) or "url" (the reference cluster: the operator runs
    as a process, its webhook is reached by URL, no Deployment)."""

    def __init__(self, c: FakeCluster, broken: str = "", install: str = "in-cluster") -> None:
        self.c, self.broken = c, broken
        c.serve("ray.io/v1", "RayCluster", "rayclusters")
        client_config: dict[str, Any] = {"url": "https://127.0.0.1:19443/validate-ray-io-v1-raycluster"}
        if install == "in-cluster":
            labels = {"app.kubernetes.io/name": "kuberay-operator", "app.kubernetes.io/instance": "kuberay-operator"}
            in_cluster_component(c, "ray-system", "kuberay-operator", "kuberay-webhook-service", labels, "quay.io/kuberay/operator:v1.7.0")
            client_config = {"service": {"namespace": "ray-system", "name": "kuberay-webhook-service", "path": "/validate-ray-io-v1-raycluster"}}
        c.apply(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "rayclusters.ray.io"},
                "spec": {"group": "ray.io", "versions": [{"name": "v1", "served": True, "storage": True}]},
                "status": {"conditions": [{"type": "Established", "status": "True"}]},
            }
        )
        if broken != "no-webhook":
            c.apply(
                {
                    "apiVersion": "admissionregistration.k8s.io/v1",
                    "kind": "ValidatingWebhookConfiguration",
                    "metadata": {"name": "kuberay-validating-webhook-configuration"},
                    "webhooks": [
                        {
                            "name": "vraycluster.kb.io",
                            "clientConfig": client_config,
                            "rules": [{"apiGroups": ["ray.io"], "apiVersions": ["v1"], "resources": ["rayclusters"], "operations": ["CREATE", "UPDATE"]}],
                        }
                    ],
                }
            )
            c.admission.append(self.webhook)
        if broken != "no-controller":
            c.controllers.append(self.reconcile)

    def webhook(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        if obj["kind"] != "RayCluster":
            return
        names = [g.get("groupName") for g in obj["spec"].get("workerGroupSpecs") or []]
        if len(names) != len(set(names)):
            raise Deny(403, "Forbidden", 'admission webhook "vraycluster.kb.io" denied the request: worker group names must be unique')

    def reconcile(self) -> bool:
        changed = False
        for rc in self.c.all("ray.io/v1", "RayCluster"):
            ns, name = rc["metadata"]["namespace"], rc["metadata"]["name"]
            owner = (
                []
                if self.broken == "no-owner-refs"
                else [{"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": name, "uid": rc["metadata"]["uid"], "controller": True}]
            )
            want = [("%s-head" % name, rc["spec"]["headGroupSpec"]["template"])]
            for g in rc["spec"].get("workerGroupSpecs") or []:
                want += [("%s-%s-worker-%d" % (name, g["groupName"], i), g["template"]) for i in range(int(g.get("replicas", 1)))]
            for pod_name, tmpl in want:
                if self.c.obj("v1", "Pod", pod_name, ns) is None:
                    md = {"name": pod_name, "namespace": ns, "labels": {"ray.io/cluster": name}, "ownerReferences": owner}
                    self.c.create_obj({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": copy.deepcopy(tmpl["spec"])})
                    changed = True
            if self.c.obj("v1", "Service", "%s-head-svc" % name, ns) is None:
                md = {"name": "%s-head-svc" % name, "namespace": ns, "labels": {"ray.io/cluster": name}, "ownerReferences": owner}
                self.c.create_obj(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": md,
                        "spec": {"selector": {"ray.io/cluster": name}, "ports": [{"name": "gcs", "port": 6379}]},
                    }
                )
                changed = True
            running = all((self.c.obj("v1", "Pod", n, ns) or {}).get("status", {}).get("phase") == "Running" for n, _t in want)
            if running and (rc.get("status") or {}).get("state") != "ready":
                rc["status"] = {"state": "ready", "readyWorkerReplicas": len(want) - 1}
                cond(rc, "HeadPodReady", "True", "HeadPodRunningAndReady", "", self.c.iso())
                cond(rc, "RayClusterProvisioned", "True", "AllPodRunningAndReadyFirstTime", "", self.c.iso())
                self.c.touch(rc)
                changed = True
        return changed


def ensure_namespace(c: FakeCluster, ns: str) -> None:
    if c.obj("v1", "Namespace", ns) is None:
        c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})


def in_cluster_component(c: FakeCluster, ns: str, name: str, service: str, labels: dict[str, str], image: str) -> None:
    """A controller installed in the cluster: its Deployment and the Service in front of its pods."""
    ensure_namespace(c, ns)
    c.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(labels)},
                "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [{"name": "manager", "image": image}]}},
            },
        },
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "namespace": ns}, "spec": {"selector": dict(labels), "ports": [{"port": 443}]}},
    )


class PolicyEngine:
    """A Kyverno-like policy engine: one validating webhook (validate.kyverno.svc-fail) served by
    its own admission controller (Deployment kyverno/kyverno-admission-controller behind Service
    kyverno/kyverno-svc), registered by default for every resource (Kyverno's catch-all
    registration), that denies what a policy refuses with Kyverno's message.  ``policies``:
    {policy name: fn(obj) -> message or None}."""

    HOOK = "validate.kyverno.svc-fail"

    def __init__(self, c: FakeCluster, policies: dict[str, Callable[[dict[str, Any]], str | None]], rules: list[dict[str, Any]] | None = None) -> None:
        self.c, self.policies = c, policies
        labels = {"app.kubernetes.io/component": "admission-controller", "app.kubernetes.io/instance": "kyverno"}
        in_cluster_component(c, "kyverno", "kyverno-admission-controller", "kyverno-svc", labels, "reg.kyverno.io/kyverno/kyverno:v1.15.0")
        every = [{"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "operations": ["CREATE", "UPDATE"]}]
        c.apply(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "kyverno-resource-validating-webhook-cfg"},
                "webhooks": [
                    {
                        "name": self.HOOK,
                        "clientConfig": {"service": {"namespace": "kyverno", "name": "kyverno-svc", "path": "/validate/fail"}},
                        "rules": rules or every,
                    }
                ],
            }
        )
        c.admission.append(self.admit)

    def admit(self, op: str, obj: dict[str, Any], _old: Any) -> None:
        if obj["kind"] in ("Event", "Namespace"):
            return
        denied = [(n, m) for n, fn in sorted(self.policies.items()) for m in [fn(obj)] if m]
        if denied:
            md = obj["metadata"]
            lines = "".join("\n\n%s:\n  check: %s" % (n, m) for n, m in denied)
            where = "%s/%s/%s" % (obj["kind"], md.get("namespace", ""), md.get("name", ""))
            msg = 'admission webhook "%s" denied the request: \n\nresource %s was blocked due to the following policies %s' % (self.HOOK, where, lines)
            raise Deny(400, "BadRequest", msg)


def serving_stack(c: FakeCluster, ns: str, name: str, labels: dict[str, str], args: list[str], env: dict[str, str] | None = None, replicas: int = 1) -> None:
    """A Deployment of model-server pods (the shape of tests/refcluster/manifests/pd-standin.yaml)."""
    c.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        if c.obj("v1", "Namespace", ns) is None
        else {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name + "-cfg", "namespace": ns}}
    )
    pod = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "containers": [
                {
                    "name": "vllm",
                    "image": "refcluster.local/openai-pd-standin:v1",
                    "args": list(args),
                    "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                }
            ]
        },
    }
    c.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}, "template": pod},
        }
    )
