"""The API server's built-in admission plugins: Pod Security (namespace label
``pod-security.kubernetes.io/enforce``) and RuntimeClass (overhead, scheduling, unknown class)."""

from __future__ import annotations

from typing import Any

from .base import Deny


class AdmissionMixin:
    """FakeCluster's built-in admission plugins."""

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
