#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: service_metrics_probe
short_description: Prove the monitoring system discovers and scrapes workload metrics (requirement ai_service_metrics)
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Deploys a small workload that serves Prometheus exposition format and opts in to monitoring
    the way the cluster's stack expects: a C(PodMonitor) where C(monitoring.coreos.com/v1) is
    served, else the C(prometheus.io/scrape) pod annotations. Nobody edits a target list."
  - "Pass when Prometheus shows the workload's pod as an active target it found through
    Kubernetes service discovery, with C(up) 1, and the workload's own metric (O(metric)) is
    stored with the pod's C(namespace) and C(pod) labels. The time from the pod being Ready to the
    first sample is measured."
  - "Negative case: an identical workload that does not opt in must not become a target during
    the same wait plus O(observe_seconds), proving discovery follows the declaration and is not a
    static scrape of everything."
extends_documentation_fragment:
  - ai_conformance.kubernetes.auth
  - ai_conformance.kubernetes.auth.PROBE
  - ai_conformance.kubernetes.prometheus
options:
  discovery:
    description: How the workload opts in. C(auto) uses a PodMonitor when the Prometheus operator's API is served, else annotations.
    type: str
    choices: [auto, podmonitor, annotations]
    default: auto
  monitor_labels:
    description: Labels the PodMonitor needs to be selected by the Prometheus (for example C(release=kube-prometheus-stack)).
    type: dict
    default: {}
  image:
    description: Image of the workload; it must serve O(metric) on O(port) at O(metrics_path).
    type: str
    default: quay.io/brancz/prometheus-example-app:v0.5.0
  port:
    description: Container port of the metrics endpoint. The negative-case workload uses O(port) + 1.
    type: int
    default: 8080
  metrics_path:
    description: Path of the metrics endpoint.
    type: str
    default: /metrics
  metric:
    description: A metric the workload always exposes.
    type: str
    default: version
  host_network:
    description: Run the workload in the host network namespace (the reference cluster's local processes).
    type: bool
    default: false
  node_selector:
    description: Node labels for the workload pods.
    type: dict
  tolerations:
    description: Tolerations for the workload pods.
    type: list
    elements: dict
  observe_seconds:
    description: Extra time the negative-case workload is watched after the positive one was scraped.
    type: int
    default: 15
requirements:
  - kubernetes >= 24.2.0
"""

EXAMPLES = r"""
- name: Prove kube-prometheus-stack discovers workloads through PodMonitors
  ai_conformance.kubernetes.service_metrics_probe:
    prometheus_service: monitoring/prometheus-operated
    monitor_labels: {release: kube-prometheus-stack}
  register: service_metrics
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
  sample: Prometheus discovered the workload through pod annotations and scraped it 6.2 s after it was Ready
result:
  description: The probe result contract (docs/design.md).
  returned: always
  type: dict
  contains:
    requirement:
      description: Requirement id.
      type: str
      returned: always
      sample: ai_service_metrics
    verdict:
      description: Same as the top-level verdict.
      type: str
      returned: always
      sample: pass
    reason:
      description: Same as the top-level reason.
      type: str
      returned: always
      sample: Prometheus discovered and scraped the workload
    observations:
      description: Prometheus used, discovery mechanism, the scraped target's labels, time to first scrape.
      type: dict
      returned: always
      sample: {discovery: annotations, first_scrape_s: 6.2}
    checks:
      description: Each sub-check with ok true, false, or null when undecidable, and whether it is decided from the API or needs a runtime.
      type: list
      elements: dict
      returned: always
      sample: [{name: the workload is a discovered target, ok: true, detail: "up=1", kind: api}]
    steps:
      description: Replayable actions and what came out.
      type: list
      elements: dict
      returned: always
      sample: [{action: create Deployment aic-metrics-r1, result: scraped after 6.2 s, ok: true}]
    negative:
      description: The forbidden cases attempted and whether each was refused.
      type: list
      elements: dict
      returned: always
      sample: [{case: a workload that did not opt in, refused: true, outcome: never a target}]
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


from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mx
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import Verdict

MONITORING_API = "monitoring.coreos.com/v1"
EXTRA = dict(mx.PROMETHEUS_ARGSPEC)
EXTRA.update(
    {
        "discovery": {"type": "str", "default": "auto", "choices": ["auto", "podmonitor", "annotations"]},
        "monitor_labels": {"type": "dict", "default": {}},
        "image": {"type": "str", "default": "quay.io/brancz/prometheus-example-app:v0.5.0"},
        "port": {"type": "int", "default": 8080},
        "metrics_path": {"type": "str", "default": "/metrics"},
        "metric": {"type": "str", "default": "version"},
        "host_network": {"type": "bool", "default": False},
        "node_selector": {"type": "dict"},
        "tolerations": {"type": "list", "elements": "dict"},
        "observe_seconds": {"type": "int", "default": 15},
    }
)


class ServiceMetricsProbe(Probe):
    requirement = "ai_service_metrics"

    def __init__(self, extra_spec):
        super().__init__(extra_spec)
        p = self.params
        if not 1 <= p["port"] <= 65534:
            self.module.fail_json(msg="port must be between 1 and 65534, got %d" % p["port"])
        bad = mx.prometheus_param_error(p)
        if bad:
            self.module.fail_json(msg=bad)
        if not p["metrics_path"].startswith("/"):
            self.module.fail_json(msg="metrics_path must start with /, got %r" % p["metrics_path"])

    def deployment(self, name, ns, port, opt_in, mode):
        p = self.params
        labels = {"app.kubernetes.io/name": name}
        if opt_in and mode == "podmonitor":
            labels["ai-conformance.io/scrape"] = "true"
        annotations = (
            {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": p["metrics_path"]}
            if opt_in and mode == "annotations"
            else {}
        )
        pod = wl.pod(
            name,
            ns,
            image=p["image"],
            labels=labels,
            annotations=annotations,
            restart_policy="Always",
            node_selector=p["node_selector"],
            tolerations=p["tolerations"],
        )
        c = pod["spec"]["containers"][0]
        c["ports"] = [{"name": "metrics", "containerPort": port}]
        if p["image"].startswith("quay.io/brancz/prometheus-example-app"):
            c["args"] = ["--bind=:%d" % port]
        if p["host_network"]:
            pod["spec"]["hostNetwork"] = True
        return wl.deployment(pod)

    def plan(self, run_id):
        p = self.params
        out = super().plan(run_id)
        how = {"auto": "a PodMonitor where the API is served, else scrape annotations", "podmonitor": "a PodMonitor", "annotations": "scrape annotations"}
        out["creates"] = [
            "Deployment metrics (image %s, port %d) that opts in by %s" % (p["image"], p["port"], how[p["discovery"]]),
            "Deployment unmonitored that does not opt in",
        ]
        out["observes"] = ["Prometheus discovering the workload and storing its metric %s with its pod labels" % p["metric"]]
        out["negative"] = ["the workload that does not opt in is never scraped (watched %ds more)" % p["observe_seconds"]]
        return out

    def run(self, client, ctx, result):
        p = self.params
        prom, why = mx.discover(client, p)
        if prom is None:
            result.decide(Verdict.FAIL, "no monitoring system: %s" % why)
            return
        result.observations["prometheus"] = "%s (%s)" % (prom.where, why)
        prom.query("vector(1)")  # reachable and answering, or a readable error
        mode = p["discovery"]
        if mode == "auto":
            mode = "podmonitor" if client.served(MONITORING_API, "PodMonitor") else "annotations"
        elif mode == "podmonitor" and not client.served(MONITORING_API, "PodMonitor"):
            result.decide(Verdict.FAIL, "discovery podmonitor was asked for but %s PodMonitor is not served" % MONITORING_API)
            return
        result.observations["discovery"] = mode
        ns = ctx.ensure_namespace(p["namespace"])
        name, control = ctx.name("metrics"), ctx.name("unmonitored")
        ctx.create(self.deployment(name, ns, p["port"], True, mode))
        ctx.create(self.deployment(control, ns, p["port"] + 1, False, mode))
        if mode == "podmonitor":
            ctx.create(
                {
                    "apiVersion": MONITORING_API,
                    "kind": "PodMonitor",
                    "metadata": {"name": name, "namespace": ns, "labels": dict(p["monitor_labels"])},
                    "spec": {
                        "selector": {"matchLabels": {"ai-conformance.io/scrape": "true"}},
                        "podMetricsEndpoints": [{"port": "metrics", "path": p["metrics_path"], "interval": "5s"}],
                    },
                }
            )
        ready = {}
        for d in (name, control):
            ok, dep, ready[d] = wl.wait_available(client, d, ns, p["timeout"])
            if not ok:
                raise ClusterError("timed out after %ds waiting for Deployment %s/%s to have an available pod" % (p["timeout"], ns, d), "timeout")
            if not ready[d]:
                result.decide(Verdict.ERROR, "Deployment %s is available but lists no bound pod (%s)" % (d, (dep or {}).get("status")))
                return
        pod = ready[name][0]["metadata"]["name"]
        other = ready[control][0]["metadata"]["name"]
        result.step("create Deployment %s (opts in by %s) and %s (does not)" % (name, mode, control), "pods %s, %s Ready" % (pod, other))

        def mine(q, who):
            return [s for s in prom.query(q) if mx.label_of(s["metric"], ("pod",)) == who and mx.label_of(s["metric"], ("namespace",)) == ns]

        def scraped():
            up = mine('up{namespace="%s"}' % ns, pod)
            samples = mine('%s{namespace="%s"}' % (p["metric"], ns), pod)
            return (up, samples) if up and samples else None

        found, first = mx.poll(scraped, p["timeout"])
        up, samples = found or (mine('up{namespace="%s"}' % ns, pod), mine('%s{namespace="%s"}' % (p["metric"], ns), pod))
        result.observations["first_scrape_s"] = first if samples else None
        target = [t for t in prom.targets() if (t.get("discoveredLabels") or {}).get("__meta_kubernetes_pod_name") == pod]
        result.observations["target"] = (
            {
                "scrapeUrl": target[0].get("scrapeUrl"),
                "health": target[0].get("health"),
                "labels": target[0].get("labels"),
                "scrapePool": target[0].get("scrapePool"),
            }
            if target
            else None
        )
        result.check(
            "the workload is a target found by Kubernetes service discovery",
            bool(target),
            "scrape pool %s, %s" % (target[0].get("scrapePool"), target[0].get("scrapeUrl"))
            if target
            else "no active target was discovered for pod %s/%s" % (ns, pod),
        )
        result.check(
            "the target is up",
            bool(up) and all(s["value"] == 1 for s in up),
            "up=%s" % [s["value"] for s in up] if up else "no up series for pod %s/%s after %.0f s" % (ns, pod, first),
        )
        result.check(
            "the workload's own metric is stored with its pod labels",
            bool(samples),
            "%d series of %s with pod=%s namespace=%s, %.1f s after Ready" % (len(samples), p["metric"], pod, ns, first)
            if samples
            else "no %s series with pod=%s namespace=%s after %d s" % (p["metric"], pod, ns, p["timeout"]),
        )
        if samples:
            result.step("query %s{namespace=%s}" % (p["metric"], ns), "%d series, e.g. %s" % (len(samples), samples[0]["metric"]))
        # The unmonitored pod has been Ready as long as the monitored one, so it has already gone
        # unscraped for first_scrape_s; watch it observe_seconds more (a hit ends the wait early).
        scraped_anyway = mx.poll(lambda: mine('up{namespace="%s"}' % ns, other), p["observe_seconds"])[0]
        held = not scraped_anyway
        result.negative_case("workload %s that does not opt in" % control, held, "never a target" if held else "scraped anyway: discovery is not selective")
        result.decide_from_checks(
            "Prometheus discovered the workload through %s and stored its metric %s %.1f s after it was Ready" % (mode, p["metric"], first)
        )


def main():
    ServiceMetricsProbe(EXTRA).main()


if __name__ == "__main__":
    main()
