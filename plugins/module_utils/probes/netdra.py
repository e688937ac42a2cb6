# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""High-performance networking through DRA: NIC devices, their characteristics, aligned claims.

DRANET (kubernetes-sigs/dranet, driver ``dra.net``) publishes one device per network interface
with fully qualified attributes: ``dra.net/rdma`` (bool), ``dra.net/pciAddress``,
``dra.net/numaNode``, ``dra.net/ifName`` or ``dra.net/rdmaDevice``, and the standard
``resource.kubernetes.io/pcieRoot`` that GPU drivers publish too, so a claim can ask for a GPU
and a NIC on the same PCIe root with a ``matchAttribute`` constraint.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from typing import Any

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dra

PCIE_ROOT = "resource.kubernetes.io/pcieRoot"


def qualified(driver: str, attr: str) -> str:
    """Attribute keys as published: unqualified names belong to the driver's domain."""
    return attr if "/" in attr else "%s/%s" % (driver, attr)


def attr(dev: dict[str, Any], driver: str, name: str) -> Any:
    a = dev["attributes"]
    return a.get(name, a.get(qualified(driver, name), a.get(name.rsplit("/", 1)[-1])))


def cel_attr(driver: str, name: str) -> str:
    domain, short = qualified(driver, name).rsplit("/", 1)
    return "device.attributes['%s'].%s" % (domain, short)


def rdma_nics(devices: dict[tuple[str, str], dict[str, Any]], driver: str, rdma_attr: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {k: d for k, d in devices.items() if attr(d, driver, rdma_attr) is True}


def missing_characteristics(dev: dict[str, Any], driver: str) -> list[str]:
    """What a scheduler or a workload needs to know about a NIC and the device does not say."""
    missing = [n for n in ("pciAddress", "numaNode") if attr(dev, driver, n) is None]
    if attr(dev, driver, PCIE_ROOT) is None:
        missing.append(PCIE_ROOT)
    if attr(dev, driver, "ifName") is None and attr(dev, driver, "rdmaDevice") is None:
        missing.append("ifName or rdmaDevice")
    return missing


def by_node(devices: dict[tuple[str, str], dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for key, d in sorted(devices.items()):
        if d.get("node"):
            out.setdefault(d["node"], []).append(key)
    return out


def request(name: str, device_class: str, count: int = 1, cel: str | None = None) -> dict[str, Any]:
    exactly: dict[str, Any] = {"deviceClassName": device_class, "count": count}
    if cel:
        exactly["selectors"] = [{"cel": {"expression": cel}}]
    return {"name": name, "exactly": exactly}


def claim(name: str, namespace: str, requests: list[dict[str, Any]], match_attribute: str | None = None) -> dict[str, Any]:
    devices: dict[str, Any] = {"requests": requests}
    if match_attribute:
        devices["constraints"] = [{"requests": [r["name"] for r in requests], "matchAttribute": match_attribute}]
    return {"apiVersion": dra.API, "kind": "ResourceClaim", "metadata": {"name": name, "namespace": namespace}, "spec": {"devices": devices}}


def allocated(claim_obj: dict[str, Any] | None, published: dict[str, dict[tuple[str, str], dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """request name -> the published devices allocated for it (with driver, pool, device).
    ``published`` maps each driver to its devices (pools of two drivers may share a name)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in dra.allocation_results(claim_obj):
        dev = published.get(r.get("driver", ""), {}).get((r.get("pool"), r.get("device")))
        out.setdefault(r.get("request", ""), []).append(
            dict(dev or {}, driver=r.get("driver"), pool=r.get("pool"), device=r.get("device"), known=dev is not None)
        )
    return out


def check_aligned(got: dict[str, list[dict[str, Any]]], gpu_driver: str, nic_driver: str, align: str, node: str | None) -> list[tuple[str, bool, str]]:
    """The aligned GPU+NIC allocation: both devices on the pod's node, equal ``align`` attribute."""
    gpu, nic = (got.get("gpu") or [None])[0], (got.get("nic") or [None])[0]
    if not gpu or not nic:
        return [("GPU and NIC allocated in one claim", False, "allocated: %s" % {k: [d.get("device") for d in v] for k, v in got.items()})]
    out = [("GPU and NIC allocated in one claim", True, "gpu %s/%s, nic %s/%s" % (gpu["pool"], gpu["device"], nic["pool"], nic["device"]))]
    nodes = {gpu.get("node"), nic.get("node")}
    out.append(("GPU, NIC and pod on one node", nodes == {node}, "gpu on %s, nic on %s, pod on %s" % (gpu.get("node"), nic.get("node"), node)))
    a, b = attr(gpu, gpu_driver, align), attr(nic, nic_driver, align)
    out.append(("GPU and NIC aligned on %s" % align, a is not None and a == b, "gpu %s=%s, nic %s=%s" % (align, a, align, b)))
    return out
