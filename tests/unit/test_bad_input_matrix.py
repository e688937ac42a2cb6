"""Bad input, case by case, with no cluster: each case stops with one line that names the bad thing,
no Python traceback, and nothing sent that could create an object.

One generated playbook runs every module and role case from this checkout (block/rescue per case,
so that one run covers them all): kubeconfigs that are broken in each way, credentials a local
HTTPS server refuses with 401 as an API server does, a closed port, an unknown host, an untrusted
certificate, servers that are not a Kubernetes API, a missing credential plugin, a bad value of each
role's argument spec (generated from roles/*/meta/argument_specs.yml, one test id per role and
kind), an unwritable output directory, a bad signing key and bad upload destinations.  A few cases
run conformance.yml itself and check its exit status.  The fake servers record every request: a
case passes only if nothing but GET reached them.  The cases that need the reference cluster
(missing CRDs, permissions per verb, Prometheus and gateway addresses) are in
tests/integration/test_bad_input_cluster.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.conftest import closed_port, playbook_env
from tests.unit.fake_apiserver import Recorder, kubeconfig, self_signed, serve, status

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
ROLES = sorted(p.parent.parent.name for p in (REPO / "roles").glob("*/meta/argument_specs.yml"))


# -- the cases -------------------------------------------------------------------------------------
# id -> (the module's arguments or a role to include with vars, the text its one line must hold).
# {kc} is the kubeconfig file written for the case, {dir} the case's directory, {srv:<name>} a server.
EXEC_FAILS = "#!/bin/sh\necho 'error: the SSO session has expired' >&2\nexit 1\n"
BROKEN_KUBECONFIGS = {
    "kubeconfig-empty": ("", "kubeconfig {kc} is empty"),
    "kubeconfig-garbage": ("apiVersion: v1\nclusters: [ {name: c\n  ::: }}}", "kubeconfig {kc} is not valid YAML at line"),
    "kubeconfig-binary": (b"\xff\xfe\x00garbage\x81", "kubeconfig {kc} cannot be read"),
    "kubeconfig-a-list": ("- just\n- a list\n", "kubeconfig {kc} is not a kubeconfig: it holds a list"),
    "kubeconfig-no-contexts": ("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n", "kubeconfig {kc} defines no contexts"),
    "kubeconfig-contexts-not-a-list": ("contexts: {test: {}}\n", "kubeconfig {kc} is malformed: 'contexts' must be a list, not dict"),
    "kubeconfig-unnamed-entry": ("contexts:\n- context: {cluster: c}\n", "kubeconfig {kc} is malformed: entry 1 of 'contexts' has no name"),
    "current-context-dangling": (kubeconfig("https://127.0.0.1:1", **{"current-context": "gone"}), "current-context 'gone' of kubeconfig {kc} is not among"),
    "no-current-context": (kubeconfig("https://127.0.0.1:1", **{"current-context": ""}), "kubeconfig {kc} sets no current-context"),
    "context-names-missing-cluster": (
        kubeconfig("https://127.0.0.1:1", contexts=[{"name": "test", "context": {"cluster": "elsewhere", "user": "u"}}]),
        "context 'test' of kubeconfig {kc} names cluster 'elsewhere', which the file does not define",
    ),
    "cluster-without-server": (kubeconfig("https://127.0.0.1:1", clusters=[{"name": "c", "cluster": {}}]), "cluster 'c' of kubeconfig {kc} has no server URL"),
    "context-names-missing-user": (
        kubeconfig("https://127.0.0.1:1", contexts=[{"name": "test", "context": {"cluster": "c", "user": "ghost"}}]),
        "context 'test' of kubeconfig {kc} names user 'ghost', which the file does not define",
    ),
    "exec-plugin-missing": (
        kubeconfig("https://127.0.0.1:1", user={"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws-iam-authenticator"}}),
        "the credential plugin 'aws-iam-authenticator' of user 'u' is not on PATH",
    ),
    "exec-plugin-fails": (
        kubeconfig("https://127.0.0.1:1", user={"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./expired-sso.sh"}}),
        "the credential plugin 'expired-sso.sh' gave no credential",
    ),
    "client-cert-file-missing": (
        kubeconfig("https://127.0.0.1:1", user={"client-certificate": "/nonexistent/client.crt", "client-key": "/nonexistent/client.key"}),
        "kubeconfig {kc} (context test) is unusable",
    ),
}
MODULE_CASES = {
    "kubeconfig-missing": ({"kubeconfig": "{dir}/no-such-kubeconfig"}, "kubeconfig {dir}/no-such-kubeconfig does not exist"),
    "wrong-context": ({"kubeconfig": "{kc}", "context": "prod-eu"}, "context 'prod-eu' not found in kubeconfig {kc} (available: test)"),
    "closed-port": (
        {"kubeconfig": "{kc}"},
        "cannot reach the Kubernetes API at {server} to read the server version: connection refused (nothing listens there",
    ),
    "unknown-host": (
        {"kubeconfig": "{kc}"},
        "cannot reach the Kubernetes API at {server} to read the server version: host name not known (check the server URL and DNS",
    ),
    "expired-token": (
        {"kubeconfig": "{kc}"},
        "the API server rejected the credentials (401 Unauthorized) while trying to read the server version: the token of user 'u'",
    ),
    "expired-api-key": (
        {"host": "{srv:unauthorized}", "api_key": "expired-api-key-of-the-test", "ca_cert": "{dir}/../server.crt"},
        "401 Unauthorized) while trying to read the server version: the token in api_key (K8S_AUTH_API_KEY) is invalid or expired",
    ),
    "untrusted-certificate": (
        {"kubeconfig": "{kc}"},
        "cannot reach the Kubernetes API at {server} to read the server version: TLS certificate verification failed (set ca_cert",
    ),
    "ca-cert-missing": ({"host": "{srv:unauthorized}", "ca_cert": "{dir}/no-ca.crt"}, "ca_cert {dir}/no-ca.crt does not exist"),
    "forbidden-version": ({"kubeconfig": "{kc}"}, 'forbidden (403) to read the server version: version is forbidden: User "system:anonymous"'),
    "not-a-kubernetes-api": ({"kubeconfig": "{kc}"}, "{server} does not answer as a Kubernetes API server"),
    "server-error": ({"kubeconfig": "{kc}"}, "API error 500 while trying to read the server version: etcdserver: request timed out"),
    "gateway-url-not-http": (
        {"_module": "gateway_check", "kubeconfig": "{kc}", "gateway_url": "https://gw.internal:443"},
        "gateway_url must be an http:// URL with a host, got 'https://gw.internal:443'",
    ),
    "gateway-not-namespace-name": (
        {"_module": "gateway_check", "kubeconfig": "{kc}", "gateway": "shared-gw"},
        "gateway must be namespace/name, got 'shared-gw'",
    ),
    "gateway-traffic-too-short": ({"_module": "gateway_check", "kubeconfig": "{kc}", "traffic_seconds": 2}, "traffic_seconds must be at least 5, got 2"),
    "bad-request-timeout": (
        {"kubeconfig": "{kc}", "request_timeout": "soon"},
        "argument 'request_timeout' is of type str and we were unable to convert to int",
    ),
}
# Which server, kubeconfig user and CA each module case gets.
SERVER_OF = {
    "expired-token": "unauthorized",
    "untrusted-certificate": "unauthorized",
    "forbidden-version": "forbidden",
    "not-a-kubernetes-api": "html",
    "server-error": "error",
}
CA_FOR = {"expired-token"}


def bad_role_values(role: str) -> dict[str, tuple[str, object, str]]:
    """kind -> (option, bad value, text of its line) for this role's argument spec: a value outside
    the choices of its first choice option, and a word for its first int option."""
    spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    out = {}
    choice = next((k for k, v in spec.items() if v.get("choices") and v.get("type", "str") == "str"), None)
    if choice:
        out["choice"] = (choice, "bogus-choice", "value of %s must be one of: %s, got: bogus-choice" % (choice, ", ".join(map(str, spec[choice]["choices"]))))
    number = next((k for k, v in spec.items() if v.get("type") == "int"), None)
    if number:
        out["int"] = (number, "soon", "argument '%s' is of type str and we were unable to convert to int" % number)
    return out


ROLE_CASES = {"role-%s-%s" % (role, kind): (role, *bad) for role in ROLES for kind, bad in bad_role_values(role).items()}
SAMPLE = REPO / "docs" / "samples" / "real-gpu" / "evidence" / "v1.37" / "real-gpu-h200" / "PRODUCT.yaml"
EVIDENCE = {
    "evidence_product": "bad-input",
    "evidence_metadata": yaml.safe_load(SAMPLE.read_text())["metadata"],
    "evidence_results": [],
    "evidence_run_id": "bad-input",
}
# id -> (role, its vars, the text of the one line); {dir} is the case's directory.
STEP_CASES = {
    "evidence-output-dir-unwritable": (
        "evidence",
        dict(EVIDENCE, evidence_output_dir="{dir}/a-file/out"),
        "cannot write the evidence bundle to {dir}/a-file/out/v1.37/bad-input",
    ),
    "evidence-signing-key-garbage": (
        "evidence",
        dict(EVIDENCE, evidence_output_dir="{dir}/out", evidence_signing_key="{dir}/garbage.key"),
        "cannot sign with {dir}/garbage.key",
    ),
    "evidence-signing-key-missing": (
        "evidence",
        dict(EVIDENCE, evidence_output_dir="{dir}/out", evidence_signing_key="{dir}/no-such.key"),
        "{dir}/no-such.key",
    ),
    "upload-s3-without-bucket": (
        "bundle_upload",
        {"bundle_upload_destination": "s3", "bundle_upload_source": "{dir}/bundle", "bundle_upload_run_id": "r1"},
        "bundle_upload: bundle_upload_s3_bucket is required for s3",
    ),
    "upload-http-url-not-http": (
        "bundle_upload",
        {"bundle_upload_destination": "http_put", "bundle_upload_source": "{dir}/bundle", "bundle_upload_run_id": "r1", "bundle_upload_http_url": "ftp://x"},
        "bundle_upload: bundle_upload_http_url must start with http:// or https://, got ftp://x",
    ),
    "upload-source-empty": (
        "bundle_upload",
        {
            "bundle_upload_destination": "http_put",
            "bundle_upload_source": "{dir}/empty",
            "bundle_upload_run_id": "r1",
            "bundle_upload_http_url": "http://127.0.0.1:1",
        },
        "bundle_upload: no file under {dir}/empty to upload",
    ),
    "upload-destination-refused": (
        "bundle_upload",
        {
            "bundle_upload_destination": "http_put",
            "bundle_upload_source": "{dir}/bundle",
            "bundle_upload_run_id": "r1",
            "bundle_upload_http_url": "{srv:forbidden}/up",
        },
        "Status code was 403 and not [200, 201, 204]",
    ),
}
ALL_IDS = sorted(BROKEN_KUBECONFIGS) + sorted(MODULE_CASES) + sorted(ROLE_CASES) + sorted(STEP_CASES)


def fill(value, ctx):
    if isinstance(value, str):
        for k, v in ctx.items():
            value = value.replace("{%s}" % k, v)
        return value
    if isinstance(value, dict):
        return {k: fill(v, ctx) for k, v in value.items()}
    return value


def case_block(cid: str, task: dict) -> dict:
    record = "{{ bad_input_cases | combine({%s: %s}) }}"
    return {
        "name": "Case %s" % cid,
        "block": [task, {"name": "Record %s" % cid, "ansible.builtin.set_fact": {"bad_input_cases": record % (json.dumps(cid), "{'failed': false}")}}],
        "rescue": [
            {
                "name": "Record the failure of %s" % cid,
                "ansible.builtin.set_fact": {
                    "bad_input_cases": record % (json.dumps(cid), "ansible_failed_result | combine({'failed_task': ansible_failed_task.name})")
                },
            }
        ],
    }


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """Runs every module and role case in one playbook: (case id -> its result, the whole output,
    the requests the servers saw, case id -> the texts of its expected line)."""
    tmp = tmp_path_factory.mktemp("bad-input")
    crt, key, ca = self_signed(tmp)
    rec = Recorder()
    servers = {
        "unauthorized": serve(rec, status(401, "Unauthorized", "Unauthorized"), (crt, key)),
        "forbidden": serve(rec, status(403, "Forbidden", 'version is forbidden: User "system:anonymous" cannot get path "/version"')),
        "html": serve(rec, (200, "text/html", b"<html><body>Welcome to nginx!</body></html>")),
        "error": serve(rec, status(500, "InternalError", "etcdserver: request timed out")),
    }
    ctx_all = {"srv:%s" % k: url for k, (_s, url) in servers.items()}
    tasks, expected = [], {}
    for cid in ALL_IDS:
        d = tmp / cid
        d.mkdir()
        ctx = dict(ctx_all, dir=str(d), kc=str(d / "kubeconfig"))
        if cid in BROKEN_KUBECONFIGS or cid in MODULE_CASES:
            if cid in BROKEN_KUBECONFIGS:
                text, said = BROKEN_KUBECONFIGS[cid]
                args = {"kubeconfig": "{kc}"}
            else:
                args, said = MODULE_CASES[cid]
                server = {"closed-port": "https://127.0.0.1:%d" % closed_port(), "unknown-host": "https://no-such-apiserver.invalid:6443"}.get(cid)
                server = server or (ctx_all["srv:%s" % SERVER_OF[cid]] if cid in SERVER_OF else "https://127.0.0.1:%d" % closed_port())
                text = kubeconfig(server, ca=ca if cid in CA_FOR else None)
                ctx["server"] = server
            if isinstance(text, bytes):
                (d / "kubeconfig").write_bytes(text)
            else:
                (d / "kubeconfig").write_text(text)
            (d / "expired-sso.sh").write_text(EXEC_FAILS)
            (d / "expired-sso.sh").chmod(0o755)
            args = fill(args, ctx)
            module = args.pop("_module", "cluster_info")
            tasks.append(case_block(cid, {"name": "Run %s" % cid, "ai_conformance.kubernetes.%s" % module: args}))
        elif cid in ROLE_CASES:
            role, option, value, said = ROLE_CASES[cid]
            include = {"name": "ai_conformance.kubernetes.%s" % role}
            tasks.append(case_block(cid, {"name": "Include %s" % role, "ansible.builtin.include_role": include, "vars": {option: value}}))
        else:
            role, variables, said = STEP_CASES[cid]
            (d / "a-file").write_text("a file where a directory should be\n")
            (d / "garbage.key").write_text("this is not a PEM key\n")
            (d / "bundle").mkdir()
            (d / "bundle" / "README.md").write_text("# bundle\n")
            (d / "empty").mkdir()
            include = {"name": "ai_conformance.kubernetes.%s" % role}
            tasks.append(case_block(cid, {"name": "Include %s" % role, "ansible.builtin.include_role": include, "vars": fill(variables, ctx)}))
        expected[cid] = fill(said, ctx)
    out_file = tmp / "cases.json"
    tasks.append({"name": "Write the cases", "ansible.builtin.copy": {"dest": str(out_file), "content": "{{ bad_input_cases | to_json }}", "mode": "0644"}})
    play = [{"name": "Bad input matrix", "hosts": "localhost", "gather_facts": False, "vars": {"bad_input_cases": {}}, "tasks": tasks}]
    (tmp / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = playbook_env(ANSIBLE_STDOUT_CALLBACK="default", K8S_AUTH_KUBECONFIG=str(tmp / "none"))
    cmd = [PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable, str(tmp / "play.yml")]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=900, check=False)
    for server_and_url in servers.values():
        server_and_url[0].shutdown()
    assert res.returncode == 0 and out_file.is_file(), res.stdout[-4000:] + res.stderr[-2000:]
    return json.loads(out_file.read_text()), res.stdout + res.stderr, rec.requests, expected


def one_line(result: dict) -> str:
    """The failure's message; for a loop, its failed items' (Ansible prints each on its own line)."""
    if result.get("msg") == "One or more items failed":
        return "\n".join(str(r.get("msg", "")) for r in result.get("results", []) if r.get("failed"))
    return str(result.get("msg", ""))


# Known defects, each with the change that fixes it (the xfail is strict: the fix makes it fail).
DEFECTS: dict[str, str] = {}


@pytest.mark.parametrize("cid", [pytest.param(c, marks=pytest.mark.xfail(reason=DEFECTS[c], strict=True)) if c in DEFECTS else c for c in ALL_IDS])
def test_bad_input_fails_with_one_clear_line_and_no_traceback(matrix, cid):
    cases, _output, _requests, expected = matrix
    result = cases[cid]
    assert result["failed"] is True, (cid, result)
    msg = one_line(result)
    assert expected[cid] in msg, (cid, msg)
    lines = [line for line in msg.splitlines() if expected[cid] in line]
    assert len(lines) == 1 and len(lines[0]) < 1200, msg
    for key in ("exception", "module_stderr", "module_stdout"):
        assert "Traceback" not in str(result.get(key, "")), (cid, result.get(key))


def test_the_matrix_has_forty_cases_or_more_and_each_role_is_in_it():
    assert len(ALL_IDS) >= 40
    assert {cid.split("-", 2)[1] if cid.startswith("role-") else None for cid in ROLE_CASES} <= set(ROLES)
    assert all(any(c.startswith("role-%s-" % role) for c in ROLE_CASES) for role in ROLES)


def test_no_case_prints_a_traceback_or_sends_anything_but_get(matrix):
    _cases, output, requests, _expected = matrix
    assert "Traceback (most recent call last)" not in output
    assert requests, "no case reached the fake servers: the server cases did not run"
    assert {m for m, _p in requests} <= {"GET", "PUT"}
    # The only PUT is the upload to a destination that refuses it; no API request creates anything.
    assert all(p.startswith("/up/") for m, p in requests if m == "PUT")


# -- the main job itself: its exit status ----------------------------------------------------------
def conformance(tmp_path, kc_text: str | None, **extra):
    """ansible-playbook conformance.yml on inventories/local with this kubeconfig: (rc, output)."""
    kc = tmp_path / "kubeconfig"
    if kc_text is not None:
        kc.write_text(kc_text)
    variables = {"conformance_kubeconfig": str(kc), "conformance_output_dir": str(tmp_path / "out"), **extra}
    cmd = [PLAYBOOK, "conformance.yml", "-i", "inventories/local", "-e", json.dumps(variables)]
    env = playbook_env(ANSIBLE_STDOUT_CALLBACK="default")
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO), env=env, timeout=300, check=False)
    return res.returncode, res.stdout


def fatal_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("fatal: ") or "[conformance] bad input: " in line]


@pytest.mark.parametrize(
    ("cid", "extra", "said"),
    [
        (
            "play-unknown-checklist-version",
            {"conformance_version": "v1.99"},
            "conformance_version must be one of v1.33, v1.34, v1.35, v1.36, v1.37 (got v1.99)",
        ),
        ("play-wrong-context", {"conformance_context": "prod-eu"}, "context 'prod-eu' not found in kubeconfig"),
        ("play-kubeconfig-missing", {"conformance_kubeconfig": "/nonexistent/kubeconfig"}, "kubeconfig /nonexistent/kubeconfig does not exist"),
        ("play-closed-port", {}, "cannot reach the Kubernetes API at https://127.0.0.1:"),
    ],
)
def test_the_main_job_exits_non_zero_with_one_clear_line(tmp_path, cid, extra, said):
    rc, out = conformance(tmp_path, kubeconfig("https://127.0.0.1:%d" % closed_port()), **extra)
    assert rc != 0, out[-3000:]
    hits = [line for line in fatal_lines(out) if said in line]
    assert hits, out[-3000:]
    assert "Traceback (most recent call last)" not in out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("PRODUCT.yaml"))


def test_the_main_job_names_an_expired_token(tmp_path):
    crt, key, ca = self_signed(tmp_path)
    rec = Recorder()
    srv, url = serve(rec, status(401, "Unauthorized", "Unauthorized"), (crt, key))
    try:
        rc, out = conformance(tmp_path, kubeconfig(url, ca=ca))
    finally:
        srv.shutdown()
    assert rc != 0
    hits = [line for line in fatal_lines(out) if "401 Unauthorized" in line and "is invalid or expired" in line]
    assert hits, out[-3000:]
    assert "Traceback (most recent call last)" not in out
    assert rec.requests and {m for m, _p in rec.requests} == {"GET"}
