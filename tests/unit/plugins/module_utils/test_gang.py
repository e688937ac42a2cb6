from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gang


@pytest.mark.parametrize(
    ("free", "leave", "plan"),
    [
        ({"a": 8, "b": 8}, 1, [("a", 8), ("b", 7)]),
        ({"b": 8, "a": 8}, 3, [("a", 8), ("b", 5)]),
        ({"a": 2, "b": 0, "c": 5}, 1, [("a", 2), ("c", 4)]),
        ({"a": 1}, 1, []),
    ],
)
def test_blockers_leave_exactly_the_requested_free_gpus(free, leave, plan):
    assert gang.blocker_plan(free, leave) == plan
    assert sum(free.values()) - sum(g for _node, g in plan) == leave


class FakeClient:
    def __init__(self, served):
        self._served = served

    def served(self, api, kind=None):
        return (api, kind) in self._served


PARAMS = {"resource_name": "nvidia.com/gpu", "timeout": 5, "scheduler": "auto"}


def test_auto_prefers_a_dedicated_gang_scheduler_over_the_native_api():
    c = FakeClient({("scheduling.k8s.io/v1beta1", "PodGroup"), (gang.KUEUE_API, "Workload"), (gang.KUEUE_API, "ClusterQueue")})
    backend, served = gang.pick(c, PARAMS)
    assert served == ["kueue", "native"] and backend.name == "kueue"


def test_native_uses_the_newest_served_version():
    c = FakeClient({("scheduling.k8s.io/v1alpha3", "PodGroup")})
    backend, served = gang.pick(c, dict(PARAMS, scheduler="native"))
    assert served == ["native"] and backend.api == "scheduling.k8s.io/v1alpha3"


def test_a_declared_scheduler_that_is_not_served_is_not_picked():
    c = FakeClient({("scheduling.k8s.io/v1beta1", "PodGroup")})
    backend, served = gang.pick(c, dict(PARAMS, scheduler="volcano"))
    assert backend is None and served == ["native"]


class Ctx:
    def __init__(self):
        self.objs = []

    def create(self, obj):
        self.objs.append(obj)
        return obj


def test_each_backend_joins_every_member_to_the_group():
    for name, check in (
        ("native", lambda p: p["spec"]["schedulingGroup"] == {"podGroupName": "g"}),
        (
            "kueue",
            lambda p: (
                p["metadata"]["labels"]["kueue.x-k8s.io/pod-group-name"] == "g" and p["metadata"]["annotations"]["kueue.x-k8s.io/pod-group-total-count"] == "3"
            ),
        ),
        ("volcano", lambda p: p["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == "g" and p["spec"]["schedulerName"] == "volcano"),
        ("kai", lambda p: p["metadata"]["annotations"]["pod-group-name"] == "g" and p["spec"]["schedulerName"] == "kai-scheduler"),
    ):
        ctx = Ctx()
        names = gang.BACKENDS[name](PARAMS).group(ctx, "ns", "g", 3, 1)
        pods = [o for o in ctx.objs if o["kind"] == "Pod"]
        assert names == ["g-0", "g-1", "g-2"] and len(pods) == 3, name
        assert all(check(p) for p in pods), name
        assert all(p["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"} for p in pods), name
        groups = [o for o in ctx.objs if o["kind"] == "PodGroup"]
        if name in ("native", "volcano", "kai"):
            size = groups[0]["spec"].get("minMember") or groups[0]["spec"]["schedulingPolicy"]["gang"]["minCount"]
            assert size == 3, name
