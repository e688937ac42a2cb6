"""roles/component, the install every deploy role shares: what it would do in check mode, what bad
input gives, and that the deploy roles hand their own variables to it.

The playbook tests run ansible-playbook --check from the checkout against a kubeconfig whose server
is a closed port.  helm is a stand-in CLI that answers the reads kubernetes.core.helm makes in check
mode (version, list, show chart), logs every call with the kubeconfig and context it was given, and
fails any other command: a write in check mode fails the run."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.conftest import closed_port, kubeconfig_text, playbook_env

REPO = Path(__file__).resolve().parents[2]
DEPLOY_ROLES = [
    "gpu_operator",
    "dra_driver",
    "kai_scheduler",
    "volcano",
    "kueue",
    "monitoring",
    "prometheus_adapter",
    "gateway",
    "kuberay",
    "cluster_autoscaler",
    "inference_extension",
    "disaggregated_serving",
]
READS = {"version", "list", "show"}
FAKE_HELM = """#!%s
import json, os, sys
args = sys.argv[1:]
verb = next((a for a in args if not a.startswith("-")), "")
kubeconfig = open(os.environ["KUBECONFIG"]).read() if os.environ.get("KUBECONFIG") else None
with open(%r, "a") as log:
    log.write(json.dumps({"args": args, "kubeconfig": kubeconfig, "context": os.environ.get("HELM_KUBECONTEXT"),
                          "namespace": os.environ.get("HELM_NAMESPACE")}) + "\\n")
if verb == "version":
    print('version.BuildInfo{Version:"v3.17.0", GitCommit:"0", GitTreeState:"clean", GoVersion:"go1.23"}')
elif verb == "list":
    print("[]")
elif verb == "show":
    print("apiVersion: v2\\nname: stub\\nversion: 1.0.0")
else:
    sys.exit("fake helm: %%s is not a read" %% verb)
"""


def spec(role):
    return yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


class Run:
    """One ansible-playbook --check run of a throwaway playbook: its task results and helm's calls."""

    def __init__(self, tmp_path, tasks, **extra):
        self.server = "https://127.0.0.1:%d" % closed_port()
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(kubeconfig_text(self.server, "ctx"))
        log = tmp_path / "helm.log"
        helm = tmp_path / "helm"
        helm.write_text(FAKE_HELM % (sys.executable, str(log)))
        helm.chmod(0o755)
        play = tmp_path / "play.yml"
        play.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]))
        args = dict(extra, ansible_python_interpreter=sys.executable, fake_helm=str(helm), fake_kubeconfig=str(kubeconfig))
        cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(play), "-i", "localhost,", "--check", "-e", json.dumps(args)]
        env = playbook_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=300, check=False)
        assert res.stdout.startswith("{"), res.stderr[-3000:]
        self.out = json.loads(res.stdout)
        self.results = [(t["task"]["name"], t["hosts"]["localhost"]) for p in self.out["plays"] for t in p["tasks"] if "localhost" in t["hosts"]]
        self.helm = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def result(self, name):
        return next(r for n, r in self.results if n.endswith(name))

    def failures(self):
        return [(n, r) for n, r in self.results if r.get("failed")]

    def facts(self):
        found = {}
        for _n, r in self.results:
            found.update(r.get("ansible_facts", {}))
        return found


def verb(call):
    return next(a for a in call["args"] if not a.startswith("-"))


COMPONENT = {
    "component_name": "demo",
    "component_namespace": "demo-ns",
    "component_release": "demo-rel",
    "component_chart_ref": "demo-repo/demo",
    "component_chart_repo_url": "https://charts.example.test",
    "component_chart_version": "1.2.3",
    "component_values": {"image": {"registry": "mirror.example.test"}, "replicas": 2},
    "component_helm_binary": "{{ fake_helm }}",
    "component_kubeconfig": "{{ fake_kubeconfig }}",
    "component_context": "ctx",
    "component_waits": [
        {"label": "Wait for the demo CRD", "api_version": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "name": "demos.example.test"}
    ],
}


def include(role, variables):
    return {"name": "Run the role", "ansible.builtin.include_role": {"name": "ai_conformance.kubernetes.%s" % role}, "vars": variables}


def test_check_mode_reads_the_release_and_reports_the_install_it_would_make(tmp_path):
    run = Run(tmp_path, [include("component", COMPONENT)])
    assert run.failures() == []
    helm = run.result("Install, update or remove the Helm release")
    assert helm["changed"] is True
    would = shlex.split(helm["command"])
    assert " upgrade -i " in helm["command"]
    assert {"demo-rel", "demo-repo/demo", "--create-namespace", "--version=1.2.3", "--repo=https://charts.example.test"} <= set(would)
    # helm was only asked to read, with the role's kubeconfig and context.
    assert run.helm and {verb(c) for c in run.helm} <= READS
    assert all(run.server in c["kubeconfig"] and (c["context"], c["namespace"]) == ("ctx", "demo-ns") for c in run.helm)
    # No wait in check mode; the record says what would be installed.
    assert run.result("Wait for the component's resources")["results"][0]["skipped"] is True
    facts = run.facts()
    assert facts["component_installed"] == {
        "release": "demo-rel",
        "namespace": "demo-ns",
        "chart": "demo-repo/demo",
        "version": "1.2.3",
        "state": "present",
        "values_digest": hashlib.sha256(json.dumps(COMPONENT["component_values"], sort_keys=True).encode()).hexdigest(),
    }
    assert facts["component_waited"] == [[]]


def test_a_local_chart_path_replaces_the_repository_and_its_version(tmp_path):
    chart = REPO / "tests/fixtures/charts/gpu-operator"
    run = Run(tmp_path, [include("component", dict(COMPONENT, component_chart_path=str(chart)))])
    assert run.failures() == []
    would = shlex.split(run.result("Install, update or remove the Helm release")["command"])
    assert str(chart) in would and "demo-repo/demo" not in would
    assert not any(w.startswith(("--version", "--repo")) for w in would)
    assert run.facts()["component_installed"]["chart"] == str(chart)


ARGUMENT_ERRORS = [
    ({"component_state": "maybe"}, "value of component_state must be one of: present, absent, got: maybe"),
    ({"component_wait_timeout": "soon"}, "argument 'component_wait_timeout' is of type str and we were unable to convert to int"),
    ({"component_waits": [{"api_version": "v1", "kind": "ConfigMap"}]}, "missing required arguments: label found in component_waits"),
    ({"component_webhooks": [{"kind": "Webhook", "name": "x"}]}, "value of kind must be one of: MutatingWebhookConfiguration, ValidatingWebhookConfiguration"),
]
VALUE_ERRORS = [
    ({"component_namespace": "Demo_NS"}, "demo: namespace and release must be DNS labels (namespace Demo_NS, release demo-rel)"),
    ({"component_release": "-rel"}, "demo: namespace and release must be DNS labels (namespace demo-ns, release -rel)"),
    ({"component_chart_path": "/no/such/chart"}, "demo: the chart path must exist when set (/no/such/chart)"),
    (
        {"component_crds_src": "http://crds.example.test/crds.yaml"},
        "demo: the CRD source must be an https URL or an existing file (http://crds.example.test/crds.yaml)",
    ),
    ({"component_manifests": ["/no/such.yaml"]}, "demo: every manifest must exist (missing: /no/such.yaml)"),
    ({"component_wait_timeout": 0}, "demo: the wait timeout must be at least 1 second (0)"),
    (
        {"component_namespace": "Demo_NS", "component_chart_path": "/no/such/chart"},
        "demo: namespace and release must be DNS labels (namespace Demo_NS, release demo-rel); the chart path must exist when set (/no/such/chart)",
    ),
]


def test_bad_input_is_one_line_naming_it_before_helm_runs(tmp_path):
    """One run, one include per bad input, each in a block whose rescue lets the next one run."""
    cases = ARGUMENT_ERRORS + VALUE_ERRORS
    rescue = [{"name": "Go on", "ansible.builtin.meta": "noop"}]
    run = Run(tmp_path, [{"block": [include("component", dict(COMPONENT, **bad))], "rescue": rescue} for bad, _line in cases])
    failed = run.failures()
    assert len(failed) == len(cases)
    for (name, result), (bad, line) in zip(failed[: len(ARGUMENT_ERRORS)], ARGUMENT_ERRORS):
        assert "Validating arguments" in name, bad
        assert len(result["argument_errors"]) == 1 and result["argument_errors"][0].startswith(line), bad
    for (name, result), (bad, line) in zip(failed[len(ARGUMENT_ERRORS) :], VALUE_ERRORS):
        assert name.endswith("Stop on bad input, one line naming the bad values"), bad
        assert result["msg"] == line
    assert run.helm == []


# -- the deploy roles -----------------------------------------------------------------------------
def component_call(role):
    tasks = yaml.safe_load((REPO / "roles" / role / "tasks" / "main.yml").read_text())
    return [t for t in tasks if t.get("ansible.builtin.include_role", {}).get("name") == "ai_conformance.kubernetes.component"]


@pytest.mark.parametrize("role", DEPLOY_ROLES)
def test_each_deploy_role_installs_through_the_component_role_with_known_arguments(role):
    [call] = component_call(role)
    assert call["vars"]["component_name"] == role
    assert set(call["vars"]) <= set(spec("component"))
    # Its own variables reach the shared role: state, kubeconfig, context, helm, namespace, wait.
    for own in ("state", "kubeconfig", "context", "helm_binary", "namespace", "wait", "wait_timeout"):
        assert call["vars"]["component_%s" % own] == "{{ %s_%s }}" % (role, own)
    text = (REPO / "roles" / role / "tasks" / "main.yml").read_text()
    assert "kubernetes.core.helm:" not in text  # the release is the shared role's


# Deploy roles whose install in check mode touches only helm (their other steps apply objects,
# which needs the API server), with what each would install.
CHECK_MODE = {
    "gpu_operator": ("gpu-operator", "nvidia/gpu-operator", "v26.7.0", {}),
    "dra_driver": ("dra-driver-nvidia-gpu", "oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu", "0.4.0", {}),
    "kai_scheduler": ("kai-scheduler", "oci://ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler", "v0.17.0", {"kai_scheduler_create_queues": False}),
    "volcano": ("volcano", "volcano-sh/volcano", "1.14.1", {}),
    "kueue": ("kueue", "oci://registry.k8s.io/kueue/charts/kueue", "0.19.2", {}),
    "monitoring": ("kube-prometheus-stack", "prometheus-community/kube-prometheus-stack", "67.8.0", {}),
    "prometheus_adapter": ("prometheus-adapter", "prometheus-community/prometheus-adapter", "4.11.0", {}),
    "gateway": ("envoy-gateway", "oci://docker.io/envoyproxy/gateway-helm", "v1.6.0", {"gateway_api_crds_src": "", "gateway_create_class": False}),
    "kuberay": ("kuberay-operator", "kuberay/kuberay-operator", "1.6.2", {}),
    "cluster_autoscaler": ("karpenter", "oci://public.ecr.aws/karpenter/karpenter", "1.14.3", {}),
}


def test_deploy_roles_in_check_mode_would_install_their_pinned_charts_and_record_them(tmp_path):
    tasks = [
        include(role, dict(extra, **{"%s_helm_binary" % role: "{{ fake_helm }}", "%s_kubeconfig" % role: "{{ fake_kubeconfig }}"}))
        for role, (*_x, extra) in CHECK_MODE.items()
    ]
    run = Run(tmp_path, tasks)
    assert run.failures() == []
    facts = run.facts()
    for role, (release, chart, version, _extra) in CHECK_MODE.items():
        installed = facts["%s_installed" % role]
        assert (installed["release"], installed["chart"], installed["version"], installed["state"]) == (release, chart, version, "present"), role
    assert facts["gpu_operator_installed"]["cluster_policy_state"] == "not checked"
    assert facts["kueue_installed"]["integrations"] == ["batch/job", "pod", "deployment", "statefulset"]
    assert facts["gateway_installed"]["class_accepted"] == "not checked" and facts["gateway_installed"]["implementation"] == "envoy_gateway"
    # Each role's release was looked up once, and nothing but reads reached helm.
    listed = [c["args"][c["args"].index("--filter") + 1] for c in run.helm if "list" in c["args"]]
    assert sorted(listed) == sorted(r for r, *_x in CHECK_MODE.values())
    assert {verb(c) for c in run.helm} <= READS
