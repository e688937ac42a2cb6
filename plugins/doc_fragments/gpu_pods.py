# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Matches GPU_POD_ARGSPEC in plugins/module_utils/core/workloads.py: the option of the probes
    # whose pods must land on accelerator nodes.
    DOCUMENTATION = r"""
options:
  tolerations:
    description:
      - More tolerations for every pod the probe places on an accelerator node (its GPU pods, its
        negative cases and the pods its runtime checks pin to a GPU node), for GPU pools tainted
        with another key than C(nvidia.com/gpu), for example AKS's documented C(sku=gpu:NoSchedule).
      - They are added to the toleration the probe always sets (C(nvidia.com/gpu), operator
        C(Exists), effect C(NoSchedule)), never replacing it.
      - Each entry is checked as Kubernetes checks a pod's tolerations (a label name as O(tolerations[].key),
        C(Exists) only without O(tolerations[].value), no O(tolerations[].key) only with C(Exists),
        O(tolerations[].tolerationSeconds) only with C(NoExecute)); the module fails with one line naming a bad entry.
    type: list
    elements: dict
    default: []
    suboptions:
      key:
        description: Taint key the toleration matches; empty with operator C(Exists) matches every taint.
        type: str
      operator:
        description: C(Equal) (Kubernetes's default when unset) matches O(tolerations[].value); C(Exists) matches any value.
        type: str
        choices: [Exists, Equal]
      value:
        description: Taint value, for operator C(Equal).
        type: str
      effect:
        description: Taint effect the toleration matches; unset matches every effect.
        type: str
        choices: [NoSchedule, PreferNoSchedule, NoExecute]
      tolerationSeconds:
        description: How long a pod stays bound after a C(NoExecute) taint appears; only with that effect.
        type: int
"""
