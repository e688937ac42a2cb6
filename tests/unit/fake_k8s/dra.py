"""Dynamic Resource Allocation: a CEL subset for device selectors, the allocator the scheduler
uses (DeviceClass and request selectors, count, allocationMode All, matchAttribute constraints),
the resourceclaim controller, and what a node's DRA plugin does with a pod's claims."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from .base import RESOURCE_API, alloc_results


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


class DraMixin:
    """FakeCluster's devices, claims and allocator."""

    def claim_of(self, pod: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any] | None:
        """The ResourceClaim an entry of the pod's spec.resourceClaims names."""
        return self.obj(RESOURCE_API, "ResourceClaim", ref.get("resourceClaimName", ""), pod["metadata"]["namespace"])

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

    def devices(self) -> list[dict[str, Any]]:
        out = []
        for s in self.all(RESOURCE_API, "ResourceSlice"):
            spec = s["spec"]
            for d in spec.get("devices") or []:
                out.append(dict(d, driver=spec["driver"], pool=spec["pool"]["name"], node=spec.get("nodeName"), all_nodes=bool(spec.get("allNodes"))))
        return out

    def device_nodes(self) -> list[str]:
        """The nodes that publish devices in a ResourceSlice, sorted."""
        return sorted({d["node"] for d in self.devices() if d["node"]})

    def taken_devices(self) -> set[tuple[str, str, str]]:
        if "dra-double-allocate" in self.faults:
            return set()
        return {(r["driver"], r["pool"], r["device"]) for c in self.all(RESOURCE_API, "ResourceClaim") for r in alloc_results(c)}

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

    def withdraw_slices(self, pod: dict[str, Any], node: str) -> None:
        """A DRA plugin that deregisters while preparing the pod's claims: the kubelet removes the
        ResourceSlices it published for this node.  Allocations are not touched (nothing does)."""
        drivers = set()
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            drivers |= {r["driver"] for r in alloc_results(self.claim_of(pod, rc) or {})}
        for sl in self.all(RESOURCE_API, "ResourceSlice"):
            if sl["spec"].get("nodeName") == node and sl["spec"].get("driver") in drivers:
                self.remove(RESOURCE_API, "ResourceSlice", sl["metadata"]["name"])

    def claim_gpus(self, pod: dict[str, Any]) -> list[str]:
        uuids = []
        by_key = {(d["driver"], d["pool"], d["name"]): d for d in self.devices()}
        for rc in (pod.get("spec") or {}).get("resourceClaims") or []:
            for r in alloc_results(self.claim_of(pod, rc) or {}):
                d = by_key.get((r["driver"], r["pool"], r["device"]))
                if d and "uuid" in (d.get("attributes") or {}):
                    uuids.append(d["attributes"]["uuid"]["string"])
        return uuids
