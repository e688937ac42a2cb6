"""A fake Kubernetes cluster at the API boundary, for the probes' verdict-logic unit tests.

It answers the calls the probes make on ``module_utils.client.Client`` (served, get, list, create,
patch, delete, request, watch, wait_for, wait_until, holds, wait_gone) from an object store keyed
by (apiVersion, kind, namespace, name), and runs small models of the controllers the probes rely
on after every write, the way the real ones react to a watch:

- admission: Pod Security (namespace label ``pod-security.kubernetes.io/enforce``), RuntimeClass
  (overhead, scheduling, unknown class), and validating webhooks registered by components;
- kube-scheduler: node selectors, taints, extended resources from node allocatable, RuntimeClass
  overhead, DRA claims allocated from ResourceSlices (DeviceClass and request CEL selectors, count,
  allocationMode All, matchAttribute constraints), and a native gang plugin (PodGroup minCount);
  a pod nothing fits is marked Unschedulable with the scheduler's message;
- the resourceclaim controller (reservations dropped for finished pods, devices freed), the
  Deployment/ReplicaSet controllers (with the scale subresource), the garbage collector and the
  namespace controller;
- kubelets: a kwok node runs no container (pods just turn Running); a node whose runtime runs
  containers executes the two programs the probes run (the observer script of
  module_utils/runtime.py and ``uname -r``) from what the node gives the container: the GPUs of its
  claims or device-plugin allocation through CDI, and, under fault ``legacy-envvar``, every GPU its
  NVIDIA_VISIBLE_DEVICES names (shared/reference/apis.md section 8, tests/refcluster/node/README.md).

Time is virtual: ``wait_until`` runs the scheduled events (a pod finishing, a node joining, a
scrape) up to its deadline and returns what the store holds; ``FakeTime`` (patched into the
collection's modules) makes sleeps and polls advance the same clock.  Nothing here looks at a
probe's object names to decide an outcome: components react to kinds, labels and specs only.
Optional components (Karpenter, Prometheus and the DCGM exporter, a custom-metrics adapter and the
HPA controller, a Gateway controller and its data plane, model servers, KubeRay) are classes that
install themselves into a cluster; each has switches for the ways it can be broken.

Layout (the modules of tests/unit/fake_k8s/; its __init__ stays empty, as ansible-test requires):
base (constants, selectors, conditions), store (clock, discovery, store, controller loop),
api (the client verbs), admission, scheduler, gang, dra, kubelet, workloads, cluster (FakeCluster
put together), harness (FakeTime, use, run_probe, Result), refcluster (the reference cluster's
shape), install (what components install), autoscaling, metrics, hpa, serving, gateway, operators.
Tests import it as a whole: ``from tests.unit import fakecluster as fc``.
"""

from __future__ import annotations

from tests.unit.fake_k8s.autoscaling import KARPENTER_POOL, ClusterAutoscaler, Karpenter
from tests.unit.fake_k8s.base import (
    BUILTIN,
    CONTAINERD,
    DEFAULT_SCHEDULER,
    EPOCH,
    FIXTURES,
    GVISOR_KERNEL,
    HOST_KERNEL,
    KWOK_RUNTIME,
    REFCLUSTER,
    RESOURCE_API,
    Deny,
    api_error,
    cond,
    dotted,
    fields_match,
    get_cond,
    labels_match,
    merge_patch,
    qty,
)
from tests.unit.fake_k8s.cluster import FakeCluster
from tests.unit.fake_k8s.dra import CelError, cel_match
from tests.unit.fake_k8s.gang import kueue_crds_only, native_gang
from tests.unit.fake_k8s.gateway import GATEWAY_API, POOL_API, GatewayController
from tests.unit.fake_k8s.harness import FakeTime, Result, patch_http, run_probe, use
from tests.unit.fake_k8s.hpa import HpaController
from tests.unit.fake_k8s.install import ensure_namespace, in_cluster_component
from tests.unit.fake_k8s.metrics import EXAMPLE_APP, H100_READINGS, DcgmExporter, Prometheus, load_of
from tests.unit.fake_k8s.operators import KubeRay, MutatingWebhook, PolicyEngine
from tests.unit.fake_k8s.refcluster import (
    add_runtime_gpu_node,
    add_sandbox_node,
    gfd_driver_labels,
    kwok_nodes,
    reference_cluster,
    runtime_gpu_node,
    sandbox_runtime_node,
)
from tests.unit.fake_k8s.serving import AGNHOST, ModelServers, agnhost, service_pods, serving_stack

__all__ = [
    "AGNHOST",
    "BUILTIN",
    "CONTAINERD",
    "DEFAULT_SCHEDULER",
    "EPOCH",
    "EXAMPLE_APP",
    "FIXTURES",
    "GATEWAY_API",
    "GVISOR_KERNEL",
    "H100_READINGS",
    "HOST_KERNEL",
    "KARPENTER_POOL",
    "KWOK_RUNTIME",
    "POOL_API",
    "REFCLUSTER",
    "RESOURCE_API",
    "CelError",
    "ClusterAutoscaler",
    "DcgmExporter",
    "Deny",
    "FakeCluster",
    "FakeTime",
    "GatewayController",
    "HpaController",
    "Karpenter",
    "KubeRay",
    "ModelServers",
    "MutatingWebhook",
    "PolicyEngine",
    "Prometheus",
    "Result",
    "add_runtime_gpu_node",
    "add_sandbox_node",
    "agnhost",
    "api_error",
    "cel_match",
    "cond",
    "dotted",
    "ensure_namespace",
    "fields_match",
    "get_cond",
    "gfd_driver_labels",
    "in_cluster_component",
    "kueue_crds_only",
    "kwok_nodes",
    "labels_match",
    "load_of",
    "merge_patch",
    "native_gang",
    "patch_http",
    "qty",
    "reference_cluster",
    "run_probe",
    "runtime_gpu_node",
    "sandbox_runtime_node",
    "service_pods",
    "serving_stack",
    "use",
]
