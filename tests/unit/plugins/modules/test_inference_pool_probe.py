"""inference_pool_probe's input handling (the behaviour is tested on the reference cluster)."""

from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.result import validate_result_dict
from ansible_collections.ai_conformance.kubernetes.plugins.modules import inference_pool_probe as mod


def test_declared_none_is_not_applicable_with_the_justification(run_module, offline):
    res = run_module(mod.main, {"declared": "none", "justification": "no endpoint picker; plain Services only", "run_id": "u1"})
    r = res.result["result"]
    assert (r["verdict"], r["reason"]) == ("not_applicable", "no endpoint picker; plain Services only")
    assert validate_result_dict(r) == []


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        ({}, "pool, gateway, model"),
        ({"pool": "inference/p", "model": "m"}, "gateway"),
        ({"gateway": "inference/gw", "pool": "inference/p"}, "model"),
    ],
)
def test_missing_configuration_is_an_error_verdict_that_names_it(run_module, offline, args, missing):
    res = run_module(mod.main, dict(args, run_id="u2"))
    assert not res.failed
    assert res.result["verdict"] == "error"
    assert res.result["reason"] == "advanced_inference_ingress is not configured: set %s (or declare none)" % missing


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"pool": "just-a-name"}, "pool must be namespace/name, got 'just-a-name'"),
        ({"gateway": "a/b/c"}, "gateway must be namespace/name, got 'a/b/c'"),
        ({"gateway_url": "https://gw:443"}, "gateway_url must be an http:// URL with a host, got 'https://gw:443'"),
        ({"choice_requests": 0}, "requests, choice_requests, load_requests, load_max_tokens, max_tokens and prompt_words must be at least 1"),
        ({"min_idle_share": 0.5}, "min_idle_share must be above 0.5 and at most 1, got 0.5"),
        ({"path": "v1/completions"}, "path must start with /, got 'v1/completions'"),
    ],
)
def test_malformed_values_fail_in_one_line_before_touching_the_cluster(run_module, offline, args, msg):
    res = run_module(mod.main, dict({"pool": "inference/p", "gateway": "inference/gw", "model": "m"}, **args))
    assert res.failed and res.result["msg"] == msg


def test_check_mode_skips_because_the_probe_creates_a_route_and_sends_load(run_module, offline):
    res = run_module(mod.main, {"pool": "inference/p", "gateway": "inference/gw", "model": "m"}, check_mode=True)
    assert res.result["verdict"] == "skip" and res.result["reason"].startswith("check mode")
