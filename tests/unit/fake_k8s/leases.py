"""coordination.k8s.io Leases on the fake cluster: the kind served, and the API server's optimistic
concurrency for them (a patch that carries ``metadata.resourceVersion`` is refused with 409 Conflict
when the stored object has moved on), which the exclusive-probe Lease (module_utils/lease.py) relies on.

    from tests.unit.fake_k8s.leases import serve_leases
    serve_leases(cluster)      # after FakeCluster() / reference_cluster()
"""

from __future__ import annotations

from typing import Any

from .base import api_error

LEASE_API = "coordination.k8s.io/v1"


def serve_leases(cluster: Any) -> Any:
    """Serve Lease on ``cluster`` (idempotent) and make its patches honour resourceVersion."""
    if cluster.served(LEASE_API, "Lease"):
        return cluster
    cluster.serve(LEASE_API, "Lease", "leases")
    if not cluster.obj("v1", "Namespace", "default"):
        cluster.create_obj({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    plain_patch = cluster.patch

    def patch(api_version: str, kind: str, name: str, body: Any, namespace: str | None = None, patch_type: str = "merge", subresource: str | None = None):
        want = ((body or {}).get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        live = cluster.obj(api_version, kind, name, namespace)
        if want is not None and live is not None and live["metadata"].get("resourceVersion") != want:
            raise api_error(
                409,
                "Conflict",
                'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again'
                % (cluster.kinds[api_version][kind][0], name),
                "patch %s %s" % (kind, name),
            )
        return plain_patch(api_version, kind, name, body, namespace, patch_type, subresource)

    cluster.patch = patch
    return cluster
