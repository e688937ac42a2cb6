"""disaggregated_inference_probe's input handling (the behaviour is tested on the reference cluster)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import disaggregated_inference_probe as mod


def test_declared_none_is_not_applicable_with_the_justification(run_module, offline):
    res = run_module(mod.main, {"declared": "none", "justification": "aggregated serving only, models fit one GPU", "run_id": "u1"})
    r = res.result["result"]
    assert (r["verdict"], r["reason"]) == ("not_applicable", "aggregated serving only, models fit one GPU")
    assert validate_result_dict(r) == []


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        ({}, "serving_namespace, model, gateway or gateway_url"),
        ({"serving_namespace": "llm-d", "model": "m"}, "gateway or gateway_url"),
        ({"gateway": "llm-d/gw", "model": "m"}, "serving_namespace"),
    ],
)
def test_missing_configuration_is_an_error_verdict_that_names_it(run_module, offline, args, missing):
    res = run_module(mod.main, dict(args, run_id="u2"))
    assert not res.failed
    assert res.result["verdict"] == "error"
    assert res.result["reason"] == "disaggregated_inference is not configured: set %s (or declare none)" % missing


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"gateway": "just-a-name"}, "gateway must be namespace/name, got 'just-a-name'"),
        ({"gateway_url": "https://gw:443"}, "gateway_url must be an http:// URL with a host, got 'https://gw:443'"),
        ({"gateway": "a/b", "requests": 0}, "requests, prompt_words and max_tokens must be at least 1"),
        ({"gateway": "a/b", "prefill_selector": {}}, "prefill_selector and decode_selector must not be empty"),
    ],
)
def test_malformed_values_fail_in_one_line_before_touching_the_cluster(run_module, offline, args, msg):
    res = run_module(mod.main, dict(args, serving_namespace="llm-d", model="m"))
    assert res.failed and res.result["msg"] == msg


def test_check_mode_skips_because_the_probe_scales_workloads(run_module, offline):
    res = run_module(mod.main, {"serving_namespace": "llm-d", "model": "m", "gateway": "a/b"}, check_mode=True)
    assert res.result["verdict"] == "skip" and res.result["reason"].startswith("check mode")
