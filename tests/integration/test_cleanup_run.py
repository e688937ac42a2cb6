"""cleanup_run deletes only labelled leftovers, and only lists them in check mode."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext

pytestmark = pytest.mark.integration


def test_cleanup_lists_in_check_mode_then_deletes_only_labelled_objects(ansible_module, k8s):
    ctx = RunContext(k8s, "it-leftover")  # an "interrupted" run: never cleaned up by itself
    ns = ctx.ensure_namespace()
    ctx.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "left", "namespace": ns}, "data": {}})
    foreign = k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "foreign-", "namespace": "default"}, "data": {}})
    listed = ansible_module("cleanup_run", check=True, run_id="it-leftover")
    assert {(d["kind"], d["name"]) for d in listed["deleted"]} == {("ConfigMap", "left"), ("Namespace", ns)}
    assert k8s.get("v1", "ConfigMap", "left", ns) is not None
    other = ansible_module("cleanup_run", run_id="it-other-run")
    assert other["deleted"] == [] and other["changed"] is False
    done = ansible_module("cleanup_run", run_id="it-leftover")
    assert done["changed"] is True and len(done["deleted"]) == 2
    assert k8s.get("v1", "ConfigMap", foreign["metadata"]["name"], "default") is not None  # unlabelled: never touched
    k8s.delete("v1", "ConfigMap", foreign["metadata"]["name"], "default")
    k8s.wait_gone("v1", "Namespace", ns, timeout_s=90)


def test_probes_of_one_run_clean_up_only_their_own_namespace(k8s):
    # Probes of the background lane run at the same time with the same run id: the first to finish
    # must not take the others' namespace (and their pods) with it.
    first, second = RunContext(k8s, "it-lanes", "workload_sandboxing"), RunContext(k8s, "it-lanes", "dra_support")
    ns1, ns2 = first.ensure_namespace(), second.ensure_namespace()
    assert (ns1, ns2) == ("aic-workload-sandboxing-it-lanes", "aic-dra-support-it-lanes")
    held = second.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "namespace": ns2}, "data": {}})
    try:
        first.cleanup()
        k8s.wait_gone("v1", "Namespace", ns1, timeout_s=90)
        assert k8s.get("v1", "Namespace", ns2)["metadata"].get("deletionTimestamp") is None
        assert k8s.get("v1", "ConfigMap", "held", ns2)["metadata"]["uid"] == held["metadata"]["uid"]
    finally:
        second.cleanup()
    k8s.wait_gone("v1", "Namespace", ns2, timeout_s=90)
