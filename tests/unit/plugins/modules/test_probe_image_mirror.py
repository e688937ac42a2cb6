"""The probes' image_registry / image_registry_map options (module_utils/probe.py): every object a
probe sends to the (fake) cluster names its images under the mirror, including images that are
no option of the probe (the pause image of placeholder pods), and the verdict does not change."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import dra_probe, operator_probe, sandbox_probe
from tests.unit import fakecluster as fc

M = "mirror.example.com/ai"


def recorded_images(monkeypatch, cluster):
    """The image of every container of every object the probe creates, as the API receives it."""
    seen: list[str] = []
    create = cluster.create

    def recording(obj):
        def walk(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "image" and isinstance(value, str):
                        seen.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(obj.get("spec"))
        return create(obj)

    monkeypatch.setattr(cluster, "create", recording)
    return seen


def sandbox_cluster():
    c = fc.reference_cluster(dra=False)
    c.apply(fc.REFCLUSTER["runtime_class"])
    fc.add_sandbox_node(c, None)
    return c


def test_dra_probe_pods_are_pulled_from_the_mirror_and_the_verdict_holds(run_module, monkeypatch):
    c = fc.reference_cluster(runtime_node=True)
    plain = recorded_images(monkeypatch, c)
    base = fc.run_probe(run_module, monkeypatch, dra_probe, c)
    # The probe's own image option and the pause image every placeholder pod runs (no option).
    assert {"nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04", "registry.k8s.io/pause:3.10"} <= set(plain)
    assert "image_mirror" not in base["observations"]

    c = fc.reference_cluster(runtime_node=True)
    sent = recorded_images(monkeypatch, c)
    r = fc.run_probe(run_module, monkeypatch, dra_probe, c, image_registry=M)
    assert (r.verdict, r.reason, r.failed(), r.undecided()) == (base.verdict, base.reason, base.failed(), base.undecided())
    assert sorted(sent) == sorted(M + "/" + i.split("/", 1)[1] for i in plain)
    assert r["observations"]["image_mirror"] == {"prefix": M, "map": {}, "rewritten": {i: M + "/" + i.split("/", 1)[1] for i in sorted(set(plain))}}


def test_map_moves_only_the_hosts_it_names(run_module, monkeypatch):
    c = sandbox_cluster()
    sent = recorded_images(monkeypatch, c)
    r = fc.run_probe(run_module, monkeypatch, sandbox_probe, c, image_registry_map={"quay.io": "m.example/quay"})
    assert r.verdict == "pass" and sent and all(i.startswith("registry.k8s.io/") for i in sent)
    assert r["observations"]["image_mirror"]["rewritten"] == {}

    c = sandbox_cluster()
    sent = recorded_images(monkeypatch, c)
    fc.run_probe(run_module, monkeypatch, sandbox_probe, c, image_registry="other.example", image_registry_map={"registry.k8s.io": "m.example/k8s"})
    assert sent and all(i.startswith("m.example/k8s/") for i in sent)


def test_docker_hub_image_of_a_custom_resource_is_rewritten(run_module, monkeypatch):
    c = fc.reference_cluster(dra=False)
    fc.KubeRay(c)
    sent = recorded_images(monkeypatch, c)
    r = fc.run_probe(run_module, monkeypatch, operator_probe, c, image_registry=M)
    assert r.verdict == "pass"
    assert M + "/rayproject/ray:2.46.0" in sent and not [i for i in sent if not i.startswith(M + "/")]


def test_bad_mirror_fails_the_task_in_one_line_before_the_cluster(run_module, monkeypatch):
    res = run_module(sandbox_probe.main, {"run_id": "t1", "image_registry": "https://mirror.example.com"})
    assert res.failed and res.result["msg"].startswith("image_registry must be host[:port][/path]") and "\n" not in res.result["msg"]
    res = run_module(sandbox_probe.main, {"run_id": "t1", "image_registry_map": {"nvcr.io": "oci://m.example/A"}})
    assert res.failed and res.result["msg"].startswith("image_registry_map[nvcr.io] must be")


def test_check_mode_plan_names_the_mirror(run_module):
    res = run_module(sandbox_probe.main, {"run_id": "t1", "image_registry": M + "/"}, check_mode=True)
    plan = res.result["result"]["observations"]["check_mode_plan"]
    assert plan["image_mirror"] == {"prefix": M, "map": {}} and "image_registry" not in plan["options"]
