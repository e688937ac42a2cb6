"""service_metrics_probe's verdicts against the fake cluster's Prometheus (PodMonitor or annotation
discovery) and the example app's ``version`` metric."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import service_metrics_probe as mod
from tests.unit import fakecluster as fc

TARGET = "the workload is a target found by Kubernetes service discovery"
UP = "the target is up"
STORED = "the workload's own metric is stored with its pod labels"
CONTROL = "workload aic-unmonitored-t1 that does not opt in"


def probe(run_module, monkeypatch, cluster, **args):
    return fc.run_probe(run_module, monkeypatch, mod, cluster, **args)


def cluster(podmonitor=True, broken=""):
    c = fc.reference_cluster(dra=False)
    fc.Prometheus(c, podmonitor=podmonitor, broken=broken)
    return c


def test_podmonitor_discovery_passes(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster())
    assert r.verdict == "pass" and r.failed() == [] and r["observations"]["discovery"] == "podmonitor"
    assert r["observations"]["target"]["scrapePool"] == "podMonitor/aic-ai-service-metrics-t1/aic-metrics-t1/0"
    assert r.negative(CONTROL)["refused"] is True and 0 < r["observations"]["first_scrape_s"] <= 17


def test_annotation_discovery_passes_without_the_operator(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(podmonitor=False))
    assert r.verdict == "pass" and r["observations"]["discovery"] == "annotations"


def test_prometheus_scraping_everything_fails_the_negative_case(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(broken="not-selective"))
    assert r.verdict == "fail" and r.reason == "negative case not proven refused: " + CONTROL
    assert r.negative(CONTROL)["outcome"] == "scraped anyway: discovery is not selective"


def test_prometheus_that_never_discovers_the_workload_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(broken="blind"))
    assert r.verdict == "fail" and r.failed() == [TARGET, UP, STORED]
    assert r.check(STORED)["detail"].startswith("no version series with pod=")


def test_no_prometheus_or_podmonitor_not_served_fails(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, fc.reference_cluster(dra=False))
    assert r.verdict == "fail" and r.reason.startswith("no monitoring system: no Prometheus Service found")
    r = probe(run_module, monkeypatch, cluster(podmonitor=False), discovery="podmonitor")
    assert r.verdict == "fail" and r.reason == "discovery podmonitor was asked for but monitoring.coreos.com/v1 PodMonitor is not served"


def test_workload_that_never_becomes_available_is_an_error(run_module, monkeypatch):
    r = probe(run_module, monkeypatch, cluster(), node_selector={"no-such": "node"})
    assert r.verdict == "error" and r.reason.startswith("timed out after 60s waiting for Deployment")
