"""The bundle's secret scanner: each kind is found in a planted file (values made here, fresh each
run), placeholders and public material are not, the recorded sample bundles scan clean, redaction
removes what the scan finds, and the evidence role fails on a secret naming file, line and kind."""

from __future__ import annotations

import base64
import json
import secrets
import string
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import secret_scan
from ansible_collections.ai_conformance.kubernetes.plugins.modules import scan_bundle

REPO = Path(__file__).resolve().parents[4]
B64 = string.ascii_letters + string.digits + "+/"
URLSAFE = string.ascii_letters + string.digits + "-_"


def rand(n, alphabet=string.ascii_letters + string.digits):
    return "".join(secrets.choice(alphabet) for pos in range(n))


def b64url(doc):
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def ec_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode()


def pkcs8_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def jwt():
    claims = {"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ai-conformance:prober", "exp": 1_900_000_000}
    return "%s.%s.%s" % (b64url({"alg": "RS256", "kid": rand(12)}), b64url(claims), rand(86, URLSAFE))


def planted():
    """kind -> (the secret value, the text that carries it: what a leaky probe would have written)."""
    pem = ec_pem()
    gcp_key = pkcs8_pem()
    token = jwt()
    client_key = base64.b64encode(pem.encode()).decode()
    aws_id = "AKIA" + rand(16, string.ascii_uppercase + string.digits)
    aws_secret = rand(40, B64)
    azure = rand(3) + "8Q~" + rand(34, URLSAFE + "~.")
    bearer = rand(40, URLSAFE + "._~")
    api_key = rand(32)
    password = rand(16)
    ocp = "sha256~" + rand(43, URLSAFE)
    return {
        "jwt": (token, "observations: {projected_token: %s}\n" % token),
        "openshift_token": (ocp, "oc login --server=https://api.example:6443 with %s\n" % ocp),
        "bearer_token": (bearer, "the token source said: bearer %s\n" % bearer),
        "private_key": (pem.splitlines()[1], pem),
        "kubeconfig_credential": (client_key, "- {name: admin, user: {client-key-data: %s}}\n" % client_key),
        "aws_access_key_id": (aws_id, json.dumps({"AccessKeyId": aws_id}) + "\n"),
        "aws_secret_access_key": (aws_secret, "aws_secret_access_key = %s\n" % aws_secret),
        "gcp_service_account_key": (
            gcp_key.splitlines()[1],
            json.dumps({"type": "service_account", "project_id": "p", "private_key": gcp_key, "client_email": "x@p.iam.gserviceaccount.com"}) + "\n",
        ),
        "azure_client_secret": (azure, "AZURE_CLIENT_ID=1b2c AZURE_TENANT_ID=3d4e sp secret %s\n" % azure),
        "http_auth_header": (api_key, "request headers: {'Host': 'inference.local', 'X-Api-Key': '%s'}\n" % api_key),
        "url_credentials": (password, "pushed to https://bundles:%s@git.internal.corp/evidence.git\n" % password),
    }


@pytest.mark.parametrize("kind", sorted(secret_scan.KINDS))
def test_each_kind_is_found_in_a_planted_file_by_file_line_and_kind_never_by_value(tmp_path, kind):
    value, text = planted()[kind]
    bundle = tmp_path / "bundle"
    (bundle / "evidence").mkdir(parents=True)
    (bundle / "README.md").write_text("# Bundle\n\nNothing secret here.\n")
    (bundle / "evidence" / "leaky.md").write_text("# leaky\n\nline three\n" + text)
    findings, scanned = secret_scan.scan_tree(str(bundle))
    assert scanned == 2
    assert [(f.path, f.line, f.kind) for f in findings] == [("evidence/leaky.md", 4, kind)]
    said = secret_scan.summary(findings)
    assert "evidence/leaky.md line 4: %s" % kind in said and value not in said
    assert value not in json.dumps([f.as_dict() for f in findings])


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Authorization: Bearer %s", rand(48, URLSAFE)),
        ('"authorization": "Basic %s"', base64.b64encode(b"admin:" + rand(12).encode()).decode()),
        ("Cookie: session=%s", rand(24)),
        ("set-cookie: id=%s; HttpOnly", rand(24)),
        ("x-api-key=%s", rand(32)),
        ("Proxy-Authorization: Bearer %s", rand(30)),
    ],
)
def test_credential_headers_are_found_in_any_notation(header, value):
    assert [f.kind for f in secret_scan.scan_text(header % value)] == ["http_auth_header"]


@pytest.mark.parametrize(
    "line",
    [
        "Authorization: Bearer <redacted>",
        "curl -H 'Authorization: Bearer $TOKEN' https://prometheus:9090/api/v1/query",
        'curl -H "Authorization: Bearer ${PROMETHEUS_TOKEN}"',
        "Authorization headers are redacted at capture (Authorization: none)",
        "token: <redacted>",
        '"kubeconfig_token": "<redacted-jwt>"',
        "token: {{ prober_token }}",
        "kubectl create token prober -n ai-conformance --duration 1h",
        "automountServiceAccountToken: false",
        '{"prompt_tokens": 12, "max_tokens": 16}',
        "password: ********",
        "AKIAIOSFODNN7EXAMPLE (the AWS documentation's example key id)",
        "-----BEGIN PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----",
        "certificate-authority-data: " + base64.b64encode(b"-----BEGIN CERTIFICATE-----\n" + rand(64).encode()).decode(),
        "9a0364b9e99bb480dd25e1f0284c8555b2e6e8a8cf0ed8ccf2bd7e83b46a2c4e  evidence/dra_support.md",
        "eyJhbGciOiJub25lIn0 is base64 of a header alone, not a token",
        "http://user@host:8080/path and https://host:443/x@y",
        "image: nvcr.io/nvidia/cuda@sha256:" + "ab" * 32,
    ],
)
def test_placeholders_public_material_and_ordinary_text_are_not_findings(line):
    assert secret_scan.scan_text(line) == []


@pytest.mark.parametrize("root", ["docs/samples", "tests/fixtures"])
def test_the_recorded_sample_bundles_and_fixtures_scan_clean(root):
    findings, scanned = secret_scan.scan_tree(str(REPO / root))
    assert scanned > 30
    assert [f.describe() for f in findings] == []


def test_redaction_removes_every_value_the_scan_finds_and_keeps_the_rest():
    for kind, (value, text) in planted().items():
        clean = secret_scan.redact_text(text)
        assert secret_scan.scan_text(clean) == [], kind
        assert value not in clean, kind
        assert "<redacted>" in clean, kind
    assert secret_scan.redact_text("statuses {'200': 8}, 8 completion(s)") == "statuses {'200': 8}, 8 completion(s)"
    captured = {"Authorization": "Bearer " + jwt(), "cookie": "a=" + rand(20), "content-type": "application/json", "x-aic-run": "r1"}
    assert secret_scan.redact_headers(captured) == {
        "Authorization": "<redacted>",
        "cookie": "<redacted>",
        "content-type": "application/json",
        "x-aic-run": "r1",
    }


def test_a_gcp_key_file_is_one_finding_not_also_a_pem_one():
    _value, text = planted()["gcp_service_account_key"]
    assert [f.kind for f in secret_scan.scan_text(text)] == ["gcp_service_account_key"]


def test_the_module_fails_naming_file_line_and_kind_and_passes_a_clean_bundle(tmp_path, run_module):
    value, text = planted()["jwt"]
    (tmp_path / "results.json").write_text('{"ok": true}\n' + text)
    out = run_module(scan_bundle.main, {"path": str(tmp_path)})
    assert out.failed and out.result["clean"] is False
    assert "results.json line 2: jwt" in out.result["msg"] and "\n" not in out.result["msg"]
    assert value not in json.dumps(out.result)
    assert out.result["findings"] == [{"file": "results.json", "line": 2, "kind": "jwt", "what": secret_scan.KINDS["jwt"]}]
    report = run_module(scan_bundle.main, {"path": str(tmp_path), "fail_on_findings": False})
    assert not report.failed and len(report.result["findings"]) == 1
    (tmp_path / "results.json").write_text(secret_scan.redact_text(text))
    ok = run_module(scan_bundle.main, {"path": str(tmp_path)})
    assert not ok.failed and ok.result["clean"] and ok.result["msg"] == "1 files scanned, no secret found"
    missing = run_module(scan_bundle.main, {"path": str(tmp_path / "nope")})
    assert missing.failed and missing.result["msg"] == "cannot scan the bundle %s for secrets: %s is not a directory" % (tmp_path / "nope", tmp_path / "nope")


def test_the_evidence_role_fails_on_a_secret_the_results_carry_naming_file_line_and_kind(tmp_path):
    """An AWS key id in a probe's observations: the summary's redaction does not know that kind, so
    it reaches results.json; the scan stops the role before SHA256SUMS, without printing the key."""
    from tests.unit.plugins.module_utils.test_evidence import res
    from tests.unit.test_signing_evidence_role import render

    aws_id = "ASIA" + rand(16, string.ascii_uppercase + string.digits)
    leaky = res("gang_scheduling", "pass")
    leaky["observations"] = dict(leaky.get("observations") or {}, caller=aws_id)
    rc, out, bundle = render(tmp_path, evidence_results=[leaky])
    assert rc != 0
    said = [line for line in out.splitlines() if "holds secrets" in line]
    assert said and "aws_access_key_id" in said[0] and "results.json line " in said[0], out[-3000:]
    assert aws_id not in out
    assert not (bundle / "SHA256SUMS").exists()


def test_a_whole_kubeconfig_is_found_field_by_field():
    pem = ec_pem()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority-data": base64.b64encode(b"ca").decode()}}],
        "users": [
            {
                "name": "cert",
                "user": {"client-certificate-data": base64.b64encode(rand(300).encode()).decode(), "client-key-data": base64.b64encode(pem.encode()).decode()},
            },
            {"name": "sa", "user": {"token": jwt()}},
            {"name": "basic", "user": {"username": "admin", "password": rand(14)}},
        ],
    }
    text = yaml.safe_dump(kubeconfig, width=100000)
    found = [(f.line, f.kind) for f in secret_scan.scan_text(text)]
    lines = text.splitlines()
    expected = [
        (i, "kubeconfig_credential")
        for i, line in enumerate(lines, 1)
        if line.strip().split(":")[0] in ("client-certificate-data", "client-key-data", "token", "password")
    ]
    assert len(expected) == 4 and found == expected
