"""The fake cluster's core: virtual clock, discovery, and the object store with its history of
watch events and the controller loop (``settle``)."""

from __future__ import annotations

import copy
import heapq
import time as _real_time
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl

from .base import EPOCH, Deny, api_error, cond, labels_match, selector_of


class StoreMixin:
    """Clock, discovery and store of FakeCluster (its attributes are set in FakeCluster.__init__)."""

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

    def pods_matching(self, namespace: str | None, match_labels: dict[str, str]) -> list[dict[str, Any]]:
        """The pods of ``namespace`` whose labels ``match_labels`` selects (all of them when it is empty)."""
        sel = selector_of(match_labels)
        return [p for p in self.all("v1", "Pod", namespace) if labels_match(p["metadata"].get("labels"), sel)]

    def _bump(self, obj: dict[str, Any], etype: str) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append({"type": etype, "object": copy.deepcopy(obj), "rv": self.rv})

    def touch(self, obj: dict[str, Any]) -> None:
        """Record a change a controller made to a stored object."""
        self._bump(obj, "MODIFIED")

    def set_cond(self, obj: dict[str, Any], ctype: str, status: str, reason: str = "", message: str = "") -> bool:
        """Set a condition of a stored object now, recording the change; True when it changed."""
        if cond(obj, ctype, status, reason, message, self.iso()):
            self.touch(obj)
            return True
        return False

    def replace_status(self, obj: dict[str, Any], status: dict[str, Any]) -> bool:
        """Give a stored object this status, recording the change; True when it changed."""
        if obj.get("status") != status:
            obj["status"] = status
            self.touch(obj)
            return True
        return False

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
                changes = [c() for c in self.controllers]  # every controller runs each round
                if not any(changes):
                    return
            raise AssertionError("the fake cluster's controllers did not settle")
        finally:
            self.settling = False

    def apply(self, *objs: dict[str, Any]) -> None:
        """Set up the cluster: store objects as an installer would (no admission), then settle."""
        for o in objs:
            self.create_obj(o)
        self.settle()
