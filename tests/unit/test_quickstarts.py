"""The platform quickstarts (docs/quickstart/{eks,gke,aks,oke}.md) and the code they describe cannot
drift apart:

- each page gives its platform's access commands exactly (the vendor's CLI with its real flags), the
  README's access table repeats them, and the commands the collection's own auth errors suggest
  (plugins/module_utils/core/kube_auth.py) appear on the page;
- the GPU taint a page documents (``**GPU taint**: `key=value:Effect```) is tolerated by the
  tolerations its inventory sets, and its key is the one the probes' GPU pods tolerate on their own;
- the GPU pool a page documents (``**GPU pool selector** (`scheduling_autoscaler_node_selector`)``, or
  the Karpenter NodePool on EKS) is the one its inventory sets;
- every role or run variable a page names exists (a role's meta/argument_specs.yml, or the run's
  input spec in playbooks/conformance.yml);
- the pages point at the ServiceAccount-token credential of docs/awx and the prober ClusterRole, and
  list their sources."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "docs" / "quickstart"
PLATFORMS = ("eks", "gke", "aks", "oke")

# The access commands, character for character (placeholders in <>). The first of each platform is
# the one that writes the kubeconfig: it must stand on a line of its own in a code block, and the
# README's access table repeats it.
AUTH_COMMANDS = {
    "eks": [
        "aws eks update-kubeconfig --region <region> --name <cluster>",
        "eks get-token --cluster-name <cluster> --output json",
        "aws eks create-access-entry --cluster-name <cluster> --principal-arn",
    ],
    "gke": [
        "gcloud container clusters get-credentials <cluster> --location <location> --project <project>",
        "gcloud components install gke-gcloud-auth-plugin",
        "sudo apt-get install google-cloud-cli-gke-gcloud-auth-plugin",
    ],
    "aks": [
        "az aks get-credentials --resource-group <resource-group> --name <cluster>",
        "kubelogin convert-kubeconfig -l azurecli",
        "kubelogin convert-kubeconfig -l spn",
        "kubelogin convert-kubeconfig -l workloadidentity",
    ],
    "oke": [
        "oci ce cluster create-kubeconfig --cluster-id <cluster-ocid> --file $HOME/.kube/config --region <region> --token-version 2.0.0"
        " --kube-endpoint PUBLIC_ENDPOINT",
        "ce cluster generate-token --cluster-id <cluster-ocid>",
    ],
}

# What the collection's auth errors tell the user to run (kube_auth.py): the page of the platform
# whose credential plugin it is must name the same commands.
ERROR_COMMANDS = {
    "eks": ["aws sso login", "aws eks update-kubeconfig"],
    "gke": ["gcloud components install gke-gcloud-auth-plugin", "google-cloud-cli-gke-gcloud-auth-plugin", "gcloud container clusters get-credentials"],
    "aks": ["az aks install-cli", "kubelogin convert-kubeconfig -l azurecli", "kubelogin convert-kubeconfig -l spn", "az aks get-credentials"],
    "oke": ["oci setup config", "oci ce cluster create-kubeconfig"],
}

TAINT = re.compile(r"\*\*GPU taint\*\*: `([^`=\s]+)=([^`:\s]*):(\w+)`")
SELECTOR = re.compile(r"\*\*GPU pool selector\*\* \(`scheduling_autoscaler_node_selector`\): `([^`=\s]+)=([^`\s]+)`")
KARPENTER_POOL = re.compile(r"\*\*GPU pool\*\* \(`scheduling_autoscaler_node_pool`\): `([^`\s]+)`")
# The inventories name the GPU taint once; the roles' GPU tolerations default to it (test_gpu_tolerations_default_to_the_runs).
TOLERATION_VARIABLES = ("conformance_gpu_tolerations",)

# A lowercase snake_case word that is not part of a path, a domain or a dotted name.
WORD = re.compile(r"(?<![\w./$-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w/.-])")
# Words with a role's prefix that are not variables.
NOT_VARIABLES = {"security_token"}  # an OCI CLI --auth value (oke.md)


def page(name):
    return (QUICKSTART / (name + ".md")).read_text()


def flat(text):
    """The text with every run of whitespace made one space (commands wrap in prose)."""
    return " ".join(text.split())


def inventory(platform):
    return yaml.safe_load((REPO / "inventories" / platform / "group_vars" / "all.yml").read_text())


def code_lines(text):
    """The lines of the indented (4-space) code blocks."""
    return [line.strip() for line in text.splitlines() if line.startswith("    ") and line.strip()]


def roles():
    return sorted(p.parent.parent.name for p in (REPO / "roles").glob("*/meta/argument_specs.yml"))


def role_options():
    names = set()
    for role in roles():
        spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for entry in (spec.get("argument_specs") or {}).values():
            names |= set((entry or {}).get("options") or {})
    return names


def run_variables():
    """The run's own variables: the input spec conformance.yml validates them with."""
    plays = yaml.safe_load((REPO / "playbooks" / "conformance.yml").read_text())
    names = set()
    for play in plays:
        names |= set((play.get("vars") or {}).get("_conformance_input_spec") or {})
    assert names, "playbooks/conformance.yml defines no _conformance_input_spec"
    return names


def builtin_gpu_tolerations():
    """GPU_TOLERATIONS of plugins/module_utils/core/workloads.py, the probes' own toleration."""
    tree = ast.parse((REPO / "plugins" / "module_utils" / "core" / "workloads.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "GPU_TOLERATIONS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("workloads.py defines no GPU_TOLERATIONS")


def documented_taint(platform):
    found = TAINT.findall(page(platform))
    assert len(found) == 1, "%s.md must document its GPU taint once as **GPU taint**: `key=value:Effect` (found %r)" % (platform, found)
    return found[0]


def tolerates(toleration, key, value, effect):
    if toleration.get("key") != key or toleration.get("effect", effect) != effect:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == value


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_access_commands_are_given_exactly(platform):
    text = page(platform)
    first, *others = AUTH_COMMANDS[platform]
    assert first in code_lines(text), "%s.md: no code line reads %r" % (platform, first)
    missing = [c for c in others if c not in flat(text)]
    assert missing == [], "%s.md lacks %r" % (platform, missing)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_readme_repeats_the_command_that_writes_the_kubeconfig(platform):
    assert AUTH_COMMANDS[platform][0] in page("README"), platform
    assert "(%s.md)" % platform in page("README"), platform


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_commands_the_auth_errors_suggest_are_on_the_page(platform):
    errors = (REPO / "plugins" / "module_utils" / "core" / "kube_auth.py").read_text()
    text = flat(page(platform))
    for command in ERROR_COMMANDS[platform]:
        assert command in errors, "kube_auth.py no longer suggests %r: update ERROR_COMMANDS" % command
        assert command in text, "%s.md does not mention %r, which the auth errors suggest" % (platform, command)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_documented_gpu_taint_is_the_one_the_inventory_tolerates(platform):
    key, value, effect = documented_taint(platform)
    values = inventory(platform)
    for name in TOLERATION_VARIABLES:
        assert name in page(platform), "%s.md does not name %s" % (platform, name)
        tolerations = values.get(name) or []
        assert any(tolerates(t, key, value, effect) for t in tolerations), (
            "inventories/%s sets %s to %r, which does not tolerate the documented taint %s=%s:%s" % (platform, name, tolerations, key, value, effect)
        )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_documented_gpu_taint_is_the_one_the_probes_tolerate_on_their_own(platform):
    key, value, effect = documented_taint(platform)
    assert any(tolerates(t, key, value, effect) for t in builtin_gpu_tolerations()), (platform, key, effect)


def test_gpu_tolerations_default_to_the_runs():
    """The GPU tolerations of the autoscaling and the metrics probes default to the one list the inventories set."""
    for role, name in (("scheduling", "scheduling_autoscaler_tolerations"), ("observability", "observability_gpu_tolerations")):
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
        assert defaults[name] == "{{ conformance_gpu_tolerations | default([]) }}", name


def test_the_eks_page_names_the_karpenter_pool_the_inventory_sets():
    found = KARPENTER_POOL.findall(page("eks"))
    assert len(found) == 1, found
    values = inventory("eks")
    assert values.get("scheduling_autoscaler_node_pool") == found[0]
    # A NodePool declares Karpenter: the role's default says so unless the inventory says otherwise.
    assert values.get("scheduling_autoscaler", "karpenter") == "karpenter"
    defaults = yaml.safe_load((REPO / "roles" / "scheduling" / "defaults" / "main.yml").read_text())
    assert defaults["scheduling_autoscaler"] == "{{ 'karpenter' if scheduling_autoscaler_node_pool else 'auto' }}"


@pytest.mark.parametrize(
    "platform",
    [
        "gke",
        "aks",
        "oke",
    ],
)
def test_the_documented_gpu_pool_selector_is_the_one_the_inventory_sets(platform):
    found = SELECTOR.findall(page(platform))
    assert len(found) == 1, "%s.md must document the GPU pool selector once (found %r)" % (platform, found)
    key, value = found[0]
    assert inventory(platform).get("scheduling_autoscaler_node_selector") == {key: value}


@pytest.mark.parametrize("name", ("README",) + PLATFORMS)
def test_every_variable_a_quickstart_names_exists(name):
    prefixes = tuple(role + "_" for role in roles()) + ("conformance_",)
    known = role_options() | run_variables()
    named = {w for span in re.findall(r"`([^`]+)`", page(name)) for w in WORD.findall(span)}
    variables = sorted(w for w in named if w.startswith(prefixes) and w not in NOT_VARIABLES)
    assert variables, name
    assert [v for v in variables if v not in known] == [], "%s.md names variables no role or run defines" % name


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_unattended_credential_is_the_service_account_token_of_docs_awx(platform):
    text = page(platform)
    assert "](../awx/README.md#credentials-for-scheduled-runs)" in text, platform
    assert "](../rbac/prober.yaml)" in text, platform
    assert "## Credentials for scheduled runs" in (REPO / "docs" / "awx" / "README.md").read_text()
    rbac = yaml.safe_load((REPO / "docs" / "rbac" / "prober.yaml").read_text())
    cluster_roles = {i["metadata"]["name"] for i in rbac["items"] if i.get("kind") == "ClusterRole"}
    named = set(re.findall(r"--clusterrole=([\w.-]+)", text))
    assert named, "%s.md binds no ClusterRole" % platform
    assert named <= cluster_roles, (platform, named - cluster_roles)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_page_lists_its_sources(platform):
    text = page(platform)
    assert "\n## Sources\n" in text, platform
    sources = text.split("\n## Sources\n", 1)[1]
    assert len(re.findall(r"^- https://", sources, re.M)) >= 3, platform
