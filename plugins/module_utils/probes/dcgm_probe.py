# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe of dcgm_query (requirement accelerator_metrics): the DCGM fields of every GPU read
through Prometheus or the exporter, fresh and live across two reads, and a GPU pod's own GPU
attributed to it (a CPU pod's to none).  The reading, checks and pods are in module_utils/dcgm.py;
the module plugins/modules/dcgm_query.py keeps the documentation and the argument spec.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mx
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import workloads as wl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client, ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe, client_or_fail
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult, Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dcgm, dra

ATTR_LABELS = "a GPU pod's GPU carries its pod, namespace and container labels"
ATTR_UUID = "the series naming the GPU pod carry the GPU allocated to it"


class DcgmProbe(Probe):
    """The module (plugins/modules/dcgm_query.py) subclasses it with its requirement."""

    def __init__(self, extra_spec: dict[str, Any]) -> None:
        super().__init__(extra_spec)
        p = self.params
        bad = mx.prometheus_param_error(p)
        if not bad and p["exporter_service"]:
            try:
                mx.parse_service_ref(p["exporter_service"])
            except ValueError as exc:
                bad = str(exc).replace("prometheus_service", "exporter_service")
        if bad:
            self.module.fail_json(msg=bad)
        for opt in ("max_age_seconds", "scrape_interval_seconds"):
            if p[opt] < 1:
                self.module.fail_json(msg="%s must be at least 1, got %d" % (opt, p[opt]))
        if not p["fields"]:
            self.module.fail_json(msg="fields must name at least one DCGM field")
        self.mutates = bool(p["attribution"]) and not p["query"]

    def run(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:
        p = self.params
        src, why, obs = dcgm.pick_source(client, p)
        result.observations.update(obs)
        if src is None:
            result.decide(Verdict.FAIL, why)
            return
        fields = list(dict.fromkeys(p["fields"]))
        slices = client.list(dra.API, "ResourceSlice")["items"] if client.served(dra.API, "ResourceSlice") else []
        nodes = client.list("v1", "Node")["items"]
        expected = mx.gpu_nodes(nodes, slices, p["resource_name"], p["driver"])
        result.observations["gpus_expected"] = expected
        if not expected:
            result.decide(Verdict.SKIP, "no node advertises %s or devices of DRA driver %s: no accelerator to report on" % (p["resource_name"], p["driver"]))
            return
        first = dcgm.snapshot(src, fields)
        by_field = {f: src.query(f) for f in fields}
        result.step("query %s from %s" % (", ".join(fields), src.where), ", ".join("%s: %d series" % (f, len(s)) for f, s in by_field.items()))
        label = mx.pick_node_label(by_field[fields[0]], set(expected), p["node_label"])
        result.observations["node_label"] = label
        result.observations["gpus_reporting"] = mx.gpus_reporting(by_field[fields[0]], label, expected)
        for name, ok, detail in dcgm.exposition_checks(by_field, expected, label):
            result.check(name, ok, detail)
        if isinstance(src, mx.Prometheus):
            ok, detail, obs = dcgm.freshness(src, fields[0], p["max_age_seconds"])
            result.observations.update(obs)
            result.check("samples are fresh", ok, detail)
        interval, interval_from = dcgm.read_interval(src, by_field[fields[0]], p["scrape_interval_seconds"])
        if p["attribution"]:
            self.attribution(client, ctx, result, src, fields[0], label, nodes, slices)
        else:
            result.negative_case("a CPU-only pod must not be attributed any GPU", None, "not attempted: attribution is false")
        # The second read comes at least one interval (and a margin for the scrape itself) after
        # the first; the attribution pods' wait counts toward it.
        wait = interval + max(2.0, interval / 4.0)
        time.sleep(max(0.0, wait - (time.monotonic() - first["at"])))
        second = dcgm.snapshot(src, fields)
        # A GPU whose node left (scaled down meanwhile, or just before the first read while its last
        # samples were not yet stale) has no sample left to advance: it is named, not judged.  Only
        # nodes seen at the start, or that the node lifecycle controller recorded as removed, count:
        # GPUs on a node the cluster never had are judged.
        present = {n["metadata"]["name"] for n in client.list("v1", "Node")["items"] if not n["metadata"].get("deletionTimestamp")}
        gone = {e["node"] for e in first["gpus"].values() if e["node"] and e["node"] not in present}
        removed = dcgm.removed_nodes(client, gone - set(expected))
        left = sorted(u for u, e in first["gpus"].items() if e["node"] in gone and (e["node"] in expected or e["node"] in removed))
        if left:
            result.observations["gpus_whose_node_left"] = {u: first["gpus"][u]["node"] for u in left}
            first = dict(first, gpus={u: e for u, e in first["gpus"].items() if u not in left})
        result.observations["liveness"] = dcgm.liveness_observations(first, second, interval, interval_from)
        for name, ok, detail in dcgm.liveness(first, second, isinstance(src, mx.Prometheus), "interval %g s: %s" % (interval, interval_from)):
            result.check(name, ok, detail)
        result.step("read every GPU's readings again after %.1f s" % (second["at"] - first["at"]), "%d GPUs" % len(second["gpus"]))
        result.decide_from_checks(
            "%d GPUs on %d nodes report %s with UUID and model labels, live across two reads %.0f s apart%s"
            % (
                sum(expected.values()),
                len(expected),
                ", ".join(fields),
                second["at"] - first["at"],
                "; a GPU pod's own GPU carries its pod, namespace and container, a CPU pod's name appears on no GPU" if p["attribution"] else "",
            )
        )

    def attribution(
        self,
        client: Client,
        ctx: RunContext,
        result: ProbeResult,
        src: Any,
        field: str,
        label: str | None,
        nodes: list[dict[str, Any]],
        slices: list[dict[str, Any]],
    ) -> None:
        p = self.params
        ns = ctx.ensure_namespace(p["namespace"])
        holder, control = ctx.name("gpu"), ctx.name("cpu")
        via = dcgm.attribution_path(client, slices, p)
        for obj in dcgm.gpu_pod(holder, ns, via, nodes, p):
            ctx.create(obj)
        ctx.create(wl.pod(control, ns, node_selector=p["node_selector"], tolerations=p["tolerations"]))
        pod = wl.wait_placed(client, holder, ns, p["timeout"])
        other = wl.wait_placed(client, control, ns, p["timeout"])
        if not wl.is_bound(pod) or not wl.is_bound(other):
            stuck = pod if not wl.is_bound(pod) else other
            why = "pod %s could not be placed: %s" % (stuck["metadata"]["name"], wl.unschedulable_message(stuck))
            result.check(ATTR_LABELS, None, why)
            result.check(ATTR_UUID, None, why)
            return
        node = pod["spec"]["nodeName"]
        allocated, how, kind = dcgm.allocated(client, via, holder, ns, node, nodes, p)
        # Both pods are bound before the first look, so any scrape that shows the GPU pod also
        # reflects the CPU pod: every look checks both.
        wrong: list[dict[str, Any]] = []
        t0 = time.monotonic()

        def look() -> list[dict[str, Any]]:
            series = src.query(field)
            wrong.extend(dcgm.naming(series, control, ns))
            return dcgm.naming(series, holder, ns)

        seen, waited = mx.poll(look, p["timeout"])
        uuids = sorted({s["metric"].get("UUID") for s in seen})
        on = sorted({s["metric"].get(label or "", "") for s in seen})
        containers = sorted({mx.label_of(s["metric"], mx.CONTAINER_LABELS) for s in seen})
        result.observations["attribution"] = {
            "pod": "%s/%s" % (ns, holder),
            "node": node,
            "via": via,
            "gpus": uuids,
            "allocated": allocated,
            "allocated_from": how,
            "seen_after_s": waited if seen else None,
        }
        result.check(
            ATTR_LABELS,
            len(uuids) == 1 and on == [node] and containers == ["main"],
            ("GPUs %s on %s, container %s, after %.1f s" % (uuids, on, containers, waited))
            if seen
            else "no %s series names pod %s/%s after %d s" % (field, ns, holder, p["timeout"]),
        )
        if allocated is None or not seen:
            result.check(ATTR_UUID, None, how if allocated is None else "no series names the pod", kind=kind)
        else:
            result.check(ATTR_UUID, uuids == allocated, "series name %s; the pod was allocated %s (%s)" % (uuids, allocated, how), kind=kind)
        result.step("create pod %s with 1 GPU through %s (bound to %s)" % (holder, via, node), "series for it: %s" % (uuids or "none"), bool(seen))
        # The CPU pod is watched, from the same first look, as long as the GPU pod took to show up
        # (at least one refresh).
        rest = max(waited, 5.0) - (time.monotonic() - t0)
        if not wrong and rest > 0:
            wrong = mx.poll(lambda: dcgm.naming(src.query(field), control, ns), rest)[0]
        result.negative_case(
            "a CPU-only pod (%s) must not be attributed any GPU" % control,
            not wrong,
            "no GPU series names it in %.0f s" % max(waited, 5.0) if not wrong else "named on %s" % sorted({s["metric"].get("UUID") for s in wrong}),
        )


def query_mode(module: AnsibleModule) -> None:
    """The deprecated query mode (option query): run one PromQL query, exit with its samples."""
    p = module.params
    client = client_or_fail(module)
    try:
        prom, why = mx.discover(client, p)
        if prom is None:
            module.fail_json(msg=why)
        module.exit_json(changed=False, series=prom.query(p["query"]), prometheus=prom.where)
    except ClusterError as exc:
        module.fail_json(msg=exc.message)
