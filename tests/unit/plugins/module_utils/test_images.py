"""The mirror rule (module_utils/images.py) and the filter that exposes it to the roles."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ai_conformance.kubernetes.plugins.filter import image as image_filter
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import images

M = "mirror.example.com"


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("nvcr.io/nvidia/cuda:12.9.1-base", M + "/nvidia/cuda:12.9.1-base"),
        ("registry.k8s.io/pause:3.10", M + "/pause:3.10"),
        ("quay.io/brancz/prometheus-example-app:v0.5.0", M + "/brancz/prometheus-example-app:v0.5.0"),
        ("rayproject/ray:2.46.0", M + "/rayproject/ray:2.46.0"),
        ("busybox:1.36", M + "/library/busybox:1.36"),
        ("busybox", M + "/library/busybox"),
        ("docker.io/envoyproxy/envoy:v1.34", M + "/envoyproxy/envoy:v1.34"),
        ("index.docker.io/library/nginx", M + "/library/nginx"),
        ("localhost/ai-conformance/probe:v1", M + "/ai-conformance/probe:v1"),
        ("localhost:5000/probe:v1", M + "/probe:v1"),
        ("ghcr.io/x/y@sha256:" + "a" * 64, M + "/x/y@sha256:" + "a" * 64),
        ("oci://registry.k8s.io/kueue/charts/kueue", "oci://" + M + "/kueue/charts/kueue"),
        (M + "/nvidia/cuda:12", M + "/nvidia/cuda:12"),  # already under the mirror
    ],
)
def test_prefix_keeps_the_path_without_the_host(ref, want):
    assert images.mirror(ref, M) == want


def test_prefix_with_a_path_port_and_trailing_slash():
    assert images.mirror("nvcr.io/nvidia/cuda:12", "mirror.example.com:5443/ai/") == "mirror.example.com:5443/ai/nvidia/cuda:12"


def test_no_prefix_and_no_map_changes_nothing():
    for ref in ("nvcr.io/nvidia/cuda:12", "busybox", "", None, 3):
        assert images.mirror(ref, "", {}) == ref
    assert images.mirror("nvcr.io/nvidia/cuda:12") == "nvcr.io/nvidia/cuda:12"


def test_map_names_hosts_and_wins_over_the_prefix():
    hosts = {"nvcr.io": "m.example/nvcr", "index.docker.io": "m.example/hub"}
    assert images.mirror("nvcr.io/nvidia/cuda:12", M, hosts) == "m.example/nvcr/nvidia/cuda:12"
    assert images.mirror("rayproject/ray:2.46.0", M, hosts) == "m.example/hub/rayproject/ray:2.46.0"
    assert images.mirror("quay.io/a/b:1", M, hosts) == M + "/a/b:1"
    assert images.mirror("quay.io/a/b:1", "", hosts) == "quay.io/a/b:1"


@pytest.mark.parametrize(
    ("prefix", "registry_map", "words"),
    [
        ("https://mirror.example.com", None, "image_registry must be host[:port][/path]"),
        ("mirror.example.com/ai:v1", None, "image_registry must be host[:port][/path]"),
        ("mirror example", None, "image_registry must be"),
        (5, None, "image_registry must be a string"),
        ("", ["nvcr.io"], "image_registry_map must be a mapping"),
        ("", {"https://nvcr.io": "m.example"}, "image_registry_map keys must be registry hosts"),
        ("", {"nvcr.io": "m.example/NV"}, "image_registry_map[nvcr.io] must be host[:port][/path]"),
    ],
)
def test_bad_prefix_or_map_is_one_line_naming_it(prefix, registry_map, words):
    with pytest.raises(ValueError) as info:
        images.Mirror(prefix, registry_map)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_objects_are_rewritten_in_a_copy_wherever_an_image_is_named():
    m = images.Mirror(M)
    pod = {"kind": "Pod", "spec": {"initContainers": [{"image": "busybox"}], "containers": [{"name": "main", "image": "nvcr.io/nvidia/cuda:12"}]}}
    ray = {"kind": "RayCluster", "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"image": "rayproject/ray:2.46.0"}]}}}}}
    patch = [{"op": "replace", "path": "/spec/containers/0/image", "value": "quay.io/a/b:1"}]
    out = m.rewrite_object(pod), m.rewrite_object(ray), m.rewrite_object(patch)
    assert out[0]["spec"]["containers"][0]["image"] == M + "/nvidia/cuda:12"
    assert out[0]["spec"]["initContainers"][0]["image"] == M + "/library/busybox"
    assert out[1]["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] == M + "/rayproject/ray:2.46.0"
    assert out[2][0]["value"] == M + "/a/b:1"
    assert pod["spec"]["containers"][0]["image"] == "nvcr.io/nvidia/cuda:12"  # the caller's object is untouched
    assert m.to_dict()["rewritten"] == {
        "busybox": M + "/library/busybox",
        "nvcr.io/nvidia/cuda:12": M + "/nvidia/cuda:12",
        "quay.io/a/b:1": M + "/a/b:1",
        "rayproject/ray:2.46.0": M + "/rayproject/ray:2.46.0",
    }


def test_filter_is_the_same_rule_and_names_the_play_variables():
    assert image_filter.FilterModule().filters()["mirror"] is image_filter.mirror
    assert image_filter.mirror("nvcr.io/nvidia/cuda:12", M) == images.mirror("nvcr.io/nvidia/cuda:12", M)
    assert image_filter.mirror("nvcr.io/nvidia/cuda:12", None, None) == "nvcr.io/nvidia/cuda:12"
    with pytest.raises(AnsibleFilterError, match=r"conformance_image_registry must be host\[:port\]\[/path\]"):
        image_filter.mirror("nvcr.io/nvidia/cuda:12", "https://m")
    with pytest.raises(AnsibleFilterError, match="conformance_image_registry_map must be a mapping"):
        image_filter.mirror("nvcr.io/nvidia/cuda:12", "", "m.example")


@pytest.mark.parametrize(
    ("location", "want"),
    [
        ("docker.io", M),
        ("quay.io", M),
        ("nvcr.io/nvidia", M + "/nvidia"),
        ("registry.k8s.io/kueue/kueue", M + "/kueue/kueue"),
        (M + "/nvidia", M + "/nvidia"),
    ],
)
def test_registry_values_of_charts_keep_their_path(location, want):
    assert images.mirror_registry(location, M) == want
    assert image_filter.mirror_registry(location, M) == want


def test_registry_values_follow_the_map():
    hosts = {"docker.io": "m.example/hub"}
    assert image_filter.mirror_registry("docker.io", "", hosts) == "m.example/hub"
    assert image_filter.mirror_registry("quay.io", "", hosts) == "quay.io"
    assert image_filter.mirror_registry("quay.io", "", {}) == "quay.io"


def test_docker_hub_written_with_its_host_is_read_as_docker_does():
    assert images.mirror("docker.io/nginx:1", M) == M + "/library/nginx:1"
    assert images.mirror("docker.io/nginx:1", M) == images.mirror("nginx:1", M)
