"""netdra over slices shaped like DRANET's (EKS p5, see tests/refcluster/fixtures/SOURCE.md) and the NVIDIA GPU driver's."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import netdra as nd


def efa(root, rdma=True, **drop):
    attrs = {
        "dra.net/numaNode": {"int": 0},
        "dra.net/pciAddress": {"string": "0000:%s:1b.0" % root},
        "dra.net/rdma": {"bool": rdma},
        "dra.net/rdmaDevice": {"string": "rdmap%ss27" % root},
        "resource.kubernetes.io/pcieRoot": {"string": "pci0000:%s" % root},
    }
    for k in drop:
        attrs.pop(k.replace("__", "/").replace("_", "."), None)
    return {"name": "pci-0000-%s-1b-0" % root, "attributes": attrs}


def gpu(minor, root):
    return {"name": "gpu-%d" % minor, "attributes": {"type": {"string": "gpu"}, "resource.kubernetes.io/pcieRoot": {"string": "pci0000:%s" % root}}}


def rslice(node, driver, devices):
    return {"metadata": {"name": "%s-%s" % (node, driver)}, "spec": {"driver": driver, "nodeName": node, "pool": {"name": node}, "devices": devices}}


SLICES = [
    rslice("n1", "dra.net", [efa("18"), efa("2a"), efa("20", rdma=False)]),
    rslice("n2", "dra.net", [efa("18")]),
    rslice("n1", "gpu.nvidia.com", [gpu(0, "18"), gpu(1, "2a")]),
]


def test_rdma_nics_and_nodes():
    nics = nd.rdma_nics(dra.published_devices(SLICES, "dra.net"), "dra.net", "dra.net/rdma")
    assert sorted(nics) == [("n1", "pci-0000-18-1b-0"), ("n1", "pci-0000-2a-1b-0"), ("n2", "pci-0000-18-1b-0")]
    assert {n: len(k) for n, k in nd.by_node(nics).items()} == {"n1": 2, "n2": 1}
    # The short name works too, as in the NVIDIA driver's unqualified attributes.
    assert nd.rdma_nics(dra.published_devices(SLICES, "dra.net"), "dra.net", "rdma") == nics


def test_missing_characteristics():
    devs = dra.published_devices([rslice("n", "dra.net", [efa("18"), {"name": "bare", "attributes": {"dra.net/rdma": {"bool": True}}}])], "dra.net")
    assert nd.missing_characteristics(devs[("n", "pci-0000-18-1b-0")], "dra.net") == []
    assert nd.missing_characteristics(devs[("n", "bare")], "dra.net") == ["pciAddress", "numaNode", "resource.kubernetes.io/pcieRoot", "ifName or rdmaDevice"]


def test_claim_with_a_match_attribute_constraint():
    c = nd.claim("x", "ns", [nd.request("gpu", "gpu.nvidia.com"), nd.request("nic", "rdma.dra.net", cel="a == 'b'")], nd.PCIE_ROOT)
    assert c["spec"]["devices"]["constraints"] == [{"requests": ["gpu", "nic"], "matchAttribute": "resource.kubernetes.io/pcieRoot"}]
    assert c["spec"]["devices"]["requests"][1]["exactly"] == {"deviceClassName": "rdma.dra.net", "count": 1, "selectors": [{"cel": {"expression": "a == 'b'"}}]}
    assert "constraints" not in nd.claim("y", "ns", [nd.request("nic", "c", 2)])["spec"]["devices"]
    assert nd.cel_attr("dra.net", nd.PCIE_ROOT) == "device.attributes['resource.kubernetes.io'].pcieRoot"
    assert nd.cel_attr("gpu.nvidia.com", "uuid") == "device.attributes['gpu.nvidia.com'].uuid"


def allocation(*results):
    return {"status": {"allocation": {"devices": {"results": [{"request": r, "driver": d, "pool": p, "device": n} for r, d, p, n in results]}}}}


def published():
    return {d: dra.published_devices(SLICES, d) for d in ("gpu.nvidia.com", "dra.net")}


def test_check_aligned_pass_and_each_failure():
    ok = nd.allocated(allocation(("gpu", "gpu.nvidia.com", "n1", "gpu-1"), ("nic", "dra.net", "n1", "pci-0000-2a-1b-0")), published())
    assert [c[1] for c in nd.check_aligned(ok, "gpu.nvidia.com", "dra.net", nd.PCIE_ROOT, "n1")] == [True, True, True]
    skew = nd.allocated(allocation(("gpu", "gpu.nvidia.com", "n1", "gpu-0"), ("nic", "dra.net", "n1", "pci-0000-2a-1b-0")), published())
    assert [c[1] for c in nd.check_aligned(skew, "gpu.nvidia.com", "dra.net", nd.PCIE_ROOT, "n1")] == [True, True, False]
    far = nd.allocated(allocation(("gpu", "gpu.nvidia.com", "n1", "gpu-0"), ("nic", "dra.net", "n2", "pci-0000-18-1b-0")), published())
    assert [c[1] for c in nd.check_aligned(far, "gpu.nvidia.com", "dra.net", nd.PCIE_ROOT, "n1")] == [True, False, True]
    unknown = nd.allocated(allocation(("nic", "other.driver", "n1", "pci-0000-2a-1b-0")), published())
    assert unknown["nic"][0]["known"] is False
    none = nd.check_aligned(nd.allocated({}, published()), "gpu.nvidia.com", "dra.net", nd.PCIE_ROOT, "n1")
    assert [(c[0], c[1]) for c in none] == [("GPU and NIC allocated in one claim", False)]
