"""The CNCF pre-flight: one purpose-built bad PRODUCT.yaml per validator rule, and a good one.

The rules that changed with the v1.37 validator (test artifacts, evidence paths, N/A of
cluster_autoscaling) are in test_preflight_v137.py; here are the rules every version shares and the
legacy evidence rules (v1.33 to v1.36)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import cncf_validator as cv
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import preflight as pf

# Real-looking metadata of a product: nothing in it can be decided offline but its form.
METADATA = {
    "kubernetesVersion": "v1.37",
    "platformName": "NVIDIA AI Enterprise on Kubernetes",
    "platformVersion": "2.4",
    "vendorName": "NVIDIA",
    "websiteUrl": "https://www.nvidia.com/en-us/data-center/products/ai-enterprise/",
    "repoUrl": "",
    "documentationUrl": "https://docs.nvidia.com/ai-enterprise/",
    "productLogoUrl": "https://www.nvidia.com/content/dam/en-zz/Solutions/about-nvidia/logo-and-brand/nvidia-logo.svg",
    "description": "Managed Kubernetes for AI",
    "contactEmailAddress": "k8s-conformance@nvidia.com",
    "k8sConformanceUrl": "https://github.com/cncf/k8s-conformance/tree/master/v1.37/nvidia-ai-enterprise",
}


def junit(cases):
    """A junit.xml with one testcase per (name, verdict)."""
    body = {"pass": "", "fail": '<failure message="Failed"/>', "error": '<error message="boom"/>', "skip": '<skipped message="Skipped"/>'}
    rows = "".join('<testcase classname="c" name="%s">%s</testcase>' % (n, body[v]) for n, v in cases.items())
    return '<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="s">%s</testsuite></testsuites>' % rows


def good_product(version="v1.37"):
    """Every item Implemented with its evidence page; from v1.37 also its own junit.xml, cited with
    the test's name as the #Fragment (what the evidence role writes)."""
    spec = {}
    for r in catalog.requirements(version):
        evidence = ["evidence/%s.md" % r.id]
        if cv.ruleset(version)["artifacts"]:
            evidence.append("junit/%s/junit.xml#%s" % (r.id, cv.case_name(r.id)))
        spec.setdefault(r.category, []).append(
            {"id": r.id, "description": r.description, "level": r.level, "status": "Implemented", "evidence": evidence, "notes": "ok"}
        )
    return {"metadata": dict(METADATA), "spec": spec}


def make_bundle(root, version="v1.37", product="example"):
    d = root / version / product
    (d / "evidence").mkdir(parents=True)
    for r in catalog.requirements(version):
        (d / "evidence" / ("%s.md" % r.id)).write_text("x")
        (d / "junit" / r.id).mkdir(parents=True)
        (d / "junit" / r.id / "junit.xml").write_text(junit({cv.case_name(r.id): "pass"}))
    (d / "junit.xml").write_text("<testsuites/>")
    return d


@pytest.fixture
def bundle(tmp_path):
    return make_bundle(tmp_path)


@pytest.fixture
def legacy(tmp_path):
    """A v1.36 bundle: checked with the legacy rules (validate.go @ b2c89690)."""
    return make_bundle(tmp_path, "v1.36")


def run(product, bundle, **kw):
    return pf.check_product(product, str(bundle / "PRODUCT.yaml"), **kw)


def item(product, rid):
    return next(i for items in product["spec"].values() for i in items if i["id"] == rid)


def rejected(out):
    return [(f["rule"], f["where"]) for f in out["findings"] if f["validator"] == pf.REJECTS]


@pytest.mark.parametrize("version", ["v1.37", "v1.36", "v1.33"])
def test_a_good_product_passes_with_only_network_checks_left(tmp_path, version):
    out = run(good_product(version), make_bundle(tmp_path, version))
    assert out["would_reject"] is False and out["rejections"] == 0 and out["conflicts"] == [] and out["validator_warnings"] == []
    # URLs and CNCF membership need the network: reported, not guessed.
    assert {f["rule"] for f in out["unchecked"]} == {"url-reachable", "cncf-member"}
    assert out["version"] == version


def test_the_version_table_picks_the_rules_and_names_their_source(bundle, legacy):
    new = run(good_product(), bundle)
    assert new["ruleset"] == {"name": "v1.37", "source": cv.SOURCE_V137}
    rules = {r["rule"]: r["source"] for r in new["rules"]}
    assert rules["test-artifact-failure"] == rules["evidence-path"] == rules["conditional-na"] == cv.SOURCE_V137
    assert rules["metadata"] == cv.SOURCE_B2C and rules["product-logo"] == cv.SOURCE_122
    assert "evidence-file-uri" not in rules
    old = run(good_product("v1.36"), legacy)
    assert old["ruleset"] == {"name": "legacy", "source": cv.SOURCE_B2C}
    rules = {r["rule"]: r["source"] for r in old["rules"]}
    assert rules["evidence-file-uri"] == cv.SOURCE_B2C and "test-artifact-failure" not in rules
    assert [cv.ruleset(v)["name"] for v in catalog.versions()] == ["legacy"] * 4 + ["v1.37"]
    assert cv.ruleset("v1.38")["name"] == "v1.37" and cv.ruleset("v1.32")["name"] == "legacy"


def test_membership_is_checked_when_members_are_given(bundle):
    assert run(good_product(), bundle, members=["Red Hat", "NVIDIA"])["would_reject"] is False
    assert rejected(run(good_product(), bundle, members=["NVIDIA Corporation"])) == [("cncf-member", "metadata.vendorName")]


def test_version_comes_from_the_path(tmp_path):
    out = pf.check_product(good_product(), str(tmp_path / "example" / "PRODUCT.yaml"), version="v1.37")
    assert ("path-version", str(tmp_path / "example" / "PRODUCT.yaml")) in rejected(out)


def test_path_and_declared_version_must_agree(bundle):
    assert ("path-version", str(bundle / "PRODUCT.yaml")) in rejected(run(good_product(), bundle, version="v1.36"))


@pytest.mark.parametrize(
    "field, value, rule",
    [
        ("platformName", None, "metadata"),
        ("vendorName", "", "metadata"),
        ("description", "[Describe the product]", "placeholder"),
        ("kubernetesVersion", 1.37, "metadata-type"),
        ("k8sConformanceUrl", "https://github.com/cncf/k8s-conformance/pull/1234", "k8s-conformance-url"),
        ("k8sConformanceUrl", None, "k8s-conformance-url"),
        ("productLogoUrl", "https://www.nvidia.com/logo.png", "product-logo"),
    ],
)
def test_metadata_rules(bundle, field, value, rule):
    p = good_product()
    if value is None:
        del p["metadata"][field]
    else:
        p["metadata"][field] = value
    assert rejected(run(p, bundle)) == [(rule, "metadata.%s" % field)]


def test_snake_case_metadata_and_empty_repo_url_are_accepted(bundle):
    p = good_product()
    p["metadata"] = {pf.snake(k): v for k, v in METADATA.items() if k != "repoUrl"}
    assert run(p, bundle)["would_reject"] is False


def test_missing_k8s_conformance_url_is_a_conflict_from_v136_on(bundle):
    p = good_product()
    del p["metadata"]["k8sConformanceUrl"]
    f = next(f for f in run(p, bundle)["conflicts"] if f["rule"] == "k8s-conformance-url")
    assert f["validator"] == pf.REJECTS and "template has no k8sConformanceUrl" in f["guidance"] and f["advice"].startswith("add it anyway")


def test_statuses_musts_and_na_notes(bundle):
    p = good_product()
    item(p, "gang_scheduling")["status"] = "Partially Implemented"
    item(p, "gpu_sharing")["status"] = "Done"
    item(p, "virtualized_accelerator").update(status="N/A", notes="")
    assert sorted(rejected(run(p, bundle))) == [
        ("must-implemented", "spec.schedulingOrchestration.gang_scheduling"),
        ("na-notes", "spec.accelerators.virtualized_accelerator"),
        ("status", "spec.accelerators.gpu_sharing"),
    ]


def test_a_partially_implemented_must_says_how_to_prove_or_accept_it(bundle):
    p = good_product()
    item(p, "secure_accelerator_access")["status"] = "Partially Implemented"
    out = run(p, bundle)
    f = next(f for f in out["findings"] if f["rule"] == "must-implemented")
    assert f["validator"] == pf.REJECTS and f["where"] == "spec.security.secure_accelerator_access"
    assert "evidence_accept_partial: true" in f["advice"]


def test_product_logo_rule_message(bundle):
    p = good_product()
    p["metadata"]["productLogoUrl"] = "https://www.nvidia.com/Logo.PNG"
    f = next(f for f in run(p, bundle)["findings"] if f["rule"] == "product-logo")
    assert f["message"] == "productLogoUrl must link to an SVG, EPS, or AI file: https://www.nvidia.com/Logo.PNG"
    p["metadata"]["productLogoUrl"] = "https://www.nvidia.com/Logo.SVG"
    assert run(p, bundle)["would_reject"] is False


def test_conditional_must_na_is_rejected_before_v137_but_flagged_as_a_conflict_with_the_faq(legacy):
    p = good_product("v1.36")
    item(p, "cluster_autoscaling").update(status="N/A", notes="on-prem: node pools are fixed hardware")
    out = run(p, legacy)
    assert rejected(out) == [("must-implemented", "spec.schedulingOrchestration.cluster_autoscaling")]
    assert "FAQ allows N/A" in out["conflicts"][0]["guidance"]


def test_empty_should_is_skipped_but_empty_status_with_evidence_is_not(bundle):
    p = good_product()
    item(p, "gpu_sharing").update(status="", evidence=[])
    item(p, "workload_sandboxing").update(status="")
    assert rejected(run(p, bundle)) == [("status", "spec.security.workload_sandboxing")]


def test_missing_category_and_requirement(bundle):
    p = good_product()
    del p["spec"]["operator"]
    p["spec"]["networking"] = [i for i in p["spec"]["networking"] if i["id"] != "ai_inference"]
    assert sorted(rejected(run(p, bundle))) == [("requirement", "spec.networking"), ("spec", "spec.operator")]


def test_legacy_evidence_files_must_exist_and_file_uris_conflict_with_the_v137_header(legacy):
    p = good_product("v1.36")
    item(p, "gang_scheduling")["evidence"] = ["evidence/missing.md"]
    item(p, "secure_accelerator_access")["evidence"] = ["file://results/junit.xml#TestSecureAcceleratorAccess", "junit.xml"]
    item(p, "ai_inference")["evidence"] = "evidence/ai_inference.md"
    out = run(p, legacy)
    assert sorted(rejected(out)) == [
        ("evidence-file", "spec.schedulingOrchestration.gang_scheduling"),
        ("evidence-file-uri", "spec.security.secure_accelerator_access"),
        ("evidence-type", "spec.networking.ai_inference"),
    ]
    uri = next(f for f in out["conflicts"] if f["rule"] == "evidence-file-uri")
    assert "v1.37 checklist header" in uri["guidance"] and "plain relative path" in uri["advice"]


def test_guidance_the_validator_does_not_enforce(bundle):
    p = good_product()
    item(p, "ai_inference")["description"] = "Gateway API"
    item(p, "robust_controller")["evidence"] = []
    item(p, "virtualized_accelerator").update(status="N/A", notes="vGPU is not supported")
    p["spec"]["accelerators"].append({"id": "my_extra", "status": "Implemented"})
    out = run(p, bundle)
    assert out["would_reject"] is False
    assert sorted(f["rule"] for f in out["conflicts"]) == ["must-evidence", "na-justification", "unchanged"]
    assert any(f["rule"] == "extra-id" and f["validator"] == pf.ACCEPTS for f in out["findings"])


def test_base_conformance_of_another_kubernetes_version_is_flagged_not_rejected(bundle):
    p = good_product()
    p["metadata"]["k8sConformanceUrl"] = "https://github.com/cncf/k8s-conformance/tree/main/v1.35/nvidia-ai-enterprise"
    out = run(p, bundle)
    assert out["would_reject"] is False
    assert [f["rule"] for f in out["conflicts"]] == ["k8s-conformance-version"]


def test_url_checker_decides_reachability(bundle):
    p = copy.deepcopy(good_product())
    p["spec"]["networking"][0]["evidence"] = ["https://docs.nvidia.com/broken"]
    out = run(p, bundle, url_check=lambda url: "HTTP 404" if url.endswith("broken") else None)
    assert rejected(out) == [("url-reachable", "spec.networking.ai_inference")]
    assert [f["rule"] for f in out["unchecked"]] == ["cncf-member"]


def test_not_a_mapping(bundle):
    assert rejected(run(["a"], bundle)) == [("yaml", str(bundle / "PRODUCT.yaml"))]
