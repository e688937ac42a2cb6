"""The interrupted-run sweep removes a killed run's exclusive Lease by name (the prober may not list
Leases cluster-wide), and only one that carries the collection's labels (and the run id asked for)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import lease
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL, sweep
from tests.unit import fakecluster as fc

API = "coordination.k8s.io/v1"
NAME = lease.lease_name(lease.GPU_CAPACITY)


def with_lease(labels):
    c = fc.reference_cluster()
    c.create_obj({"apiVersion": API, "kind": "Lease", "metadata": {"name": NAME, "namespace": lease.NAMESPACE, "labels": labels}, "spec": {}})
    return c


def test_a_killed_runs_lease_is_swept_by_name():
    c = with_lease({MANAGED_BY_LABEL: MANAGED_BY, RUN_ID_LABEL: "r-killed"})
    gone = sweep(c, "r-killed")
    assert [(g["kind"], g["name"], g["run_id"]) for g in gone if g["kind"] == "Lease"] == [("Lease", NAME, "r-killed")]
    assert c.get(API, "Lease", NAME, lease.NAMESPACE) is None


def test_another_runs_lease_and_a_foreign_lease_stay():
    c = with_lease({MANAGED_BY_LABEL: MANAGED_BY, RUN_ID_LABEL: "r-alive"})
    assert [g for g in sweep(c, "r-killed") if g["kind"] == "Lease"] == []
    assert c.get(API, "Lease", NAME, lease.NAMESPACE) is not None
    foreign = with_lease({})
    assert [g for g in sweep(foreign) if g["kind"] == "Lease"] == []
    assert foreign.get(API, "Lease", NAME, lease.NAMESPACE) is not None


def test_dry_run_lists_the_lease_and_deletes_nothing():
    c = with_lease({MANAGED_BY_LABEL: MANAGED_BY, RUN_ID_LABEL: "r-killed"})
    assert [g["name"] for g in sweep(c, dry_run=True) if g["kind"] == "Lease"] == [NAME]
    assert c.get(API, "Lease", NAME, lease.NAMESPACE) is not None


def crd_gone_after_discovery(status):
    """The cluster's discovery still lists ray.io (a cached answer) while RayCluster's CRD is gone: the
    apiserver answers a list with 404, as it does once a CRD is deleted."""
    c = with_lease({MANAGED_BY_LABEL: MANAGED_BY, RUN_ID_LABEL: "r-killed"})
    real_list = c.list

    def listing(api_version, kind, *args, **kwargs):
        if kind == "RayCluster":
            raise ClusterError("not found (%d) while trying to list RayCluster" % status, "not_found" if status == 404 else "api", status)
        return real_list(api_version, kind, *args, **kwargs)

    c.list = listing
    c.served = lambda api_version, kind=None: True
    return c


def test_a_kind_whose_crd_went_away_after_discovery_is_skipped_not_fatal():
    c = crd_gone_after_discovery(404)
    assert [g["kind"] for g in sweep(c, "r-killed")] == ["Lease"]


def test_other_list_errors_still_stop_the_sweep():
    c = crd_gone_after_discovery(500)
    with pytest.raises(ClusterError, match="RayCluster"):
        sweep(c, "r-killed")
