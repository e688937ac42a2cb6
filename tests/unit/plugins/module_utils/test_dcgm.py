from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mx
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import ClusterError
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import dcgm


@pytest.mark.parametrize(("text", "sec"), [("15s", 15), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("", None), ("15", None), ("15s junk", None)])
def test_prometheus_durations(text, sec):
    assert dcgm.parse_duration(text) == sec


class Prom(mx.Prometheus):
    def __init__(self, targets, config):
        super().__init__(None, url="http://prom:9090")
        self._targets, self._config = targets, config

    def targets(self):
        if isinstance(self._targets, Exception):
            raise self._targets
        return self._targets

    def config(self):
        if isinstance(self._config, Exception):
            raise self._config
        return self._config


SERIES = [{"metric": {"job": "dcgm", "instance": "10.0.0.7:9400", "UUID": "GPU-1"}}]


def test_scrape_interval_from_the_target_then_the_job_then_the_global_configuration():
    target = {"labels": {"job": "dcgm", "instance": "10.0.0.7:9400"}, "scrapeInterval": "30s"}
    assert dcgm.scrape_interval(Prom([target], ""), SERIES) == (30, "scrapeInterval 30s of target 10.0.0.7:9400 (job dcgm)")
    cfg = "global:\n  scrape_interval: 1m\nscrape_configs:\n- job_name: dcgm\n  scrape_interval: 20s\n"
    assert dcgm.scrape_interval(Prom([dict(target, scrapeInterval="")], cfg), SERIES) == (20, "scrape_interval 20s of job dcgm in the configuration")
    assert dcgm.scrape_interval(Prom([], "global:\n  scrape_interval: 1m\n"), SERIES)[0] == 60
    sec, why = dcgm.scrape_interval(Prom(ClusterError("403", "forbidden"), ClusterError("404", "not_found")), SERIES)
    assert sec is None and why == "targets not readable: 403; configuration not readable: 404"


def test_allocation_read_from_the_container():
    seen = {"complete": True, "gpus": [{"uuid": "GPU-b", "driver_version": "580"}], "visible_env": "GPU-b"}
    assert dcgm.allocated_in_container(seen) == (["GPU-b"], "nvidia-smi in the pod's container")
    assert dcgm.allocated_in_container(dict(seen, gpus=[])) == (["GPU-b"], "NVIDIA_VISIBLE_DEVICES in the pod's container")
    assert dcgm.allocated_in_container(dict(seen, gpus=[], visible_env="0"))[0] is None  # an index, not an identity
    assert dcgm.allocated_in_container({"complete": False})[0] is None


def test_allocation_read_from_the_claim_and_the_slices():
    claim = {"metadata": {"name": "c"}, "status": {"allocation": {"devices": {"results": [{"pool": "n1", "device": "gpu-3"}]}}}}
    devices = {("n1", "gpu-3"): {"attributes": {"uuid": "GPU-3"}}}
    assert dcgm.allocated_by_claim(claim, devices) == (["GPU-3"], "DRA claim c: n1/gpu-3 (ResourceSlice uuid)")
    assert dcgm.allocated_by_claim(claim, {("n1", "gpu-3"): {"attributes": {}}}) == (None, "device gpu-3 of pool n1 publishes no uuid attribute")
    assert dcgm.allocated_by_claim(claim, {}) == (None, "device gpu-3 of pool n1 is in no ResourceSlice")


def snap(at, **gpus):
    return {"at": at, "gpus": {u: dict({"values": {}, "ts": None, "counter": None, "node": "n1"}, **e) for u, e in gpus.items()}}


def test_liveness_names_the_gpus_that_stood_still():
    a = snap(0.0, g1={"ts": 10.0, "counter": 5.0}, g2={"ts": 10.0, "counter": 5.0})
    b = snap(20.0, g1={"ts": 25.0, "counter": 9.0}, g2={"ts": 25.0, "counter": 5.0})
    (ts_name, ts_ok, _d), (name, ok, detail) = dcgm.liveness(a, b, True, "interval 15 s")
    assert (ts_name, ts_ok, name, ok) == (dcgm.LIVE_TS, True, dcgm.LIVE_READINGS, False)
    assert detail == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION stood still on 1 of 2 GPUs across two reads 20.0 s apart (interval 15 s): g2 on n1"
    # Exporter without timestamps or counter: a changed reading proves it live, none leaves it open.
    a, b = snap(0.0, g1={"values": {"U": [1.0]}}), snap(40.0, g1={"values": {"U": [2.0]}})
    assert [(n, ok) for n, ok, _d in dcgm.liveness(a, b, False, "x")] == [(dcgm.LIVE_READINGS, True)]
    assert [(n, ok) for n, ok, _d in dcgm.liveness(a, a, False, "x")] == [(dcgm.LIVE_READINGS, None)]
