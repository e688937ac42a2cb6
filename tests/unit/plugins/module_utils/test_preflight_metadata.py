"""The CNCF pre-flight on metadata: what is decided offline (a host that never answers the
validator's request, a value it requests that is no URL, a placeholder vendorName), what the
validator lets through against the written guidance (a URL field that is no URL, a contact address
that never receives mail, a documentation name), and what stays unchecked (reachability of a public
URL, CNCF membership).  And the reference cluster's own metadata, rejected by design: it is not a
product (docs/preflight.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import preflight as pf
from ansible_collections.ai_conformance.kubernetes.plugins.modules import product_preflight
from tests.unit.plugins.module_utils.test_preflight import METADATA, good_product, item, make_bundle, rejected, run

REPO = Path(__file__).resolve().parents[4]
URL_FIELDS = ("websiteUrl", "repoUrl", "documentationUrl", "productLogoUrl")
# The local reference cluster's inventory (make demo) and the bundle the evidence role rendered from it.
INVENTORY = REPO / "inventories" / "local" / "group_vars" / "all.yml"
SAMPLE = REPO / "docs" / "samples" / "reference-cluster" / "v1.37" / "refcluster"


@pytest.fixture
def bundle(tmp_path):
    return make_bundle(tmp_path)


def with_metadata(**values):
    p = good_product()
    p["metadata"].update(values)
    return p


def by_where(out, where):
    return [f for f in out["findings"] if f["where"] == where]


def test_real_looking_metadata_is_not_rejected_and_says_what_stays_unchecked(bundle):
    out = run(good_product(), bundle)
    assert out["would_reject"] is False and out["conflicts"] == []
    md = out["sections"]["metadata"]
    assert (
        md["would_reject"] is False
        and md["rejected"] == []
        and md["verdict"].startswith("nothing the validator would reject | unchecked (needs the network): ")
    )
    urls = [k for k in URL_FIELDS + ("k8sConformanceUrl",) if METADATA[k]]
    assert sorted(f["where"] for f in out["unchecked"] if f["rule"] == "url-reachable") == sorted("metadata.%s" % k for k in urls)
    assert "%s %s (reachability)" % ("websiteUrl", METADATA["websiteUrl"]) in md["unchecked"]
    # Membership is not claimed: the member list was not read, and the finding says what was checked.
    (member,) = [f for f in out["unchecked"] if f["rule"] == "cncf-member"]
    assert member["message"].startswith("vendorName 'NVIDIA' must exactly match a CNCF member of the landscape: unchecked")
    assert "checked offline: not empty, not a [...] placeholder" in member["message"] and "vendorName (CNCF membership)" in md["unchecked"]
    assert not any("reachable" in f["message"] and "unchecked" not in f["message"] for f in out["findings"])


@pytest.mark.parametrize(
    ("field", "url", "why"),
    [
        ("websiteUrl", "https://example.invalid/ai-conformance", "example.invalid is a reserved name (.invalid, RFC 6761) that never resolves"),
        ("documentationUrl", "https://docs.cluster.test/ai", "docs.cluster.test is a reserved name (.test, RFC 6761) that never resolves"),
        ("repoUrl", "https://git.product.example/repo", "git.product.example is a reserved name (.example, RFC 2606) that never resolves"),
        ("websiteUrl", "http://localhost:8080/", "localhost is the requesting machine itself (RFC 6761)"),
        ("documentationUrl", "https://console.localhost/docs", "console.localhost is the requesting machine itself (RFC 6761)"),
        ("documentationUrl", "http://10.20.0.15/docs", "10.20.0.15 is a private address"),
        ("websiteUrl", "https://192.168.1.10", "192.168.1.10 is a private address"),
        ("websiteUrl", "http://127.0.0.1:3000/ai", "127.0.0.1 is a loopback address"),
        ("productLogoUrl", "http://[::1]/logo.svg", "::1 is a loopback address"),
        ("documentationUrl", "http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
    ],
)
def test_a_host_that_never_answers_is_rejected(bundle, field, url, why):
    out = run(with_metadata(**{field: url}), bundle)
    assert rejected(out) == [("url-reserved-host", "metadata.%s" % field)]
    (f,) = by_where(out, "metadata.%s" % field)
    assert f["message"].startswith("%s %s never answers: %s" % (field, url, why))
    assert f["message"].endswith("the validator requests every http(s) value and needs an answer below 400")
    assert out["unchecked"] and not any(u["where"] == "metadata.%s" % field for u in out["unchecked"])
    md = out["sections"]["metadata"]
    assert md["rejections"] == 1 and md["verdict"].startswith("rejected: %s %s never answers: %s" % (field, url, why))
    assert out["sections"]["evidence"]["verdict"] == "nothing the validator would reject"


def test_the_network_is_not_asked_about_a_host_that_never_answers(bundle):
    asked = []
    out = run(with_metadata(websiteUrl="https://example.invalid/ai"), bundle, url_check=asked.append)
    assert "https://example.invalid/ai" not in asked and METADATA["documentationUrl"] in asked
    assert rejected(out) == [("url-reserved-host", "metadata.websiteUrl")]


@pytest.mark.parametrize("value", ["https//www.nvidia.com/ai", "http:/docs.nvidia.com", "https://", "httpx://www.nvidia.com"])
def test_a_value_the_validator_requests_that_is_no_url_is_rejected(bundle, value):
    out = run(with_metadata(websiteUrl=value), bundle)
    assert rejected(out) == [("url-malformed", "metadata.websiteUrl")]
    (f,) = by_where(out, "metadata.websiteUrl")
    assert f["message"] == "websiteUrl %s is not an http(s) URL with a host: the validator requests it, and the request fails" % value


@pytest.mark.parametrize("value", ["www.nvidia.com/ai", "ftp://ftp.nvidia.com/ai"])
def test_a_url_field_that_is_no_http_url_is_accepted_by_the_validator_against_the_guidance(bundle, value):
    out = run(with_metadata(documentationUrl=value), bundle)
    assert out["would_reject"] is False
    (f,) = by_where(out, "metadata.documentationUrl")
    assert (f["rule"], f["validator"], f["message"]) == ("url-not-http", pf.ACCEPTS, "documentationUrl %s is not an http(s) URL" % value)
    assert "nothing checks this one" in f["guidance"]
    assert out["sections"]["metadata"]["conflicts"] == ["documentationUrl %s is not an http(s) URL" % value]


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("maintainers@example.invalid", "never receives mail: example.invalid is a reserved name (.invalid, RFC 6761)"),
        ("ops@gpu.cluster.test", "never receives mail: gpu.cluster.test is a reserved name (.test, RFC 6761)"),
        ("root@localhost", "never receives mail: localhost is the requesting machine itself"),
        ("conformance@example.com", "is on example.com, a name kept for documentation (RFC 2606)"),
        ("the platform team", "is not an email address"),
    ],
)
def test_a_contact_address_that_reaches_nobody_is_flagged_not_rejected(bundle, address, problem):
    out = run(with_metadata(contactEmailAddress=address), bundle)
    assert out["would_reject"] is False
    (f,) = by_where(out, "metadata.contactEmailAddress")
    assert f["rule"] == "contact-email" and f["validator"] == pf.ACCEPTS
    assert f["message"].startswith("contactEmailAddress %s %s" % (address, problem))
    assert f["guidance"].startswith("instructions: an email address which can be used to contact maintainers")
    assert [c["where"] for c in out["conflicts"]] == ["metadata.contactEmailAddress"]


@pytest.mark.parametrize("vendor", ["Example Corp", "example-vendor", "ACME (EXAMPLE)"])
def test_a_placeholder_vendor_is_rejected_without_the_member_list(bundle, vendor):
    out = run(with_metadata(vendorName=vendor), bundle)
    assert rejected(out) == [("cncf-member", "metadata.vendorName")]
    (f,) = by_where(out, "metadata.vendorName")
    assert f["message"] == "vendorName %r is a placeholder (it contains 'example'), not a CNCF member's name; the member list itself was not read" % vendor
    assert not any(u["rule"] == "cncf-member" for u in out["unchecked"])
    # Given the member list, the list decides.
    assert run(with_metadata(vendorName=vendor), bundle, members=[vendor])["would_reject"] is False


def test_a_vendor_placeholder_in_brackets_is_rejected_once_and_not_left_unchecked(bundle):
    out = run(with_metadata(vendorName="[Vendor Name exactly as in the CNCF landscape]"), bundle)
    assert rejected(out) == [("placeholder", "metadata.vendorName")]
    assert not any(f["rule"] == "cncf-member" for f in out["findings"])


def test_a_documentation_name_is_flagged_as_a_placeholder_and_its_reachability_left_to_the_network(bundle):
    out = run(with_metadata(websiteUrl="https://example.com/ai"), bundle)
    assert out["would_reject"] is False
    (f,) = by_where(out, "metadata.websiteUrl")
    assert (f["rule"], f["validator"]) == ("url-reachable", pf.UNCHECKED)
    assert "example.com is a name kept for documentation, RFC 2606" in f["message"] and "the request alone may pass" in f["guidance"]
    assert f in out["conflicts"] and f in out["unchecked"]
    md = out["sections"]["metadata"]
    assert md["conflicts"] == ["websiteUrl: " + f["message"]] and md["unchecked"][0] == "websiteUrl https://example.com/ai (reachability)"
    out = run(with_metadata(websiteUrl="https://example.com/ai"), bundle, url_check=lambda url: "HTTP 404" if "example.com" in url else None)
    assert rejected(out) == [("url-reachable", "metadata.websiteUrl")]


def test_an_evidence_url_that_never_answers_is_an_evidence_rejection(bundle):
    p = good_product()
    item(p, "ai_inference")["evidence"].append("https://dashboards.cluster.test/gateway")
    out = run(p, bundle)
    assert rejected(out) == [("url-reserved-host", "spec.networking.ai_inference")]
    ev, md = out["sections"]["evidence"], out["sections"]["metadata"]
    assert ev["would_reject"] is True and md["would_reject"] is False
    assert ev["rejected"] == [
        "ai_inference: https://dashboards.cluster.test/gateway never answers: dashboards.cluster.test is a reserved name (.test, RFC 6761) that never resolves"
    ]


def inventory_metadata(version="v1.37"):
    """conformance_metadata of the local inventory as the evidence role receives it: templated
    with the run's conformance_version, kubernetesVersion written from the version."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    raw = yaml.safe_load(INVENTORY.read_text())["conformance_metadata"]
    t = Templar(loader=DataLoader(), variables={"conformance_version": version})
    md = {k: t.template(trust_as_template(v)) if isinstance(v, str) else v for k, v in raw.items()}
    return dict(md, kubernetesVersion=version), raw


def test_the_reference_cluster_metadata_is_rejected_naming_each_placeholder(bundle):
    md, raw = inventory_metadata()
    p = good_product()
    p["metadata"] = md
    out = run(p, bundle)
    assert out["would_reject"] is True
    ev, meta = out["sections"]["evidence"], out["sections"]["metadata"]
    assert ev == {"would_reject": False, "rejections": 0, "rejected": [], "conflicts": [], "unchecked": [], "verdict": "nothing the validator would reject"}
    placeholders = sorted(k for k, v in raw.items() if isinstance(v, str) and "example.invalid" in v)
    urls = [k for k in placeholders if k != "contactEmailAddress"]
    # The inventory: every URL field but k8sConformanceUrl and the optional repoUrl, which it leaves out.
    assert "repoUrl" not in raw and sorted(urls) == sorted(f for f in URL_FIELDS if f != "repoUrl")
    assert sorted(w.split(".", 1)[1] for r, w in rejected(out)) == sorted(urls)
    assert all(r == "url-reserved-host" for r, w in rejected(out))
    for key in urls:
        assert "%s %s never answers: example.invalid is a reserved name" % (key, raw[key]) in meta["verdict"]
    # The contact address: flagged, not counted as the validator's rejection (it does not check it).
    assert meta["conflicts"] == [
        "contactEmailAddress %s never receives mail: example.invalid is a reserved name (.invalid, RFC 6761) that never resolves" % raw["contactEmailAddress"]
    ]
    # What could not be decided offline stays unchecked: the membership of its vendorName, and
    # whether its k8sConformanceUrl (right form, no such submission) answers.
    assert meta["unchecked"] == ["k8sConformanceUrl %s (reachability)" % md["k8sConformanceUrl"], "vendorName (CNCF membership)"]


def test_the_committed_reference_cluster_bundle_is_rejected_for_its_metadata_only(run_module):
    path = SAMPLE / "PRODUCT.yaml"
    res = run_module(product_preflight.main, {"path": str(path)})
    assert not res.failed and res.result["would_reject"] is True
    assert res.result["sections"]["evidence"]["would_reject"] is False
    msg = res.result["msg"]
    assert msg.startswith("the CNCF validator would reject %s (" % path)
    assert ". evidence: nothing the validator would reject. metadata: rejected: websiteUrl https://example.invalid/ai-conformance never answers" in msg
    res = run_module(product_preflight.main, {"path": str(path), "fail_on_reject": True})
    assert res.failed and res.result["sections"]["metadata"]["rejections"] == 4
