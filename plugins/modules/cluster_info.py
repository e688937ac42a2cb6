#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cluster_info
short_description: Gather the cluster facts that AI conformance probes branch on
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Reads the server version, every node with its accelerator capacity by resource name and its
    GPU product labels, the served API group-versions, the installed CRDs, DRA device classes and
    ResourceSlices by driver, and RuntimeClasses.
  - Domain roles use these facts to decide which probes run and which requirements are
    C(not_applicable) or C(skip), and with what reason.
  - Read-only. Needs C(get)/C(list) on nodes, CRDs, deviceclasses, resourceslices and runtimeclasses.
  - An unreachable cluster, bad credentials, an unknown context or a missing permission fail the
    task with one readable line.
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
options:
  gather:
    description:
      - Which groups of facts to read.
    type: list
    elements: str
    choices: [version, nodes, api_groups, crds, dra, runtime_classes]
    default: [version, nodes, api_groups, crds, dra, runtime_classes]
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Read-only; runs unchanged in check mode.
notes:
  - Accelerator resources are extended resources whose names start with C(nvidia.com/), C(amd.com/gpu),
    C(gpu.intel.com/), C(google.com/tpu), C(aws.amazon.com/neuron) or C(habana.ai/).
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Gather cluster facts from the local reference cluster
  ai_conformance.kubernetes.cluster_info:
    kubeconfig: "{{ playbook_dir }}/.build/refcluster/kubeconfig"
  register: cluster

- name: Only nodes and served APIs, through an AWX credential
  ai_conformance.kubernetes.cluster_info:
    host: "{{ lookup('ansible.builtin.env', 'K8S_AUTH_HOST') }}"
    api_key: "{{ lookup('ansible.builtin.env', 'K8S_AUTH_API_KEY') }}"
    gather: [nodes, api_groups]
  register: cluster

- name: Decide whether DRA can be probed
  ansible.builtin.debug:
    msg: "DRA served: {{ cluster.cluster.apis.dra }}, GPU nodes: {{ cluster.cluster.accelerator_nodes | length }}"
"""

RETURN = r"""
cluster:
  description: The gathered facts; keys present depend on O(gather).
  returned: success
  type: dict
  contains:
    source:
      description: Where the credentials came from (kubeconfig path and context, host, or in-cluster).
      type: str
      returned: always
      sample: kubeconfig /work/.build/refcluster/kubeconfig context (current)
    version:
      description: Server version.
      type: dict
      returned: when version is gathered
      sample: {git_version: v1.37.2, major: "1", minor: "37", platform: linux/amd64}
    nodes:
      description: One entry per node with readiness, taints, accelerator capacity and allocatable, GPU product and GPU-related labels.
      type: list
      elements: dict
      returned: when nodes are gathered
      sample:
        - name: gpu-node-1
          ready: true
          unschedulable: false
          taints: []
          accelerator_capacity: {nvidia.com/gpu: "8"}
          accelerator_allocatable: {nvidia.com/gpu: "8"}
          gpu_product: NVIDIA-H100-80GB-HBM3
          labels: {nvidia.com/gpu.count: "8", nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
          kubelet_version: v1.37.2
          container_runtime: containerd://2.1.0
    accelerator_totals:
      description: Allocatable accelerators summed over nodes, by resource name.
      type: dict
      returned: when nodes are gathered
      sample: {nvidia.com/gpu: 16}
    accelerator_nodes:
      description: Names of the nodes with a non-zero accelerator capacity.
      type: list
      elements: str
      returned: when nodes are gathered
      sample: [gpu-node-1, gpu-node-2]
    gpu_products:
      description: Distinct GPU product labels.
      type: list
      elements: str
      returned: when nodes are gathered
      sample: [NVIDIA-H100-80GB-HBM3]
    node_count:
      description: Number of nodes.
      type: int
      returned: when nodes are gathered
      sample: 3
    ready_node_count:
      description: Number of Ready nodes.
      type: int
      returned: when nodes are gathered
      sample: 3
    api_versions:
      description: Every served group-version.
      type: list
      elements: str
      returned: when api_groups are gathered
      sample: [v1, resource.k8s.io/v1, gateway.networking.k8s.io/v1]
    preferred_versions:
      description: Preferred version of each group.
      type: dict
      returned: when api_groups are gathered
      sample: {resource.k8s.io: resource.k8s.io/v1}
    apis:
      description: Whether each API the probes branch on is served (dra, gateway_api, inference_extension, volcano, kai, kueue, kuberay, ...).
      type: dict
      returned: when api_groups are gathered
      sample: {dra: true, gateway_api: false, kueue: false}
    crds:
      description: Installed CRDs with group, kind, served versions, storage version and whether Established.
      type: list
      elements: dict
      returned: when crds are gathered
      sample:
        - {name: rayclusters.ray.io, group: ray.io, kind: RayCluster, versions: [v1], storage_version: v1, established: true}
    dra:
      description: DRA state. C(served) is false when resource.k8s.io/v1 is not served.
      type: dict
      returned: when dra is gathered
      sample: {served: true, device_classes: [gpu.nvidia.com], drivers: {gpu.nvidia.com: {slices: 2, devices: 16, nodes: [gpu-node-1, gpu-node-2]}}}
    runtime_classes:
      description: RuntimeClasses with their handlers.
      type: list
      elements: dict
      returned: when runtime_classes are gathered
      sample: [{name: gvisor, handler: runsc}]
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.cluster_facts import GATHER_CHOICES, gather
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import auth_argspec, client_or_fail, new_module


def main():
    spec = auth_argspec()
    spec["gather"] = {"type": "list", "elements": "str", "choices": list(GATHER_CHOICES), "default": list(GATHER_CHOICES)}
    module = new_module(spec)
    client = client_or_fail(module)
    try:
        facts = gather(client, module.params["gather"])
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error_kind=exc.kind)
    module.exit_json(changed=False, cluster=facts)


if __name__ == "__main__":
    main()
