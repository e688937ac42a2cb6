"""serving.server_arg and serving.served_model: what a model-server pod's spec says it serves."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.probes import serving


def pod(*containers):
    return {"spec": {"containers": list(containers)}}


def test_the_vllm_container_is_read_first_in_both_flag_forms():
    # llm-d's decode pod: a routing sidecar on 8000 in front of vLLM on 8200.
    p = pod(
        {"name": "routing-proxy", "args": ["--port=8000"]},
        {"name": "vllm", "command": ["vllm", "serve", "meta-llama/Llama-3.1-8B"], "args": ["--port", "8200"]},
    )
    assert serving.server_arg(p, "port") == "8200" and serving.served_model(p) == "meta-llama/Llama-3.1-8B"
    # The reference cluster's stand-in: one container, --flag=value.
    p = pod({"name": "vllm", "args": ["--served-model-name=refcluster/tiny-llm", "--port=18100"]})
    assert serving.server_arg(p, "port") == "18100" and serving.served_model(p) == "refcluster/tiny-llm"


def test_served_model_name_wins_over_the_model_and_absent_flags_are_none():
    p = pod({"name": "server", "args": ["--model", "/models/llama", "--served-model-name", "llama", "alias"]})
    assert serving.served_model(p) == "llama"
    assert serving.served_model(pod({"name": "server", "args": ["--model=/models/llama"]})) == "/models/llama"
    assert serving.server_arg(pod({"name": "vllm", "args": ["--port"]}), "port") is None  # a flag without its value
    assert serving.served_model(pod({"name": "app", "command": ["python", "app.py"]})) is None
    assert serving.server_arg({}, "port") is None
