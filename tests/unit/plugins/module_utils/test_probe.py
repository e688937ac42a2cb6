"""The Probe base: the undecided_runtime_checks policy applied to every probe's pass."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.doc_fragments.auth import ModuleDocFragment
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import PARTIAL_PREFIX, is_partial, validate_result_dict
from tests.unit.conftest import FakeClient


def node(name, runtime):
    return {"metadata": {"name": name}, "status": {"nodeInfo": {"containerRuntimeVersion": runtime}}}


KWOK_ONLY = [node("kwok-gpu-1", "kwok-v0.7.0"), node("kwok-gpu-2", "kwok-v0.7.0"), node("fresh", "")]
WITH_CONTAINERD = KWOK_ONLY + [node("refcluster-node-2", "containerd://2.4.2"), node("refcluster-node-1", "containerd://2.4.2")]


class FakeProbe(probe_mod.Probe):
    """Records what ``script`` says, refuses its negative case and decides from the checks."""

    requirement = "secure_accelerator_access"
    script: list[tuple[str, bool | None, str, str]] = []

    def run(self, client, ctx, result):
        for name, ok, detail, kind in self.script:
            result.check(name, ok, detail, kind)
        result.negative_case("pod without a claim sees no GPU", refused=True, outcome="saw none")
        result.decide_from_checks("each pod saw only its own GPU")


def main():
    FakeProbe().main()


RUNTIME_UNDECIDED = [
    ("pods isolated by the API", True, "two claims, two devices", "api"),
    ("container sees only its GPU", None, "skipped: containers do not run on node kwok-gpu-1 (runtime 'kwok-v0.7.0')", "runtime"),
    ("container without claim sees no GPU", None, "skipped: containers do not run on node kwok-gpu-1", "runtime"),
]


@pytest.fixture
def cluster(monkeypatch):
    """cluster(nodes, script, errors=None) -> the FakeClient the probe will use."""

    def make(nodes, script, errors=None):
        client = FakeClient(lists={("v1", "Node"): nodes}, errors=errors)
        monkeypatch.setattr(probe_mod, "get_client", lambda params: client)
        monkeypatch.setattr(probe_mod, "check_reachable", lambda c: {})
        monkeypatch.setattr(FakeProbe, "script", script)
        return client

    return make


def probe(run_module, policy=None):
    args = {"run_id": "t1"}
    if policy:
        args["undecided_runtime_checks"] = policy
    res = run_module(main, args)
    assert not res.failed, res.result
    assert validate_result_dict(res.result["result"]) == []
    return res.result["result"]


NODE_LISTS = ["list v1 Node"]


def test_auto_on_kwok_only_nodes_keeps_a_partial_pass(run_module, cluster):
    client = cluster(KWOK_ONLY, RUNTIME_UNDECIDED)
    r = probe(run_module)  # auto is the default
    assert r["verdict"] == "pass" and is_partial(r)
    assert r["reason"] == (
        "partial: 2 of 3 checks not decided (container sees only its GPU, container without claim sees no GPU); each pod saw only its own GPU"
    )
    assert [c for c in client.calls if c.startswith("list")] == NODE_LISTS
    pol = r["observations"]["undecided_policy"]
    assert (pol["policy"], pol["outcome"], pol["container_nodes"]) == ("auto", "partial pass", [])
    assert "no node runs containers" in pol["why"]


def test_auto_with_a_containerd_node_fails_and_names_nodes_and_checks(run_module, cluster):
    client = cluster(WITH_CONTAINERD, RUNTIME_UNDECIDED)
    r = probe(run_module, "auto")
    assert r["verdict"] == "fail" and not is_partial(r)
    assert r["reason"] == (
        "2 runtime check(s) were not decided although node(s) refcluster-node-1, refcluster-node-2 run containers: "
        "container sees only its GPU: skipped: containers do not run on node kwok-gpu-1 (runtime 'kwok-v0.7.0'); "
        "container without claim sees no GPU: skipped: containers do not run on node kwok-gpu-1"
    )
    assert [c for c in client.calls if c.startswith("list")] == NODE_LISTS  # one list call
    pol = r["observations"]["undecided_policy"]
    assert pol == {
        "policy": "auto",
        "runtime_checks": ["container sees only its GPU", "container without claim sees no GPU"],
        "container_nodes": ["refcluster-node-1", "refcluster-node-2"],
        "container_node_count": 2,
        "outcome": "fail",
        "why": "node(s) run containers, so the runtime checks could have run",
    }
    # The undecided checks stay in the result for the evidence.
    assert len(r["undecided_checks"]) == 2


def test_auto_names_at_most_five_nodes_in_the_reason(run_module, cluster):
    cluster([node("n%d" % i, "containerd://2.4.2") for i in range(7)], RUNTIME_UNDECIDED)
    r = probe(run_module)
    assert "node(s) n0, n1, n2, n3, n4 and 2 more run containers" in r["reason"]
    assert r["observations"]["undecided_policy"]["container_node_count"] == 7


@pytest.mark.parametrize("nodes", [KWOK_ONLY, WITH_CONTAINERD])
def test_fail_fails_without_reading_the_nodes(run_module, cluster, nodes):
    client = cluster(nodes, RUNTIME_UNDECIDED)
    r = probe(run_module, "fail")
    assert r["verdict"] == "fail"
    assert r["reason"].startswith("2 runtime check(s) were not decided and undecided_runtime_checks is fail: container sees only its GPU: skipped")
    assert not [c for c in client.calls if c.startswith("list")]
    assert r["observations"]["undecided_policy"]["outcome"] == "fail"


@pytest.mark.parametrize("nodes", [KWOK_ONLY, WITH_CONTAINERD])
def test_allow_keeps_the_partial_pass_without_reading_the_nodes(run_module, cluster, nodes):
    client = cluster(nodes, RUNTIME_UNDECIDED)
    r = probe(run_module, "allow")
    assert r["verdict"] == "pass" and is_partial(r) and r["reason"].startswith(PARTIAL_PREFIX)
    assert not [c for c in client.calls if c.startswith("list")]
    assert r["observations"]["undecided_policy"] == {
        "policy": "allow",
        "runtime_checks": ["container sees only its GPU", "container without claim sees no GPU"],
        "outcome": "partial pass",
        "why": "undecided_runtime_checks is allow",
    }


@pytest.mark.parametrize("policy", ["auto", "fail"])
def test_undecided_api_checks_are_not_runtime_checks_and_stay_a_partial_pass(run_module, cluster, policy):
    client = cluster(WITH_CONTAINERD, [("placed", True, "n1", "api"), ("metric seen", None, "no scrape yet", "api")])
    r = probe(run_module, policy)
    assert r["verdict"] == "pass" and is_partial(r)
    assert r["reason"] == "partial: 1 of 2 checks not decided (metric seen); each pod saw only its own GPU"
    assert "undecided_policy" not in r["observations"] and not client.calls


def test_a_fully_decided_pass_and_a_fail_are_left_alone(run_module, cluster):
    client = cluster(WITH_CONTAINERD, [("placed", True, "n1", "api"), ("container sees its GPU", True, "GPU-1 only", "runtime")])
    r = probe(run_module)
    assert (r["verdict"], r["reason"], r["undecided_checks"]) == ("pass", "each pod saw only its own GPU", [])
    cluster(WITH_CONTAINERD, [("placed", False, "pod on n2", "api")] + RUNTIME_UNDECIDED[1:])
    r = probe(run_module)
    assert (r["verdict"], r["reason"]) == ("fail", "placed: pod on n2")
    assert not [c for c in client.calls if c.startswith("list")]


def test_unreadable_nodes_keep_the_partial_pass_and_say_why(run_module, cluster):
    cluster(WITH_CONTAINERD, RUNTIME_UNDECIDED, errors={"list v1 Node": ClusterError("nodes is forbidden", kind="forbidden")})
    r = probe(run_module)
    assert r["verdict"] == "pass" and is_partial(r)
    pol = r["observations"]["undecided_policy"]
    assert pol["outcome"] == "partial pass" and pol["why"].startswith("the nodes could not be read to apply the policy: nodes is forbidden")


def test_an_unknown_policy_is_refused(run_module, cluster):
    cluster(KWOK_ONLY, RUNTIME_UNDECIDED)
    res = run_module(main, {"run_id": "t1", "undecided_runtime_checks": "sometimes"})
    assert res.failed and "undecided_runtime_checks" in res.result["msg"]


def test_runs_containers_reuses_the_runtime_test_of_the_probes():
    assert wl.runs_containers(node("a", "containerd://2.4.2"))
    assert not wl.runs_containers(node("b", "kwok-v0.7.0"))
    assert not wl.runs_containers(node("c", ""))
    assert not wl.runs_containers({"metadata": {"name": "d"}, "status": {}})
    assert not wl.runs_containers(None)
    for n in KWOK_ONLY + WITH_CONTAINERD:
        assert wl.runs_containers(n) == (wl.runtime_skip_reason("auto", n) is None)


def test_the_probe_doc_fragment_matches_the_argspec():
    doc = yaml.safe_load(ModuleDocFragment.PROBE)["options"]
    assert sorted(doc) == sorted(probe_mod.PROBE_ARG_SPEC)
    for name, spec in probe_mod.PROBE_ARG_SPEC.items():
        assert doc[name]["type"] == spec["type"], name
        assert doc[name].get("default") == spec.get("default"), name
        assert doc[name].get("choices") == spec.get("choices"), name
    assert doc["undecided_runtime_checks"]["choices"] == ["auto", "fail", "allow"]
