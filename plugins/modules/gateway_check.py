#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_check
short_description: Prove the Gateway API implementation splits and routes real traffic (requirement ai_inference)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Deploys two backends (A and B), a Gateway of an accepted GatewayClass (or uses O(gateway)),
    and three HTTPRoutes, then sends a bounded number of real HTTP requests through the gateway's
    address and counts which backend answered each one (a backend answers C(/hostname) with its
    pod's name)."
  - "Weighted split: one route sends to A and B with O(weights); the observed shares must be
    within O(tolerance) of the weights. Header routing: a second route sends requests carrying
    O(header_name) (the header an OpenAI-style body-based router sets from the request's model)
    to B and all others to A; both must be exact."
  - "The Gateway must be Accepted and Programmed, and every route Accepted with ResolvedRefs True
    on its status entry for this Gateway, as written by the controller."
  - "Negative case: a route to a Service that does not exist must be reported by its conditions
    (ResolvedRefs False, reason BackendNotFound) and none of its requests may reach a backend; the
    Gateway API specification requires them to get HTTP 500."
  - "Where the Gateway API Inference Extension (C(inference.networking.k8s.io/v1) InferencePool)
    is served, that is recorded in the observations; routing through a pool is checked by the
    advanced_inference_ingress probe."
  - Request loops are bounded by O(requests) and O(traffic_seconds).
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
options:
  gateway_class:
    description: GatewayClass for the probe's Gateway. Empty picks the first GatewayClass (by name) that a controller has Accepted.
    type: str
    default: ""
  gateway:
    description:
      - An existing Gateway to attach the routes to, as C(namespace/name), instead of creating one.
      - Its listener on O(listener_port) must allow routes from the probe's namespace.
    type: str
    default: ""
  listener_port:
    description: Port of the HTTP listener of the probe's Gateway (some implementations need it to match a configured entry point).
    type: int
    default: 80
  gateway_url:
    description:
      - Base URL (C(http://host:port)) at which this machine reaches the Gateway's listener.
      - Empty uses the first address in the Gateway's status and O(listener_port).
    type: str
    default: ""
  image:
    description: Backend image; it must answer C(GET /hostname) with the pod's name on the container port (agnhost netexec does).
    type: str
    default: registry.k8s.io/e2e-test-images/agnhost:2.53
  backend_ports:
    description: Container ports of backends A and B (two entries; they must differ when O(host_network) is set).
    type: list
    elements: int
    default: [8080, 8080]
  host_network:
    description: Run the backends in the host network namespace (the reference cluster's local processes).
    type: bool
    default: false
  node_selector:
    description: Node labels for the backend pods.
    type: dict
  tolerations:
    description: Tolerations for the backend pods.
    type: list
    elements: dict
  weights:
    description: Weights of backends A and B on the split route (two entries, both above 0).
    type: list
    elements: int
    default: [70, 30]
  tolerance:
    description: Largest accepted difference between a backend's observed share and its weight share (0 to 0.5).
    type: float
    default: 0.1
  requests:
    description: Requests sent on the split route; the header route gets a quarter of it with and a quarter without the header (at least 10 each).
    type: int
    default: 200
  traffic_seconds:
    description: Time budget of each request loop; a loop stops at O(requests) or at this budget, whichever comes first.
    type: int
    default: 60
  header_name:
    description: Request header the header-routing rule matches exactly.
    type: str
    default: X-Gateway-Model-Name
requirements:
  - kubernetes >= 24.2.0
notes:
  - The machine running the module must reach the Gateway's address (or O(gateway_url)).
"""

EXAMPLES = r"""
- name: Prove weighted and header routing through the platform's gateway
  ai_conformance.kubernetes.gateway_check:
    gateway_class: eg
  register: ai_inference

- name: Use a pre-provisioned shared Gateway reached through an internal address
  ai_conformance.kubernetes.gateway_check:
    gateway: infra/shared-gateway
    gateway_url: http://10.0.12.7
    requests: 400
    tolerance: 0.05
"""

RETURN = r"""
verdict:
  description: One of pass, fail, skip, not_applicable, error.
  returned: always
  type: str
  sample: pass
reason:
  description: One sentence explaining the verdict.
  returned: always
  type: str
  sample: "traefik split 200 requests 71%/29% for weights 70/30 and routed on X-Gateway-Model-Name exactly"
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: ai_inference
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: traffic split and header routing measured
    observations:
      description: GatewayClass and controller, gateway URL, the measured split and header routing per backend, route conditions, time to first routed response.
      type: dict
      returned: always
      sample: {split: {by_backend: {a: 141, b: 59}}, header_routing: {with_header: {by_backend: {a: 0, b: 50}}}}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: weighted split within tolerance, ok: true, detail: "a 0.705 (0.7), b 0.295 (0.3)", kind: traffic}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create Gateway aic-gw-r1, result: Programmed after 1.2 s, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: route to a missing Service, refused: true, outcome: "ResolvedRefs=False (BackendNotFound); 10 x HTTP 500"}]
    owner:
      description: Owning layer.
      type: str
      returned: always
      sample: platform
    run_id:
      description: Run id on every created object.
      type: str
      returned: always
      sample: r2611231030-ab12
    started:
      description: UTC start time.
      type: str
      returned: always
      sample: "2026-11-23T10:30:00Z"
    duration_s:
      description: Seconds the probe took.
      type: float
      returned: always
      sample: 20.5
"""

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway as gw
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import gateway_probe

EXTRA = {
    "gateway_class": {"type": "str", "default": ""},
    "gateway": {"type": "str", "default": ""},
    "listener_port": {"type": "int", "default": 80},
    "gateway_url": {"type": "str", "default": ""},
    "image": {"type": "str", "default": gw.DEFAULT_IMAGE},
    "backend_ports": {"type": "list", "elements": "int", "default": [8080, 8080]},
    "host_network": {"type": "bool", "default": False},
    "node_selector": {"type": "dict"},
    "tolerations": {"type": "list", "elements": "dict"},
    "weights": {"type": "list", "elements": "int", "default": [70, 30]},
    "tolerance": {"type": "float", "default": 0.1},
    "requests": {"type": "int", "default": 200},
    "traffic_seconds": {"type": "int", "default": 60},
    "header_name": {"type": "str", "default": "X-Gateway-Model-Name"},
}


class GatewayCheck(gateway_probe.GatewayCheck):
    requirement = "ai_inference"


def main():
    GatewayCheck(EXTRA).main()


if __name__ == "__main__":
    main()
