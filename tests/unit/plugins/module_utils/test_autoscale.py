from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import autoscale as asc


def pool(name, limits=None, used=None, taints=None):
    return {
        "metadata": {"name": name},
        "spec": {"limits": limits or {}, "template": {"spec": {"taints": taints or []}}},
        "status": {"resources": used or {}},
    }


def test_pick_pool_by_name_single_or_the_one_limiting_gpus():
    a, b = pool("cpu", {"cpu": "100"}), pool("gpu", {"nvidia.com/gpu": "16"})
    assert asc.pick_pool([a, b], "gpu", "nvidia.com/gpu")[0] is b
    assert asc.pick_pool([a], None, "nvidia.com/gpu")[0] is a
    assert asc.pick_pool([a, b], None, "nvidia.com/gpu")[0] is b
    missing, why = asc.pick_pool([a, b], "nope", "nvidia.com/gpu")
    assert missing is None and why == "NodePool nope does not exist (pools: cpu, gpu)"
    none, why = asc.pick_pool([a, pool("x")], None, "nvidia.com/gpu")
    assert none is None and why.endswith("set node_pool")


def test_headroom_is_limit_minus_what_the_pool_runs():
    assert asc.pool_headroom(pool("g", {"nvidia.com/gpu": "16"}, {"nvidia.com/gpu": "8"}), "nvidia.com/gpu") == 8
    assert asc.pool_headroom(pool("g", {"nvidia.com/gpu": "0"}), "nvidia.com/gpu") == 0
    assert asc.pool_headroom(pool("g", {"cpu": "1"}), "nvidia.com/gpu") is None


def test_tolerations_cover_every_taint_of_the_pool():
    p = pool("g", taints=[{"key": "nvidia.com/gpu", "value": "x", "effect": "NoSchedule"}, {"key": "a", "effect": "NoExecute"}])
    assert asc.tolerations_for(p) == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "a", "operator": "Exists", "effect": "NoExecute"},
    ]
