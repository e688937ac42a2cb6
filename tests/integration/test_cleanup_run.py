"""cleanup_run deletes only labelled leftovers, and only lists them in check mode."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.runctx import RunContext

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
