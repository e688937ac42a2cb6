from __future__ import annotations

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mx

# One line of the dcgm-exporter sample in the Kubernetes documentation (device-plugins page,
# "Monitoring device plugin resources", DRA variant), with its HELP/TYPE lines.
SAMPLE = """# HELP DCGM_FI_PROF_PCIE_RX_BYTES Total number of bytes received through PCIe RX.
# TYPE DCGM_FI_PROF_PCIE_RX_BYTES counter
DCGM_FI_PROF_PCIE_RX_BYTES{gpu="0",UUID="GPU-a4f34abc-7715-3560-dcea-7238b9611a45",pci_bus_id="00000009:01:00.0",device="nvidia0",\
modelName="NVIDIA GH200 96GB HBM3",Hostname="sc-starwars-xxxx",container="ctr",dra_claim_name="single-gpu",dra_claim_namespace="gpu-test3",\
dra_device_name="gpu-0",dra_driver_name="gpu.nvidia.com",dra_pool_name="sc-starwars-xxxx",namespace="gpu-test3",pod="pod1"} 23792
up 1
weird{a="x\\"y"} 1e3 1795000000000
"""


def test_exposition_parser_reads_labels_values_and_escapes():
    s = mx.parse_exposition(SAMPLE)
    assert [x["name"] for x in s] == ["DCGM_FI_PROF_PCIE_RX_BYTES", "up", "weird"]
    assert s[0]["labels"]["pod"] == "pod1" and s[0]["labels"]["modelName"] == "NVIDIA GH200 96GB HBM3" and s[0]["value"] == 23792.0
    assert s[1]["labels"] == {} and s[2]["labels"] == {"a": 'x"y'} and s[2]["value"] == 1000.0
    assert s[0]["ts"] is None and s[2]["ts"] == 1795000000.0  # the exporter's own timestamp (ms), in seconds


def svc(ns, name, labels, ports, stype="ClusterIP"):
    return {"metadata": {"namespace": ns, "name": name, "labels": labels}, "spec": {"type": stype, "ports": ports}}


def test_prometheus_candidates_skip_adapters_operators_and_external_names():
    services = [
        svc("monitoring", "prometheus-k8s", {"app.kubernetes.io/name": "prometheus"}, [{"name": "web", "port": 9090}]),
        svc("monitoring", "prometheus-adapter", {"app.kubernetes.io/name": "prometheus"}, [{"name": "https", "port": 443}], "ExternalName"),
        svc("monitoring", "prometheus-operator", {"app.kubernetes.io/name": "prometheus"}, [{"name": "http", "port": 8080}]),
        svc("obs", "prom", {"app": "prometheus"}, [{"name": "x", "port": 9090}]),
        svc("obs", "grafana", {"app": "grafana"}, [{"name": "web", "port": 3000}]),
    ]
    assert mx.candidates(services) == [("monitoring", "prometheus-k8s", "web"), ("obs", "prom", "x")]


@pytest.mark.parametrize(
    "ref,want",
    [("monitoring/prometheus-k8s", ("monitoring", "prometheus-k8s", None)), ("m/p:web", ("m", "p", "web")), ("m/p:9090", ("m", "p", "9090"))],
)
def test_service_refs(ref, want):
    assert mx.parse_service_ref(ref) == want


@pytest.mark.parametrize("bad", ["prometheus", "m/p/q", "M/p", "m/p:"])
def test_bad_service_refs_are_refused(bad):
    with pytest.raises(ValueError, match="namespace/name"):
        mx.parse_service_ref(bad)


def test_gpu_nodes_take_the_larger_of_allocatable_and_dra_devices():
    nodes = [
        {"metadata": {"name": "a"}, "status": {"allocatable": {"nvidia.com/gpu": "8"}}},
        {"metadata": {"name": "b"}, "status": {"allocatable": {"cpu": "4"}}},
    ]
    slices = [
        {"spec": {"driver": "gpu.nvidia.com", "nodeName": "b", "devices": [{"name": "gpu-0"}, {"name": "gpu-1"}]}},
        {"spec": {"driver": "nic.example.com", "nodeName": "a", "devices": [{"name": "x"}] * 9}},
    ]
    assert mx.gpu_nodes(nodes, slices, "nvidia.com/gpu", "gpu.nvidia.com") == {"a": 8, "b": 2}


def test_node_label_is_the_one_naming_most_nodes():
    series = [{"metric": {"Hostname": "a", "node": "exporter-host"}}, {"metric": {"Hostname": "b", "node": "exporter-host"}}]
    assert mx.pick_node_label(series, {"a", "b"}) == "Hostname"
    assert mx.pick_node_label(series, {"exporter-host"}) == "node"
    assert mx.pick_node_label(series, {"zzz"}) is None
    assert mx.pick_node_label(series, {"a"}, "hostname") == "hostname"


def test_readings_outside_physical_range_are_named():
    s = {
        "DCGM_FI_DEV_GPU_UTIL": [{"metric": {"UUID": "GPU-1"}, "value": 101.0}, {"metric": {"UUID": "GPU-2"}, "value": 99.0}],
        "DCGM_FI_DEV_GPU_TEMP": [{"metric": {"UUID": "GPU-1"}, "value": -1.0}],
    }
    assert mx.out_of_range(s) == ["DCGM_FI_DEV_GPU_TEMP=-1.0 on GPU-1", "DCGM_FI_DEV_GPU_UTIL=101.0 on GPU-1"]


def test_pod_label_falls_back_to_the_exported_spelling():
    assert mx.label_of({"pod": "", "exported_pod": "p"}, mx.POD_LABELS) == "p"
    assert mx.label_of({"pod": "q", "exported_pod": "p"}, mx.POD_LABELS) == "q"


# ---- the text exposition format, read by prometheus_client's parser ----------------------------

HISTOGRAM_SUMMARY = """# HELP vllm:e2e_request_latency_seconds Histogram of end to end request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{le="0.3",model_name="m"} 2
vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 5
vllm:e2e_request_latency_seconds_sum{model_name="m"} 3.25
vllm:e2e_request_latency_seconds_count{model_name="m"} 5
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"""


def test_histogram_and_summary_samples_keep_their_suffixes_and_labels():
    s = mx.parse_exposition(HISTOGRAM_SUMMARY)
    assert [(x["name"], x["labels"].get("le") or x["labels"].get("quantile")) for x in s] == [
        ("vllm:e2e_request_latency_seconds_bucket", "0.3"),
        ("vllm:e2e_request_latency_seconds_bucket", "+Inf"),
        ("vllm:e2e_request_latency_seconds_sum", None),
        ("vllm:e2e_request_latency_seconds_count", None),
        ("rpc_duration_seconds", "0.5"),
        ("rpc_duration_seconds", "0.99"),
        ("rpc_duration_seconds_sum", None),
        ("rpc_duration_seconds_count", None),
    ]
    assert s[1]["value"] == 5.0 and s[2]["value"] == 3.25 and s[6]["value"] == 1.7560473e07
    assert s[5]["value"] != s[5]["value"]  # NaN
    assert all(isinstance(x["value"], float) and x["ts"] is None for x in s)


def test_label_values_with_escaped_quotes_backslashes_newlines_and_commas():
    text = 'm{path="C:\\\\dir\\\\x",msg="say \\"hi\\", then\\nleave",empty=""} 7\n'
    (s,) = mx.parse_exposition(text)
    assert s["labels"] == {"path": "C:\\dir\\x", "msg": 'say "hi", then\nleave', "empty": ""}
    assert s["value"] == 7.0


def test_counters_keep_the_name_the_exporter_wrote():
    # prometheus_client alone would report DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total here, and the
    # DCGM liveness check looks the counter up by the exporter's name.
    text = (
        "# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).\n"
        "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n"
        'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0",UUID="GPU-1"} 123456\n'
        "# TYPE vllm:request_success_total counter\n"
        'vllm:request_success_total{finished_reason="stop"} 9 1795000000500\n'
    )
    s = mx.parse_exposition(text)
    assert [(x["name"], x["value"], x["ts"]) for x in s] == [
        ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 123456.0, None),
        ("vllm:request_success_total", 9.0, 1795000000.5),
    ]


def test_a_page_that_is_not_the_text_format_is_one_readable_error():
    with pytest.raises(mx.ClusterError) as e:
        mx.parse_exposition("<html>\n<body>502 Bad Gateway</body>\n")
    assert e.value.kind == "invalid"
    assert e.value.message.startswith("the metrics page is not in the Prometheus text format: ")
    assert "\n" not in e.value.message


def test_an_empty_page_has_no_samples():
    assert mx.parse_exposition("") == [] and mx.parse_exposition("# HELP x y\n\n") == []


def test_without_prometheus_client_the_message_names_the_library(monkeypatch):
    monkeypatch.setattr(mx, "HAS_PROMETHEUS_CLIENT", False)
    with pytest.raises(mx.ClusterError) as e:
        mx.parse_exposition("up 1\n")
    assert (e.value.kind, e.value.message) == (
        "config",
        "the Python library 'prometheus_client' is required to read a metrics page (pip install prometheus_client)",
    )
