"""Credentials and kubeconfigs: every way they can be wrong is one line naming the cause and the fix;
the auth options of kubernetes.core that the collection honours reach the requests."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.doc_fragments.auth import ModuleDocFragment
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import client as cl
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import kube_auth
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import probe as probe_mod
from tests.unit.conftest import closed_port, kubeconfig_text, status_body

VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.2"}
EXEC_USER = "user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: %s, args: [get-token]}}"


@pytest.fixture(autouse=True)
def _no_pool(monkeypatch):
    cl._POOL.clear()
    monkeypatch.setattr(cl, "RETRY_BACKOFF_S", 0.01)
    yield
    cl._POOL.clear()


@pytest.fixture
def server():
    """server(code, body) -> (url, seen): answers every request so; seen collects the headers."""
    servers = []

    def start(code: int = 200, body: dict | None = None):
        seen: list = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.headers)
                data = json.dumps(body if body is not None else VERSION).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return "http://127.0.0.1:%d" % srv.server_address[1], seen

    yield start
    for s in servers:
        s.shutdown()


def write(tmp_path, text, name="kc"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def failure(params):
    with pytest.raises(cl.ClusterError) as e:
        cl.check_reachable(cl.get_client(params))
    assert "\n" not in e.value.message
    return e.value


# ---- a kubeconfig that is not one ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("hello", "is not a kubeconfig: it holds a string, not a mapping with clusters, contexts and users"),
        ("- a\n- b\n", "is not a kubeconfig: it holds a list, not a mapping with clusters, contexts and users"),
        ("this: [is not", "is not valid YAML at line 1, column 14: expected ',' or ']', but got '<stream end>'"),
        ("", "is empty"),
        ("apiVersion: v1\nkind: Config\n", "defines no contexts"),
        ("clusters: 5\ncontexts: [{name: a}]\n", "is malformed: 'clusters' must be a list, not a number"),
        ("contexts: [{context: {}}]\n", "is malformed: entry 1 of 'contexts' has no name"),
    ],
)
def test_garbage_kubeconfig_says_what_is_wrong(tmp_path, text, said):
    kc = write(tmp_path, text)
    err = failure({"kubeconfig": kc})
    assert (err.kind, err.message) == ("config", "kubeconfig %s %s" % (kc, said))


def test_unknown_context_lists_the_available_ones(tmp_path):
    kc = write(tmp_path, kubeconfig_text("http://127.0.0.1:1", context="prod"))
    err = failure({"kubeconfig": kc, "context": "staging"})
    assert (err.kind, err.message) == ("config", "context 'staging' not found in kubeconfig %s (available: prod)" % kc)


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("current-context: test", "current-context: ''", "kubeconfig {kc} sets no current-context: set context (K8S_AUTH_CONTEXT) to one of: test"),
        (
            "current-context: test",
            "current-context: gone",
            "current-context 'gone' of kubeconfig {kc} is not among its contexts (available: test): set context",
        ),
        ("cluster: c,", "cluster: zz,", "context 'test' of kubeconfig {kc} names cluster 'zz', which the file does not define (clusters: c)"),
        ("user: u}", "user: who}", "context 'test' of kubeconfig {kc} names user 'who', which the file does not define (users: u)"),
        ("cluster: {server: 'http://127.0.0.1:1'}", "cluster: {}", "cluster 'c' of kubeconfig {kc} has no server URL"),
        ("context: {cluster: c, user: u}", "context: {user: u}", "context 'test' of kubeconfig {kc} names no cluster"),
    ],
)
def test_a_context_that_leads_nowhere_is_named(tmp_path, old, new, said):
    text = kubeconfig_text("http://127.0.0.1:1")
    assert old in text
    kc = write(tmp_path, text.replace(old, new))
    err = failure({"kubeconfig": kc})
    assert (err.kind, err.message) == ("config", said.format(kc=kc))


# ---- credential plugins --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin", "fix"),
    [
        ("aws", "install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"),
        ("gke-gcloud-auth-plugin", "install it (gcloud components install gke-gcloud-auth-plugin, or the google-cloud-cli-gke-gcloud-auth-plugin package)"),
        ("kubelogin", "install kubelogin (az aks install-cli, or https://azure.github.io/kubelogin/install.html)"),
        ("my-sso-helper", "install it or put its directory on PATH"),
    ],
)
def test_a_credential_plugin_not_on_path_is_named_with_its_fix(tmp_path, monkeypatch, plugin, fix):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    kc = write(tmp_path, kubeconfig_text("http://127.0.0.1:1").replace("user: {token: not-a-real-token}", EXEC_USER % plugin))
    err = failure({"kubeconfig": kc})
    assert err.kind == "config"
    assert err.message == (
        "kubeconfig %s (context test): the credential plugin %r of user 'u' is not on PATH on the machine the module runs on "
        "(in AWX: in the execution environment): %s" % (kc, plugin, fix)
    )


def test_a_plugin_is_not_required_when_the_user_has_a_token(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    user = "user: {token: t, exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}}"
    kc = write(tmp_path, kubeconfig_text("http://127.0.0.1:1").replace("user: {token: not-a-real-token}", user))
    assert cl.get_client({"kubeconfig": kc})._auth_headers() == {"Authorization": "Bearer t"}


def fake_plugin(tmp_path, name, script):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    p = bindir / name
    p.write_text("#!/bin/sh\n" + script)
    p.chmod(0o755)
    return str(bindir)


def test_a_credential_plugin_that_fails_gives_its_own_words_and_how_to_sign_in(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "PATH", fake_plugin(tmp_path, "aws", "echo 'Unable to locate credentials. You can configure credentials by running \"aws configure\".' >&2\nexit 255\n")
    )
    kc = write(tmp_path, kubeconfig_text("http://127.0.0.1:1").replace("user: {token: not-a-real-token}", EXEC_USER % "aws"))
    err = failure({"kubeconfig": kc})
    assert err.kind == "unauthorized"
    assert err.message == (
        "kubeconfig %s (context test): the credential plugin 'aws' gave no credential (exec: process returned 255. Unable to locate credentials. "
        'You can configure credentials by running "aws configure".): sign in so that aws sts get-caller-identity works '
        "(aws sso login, a profile, or AWS_* variables)" % kc
    )


def test_a_working_credential_plugin_token_is_sent_and_a_refusal_names_the_plugin(tmp_path, monkeypatch, server):
    cred = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": "tok-from-plugin"}}
    monkeypatch.setenv("PATH", fake_plugin(tmp_path, "kubelogin", "echo '%s'\n" % json.dumps(cred)))
    url, seen = server()
    kc = write(tmp_path, kubeconfig_text(url).replace("user: {token: not-a-real-token}", EXEC_USER % "kubelogin"))
    assert cl.check_reachable(cl.get_client({"kubeconfig": kc})) == VERSION
    assert seen[-1]["Authorization"] == "Bearer tok-from-plugin"
    url, seen = server(401, status_body(401, "Unauthorized", "Unauthorized"))
    kc = write(tmp_path, kubeconfig_text(url).replace("user: {token: not-a-real-token}", EXEC_USER % "kubelogin"), "kc2")
    err = failure({"kubeconfig": kc})
    assert err.kind == "unauthorized"
    assert err.message == (
        "the API server rejected the credentials (401 Unauthorized) while trying to read the server version: the credential from plugin "
        "'kubelogin' of user 'u' of kubeconfig %s was refused: sign in (az login), or convert the kubeconfig for automation: "
        "kubelogin convert-kubeconfig -l spn (or msi, workloadidentity), and check that this identity has access to the cluster" % kc
    )


# ---- the server's answers ------------------------------------------------------------------------


def test_an_expired_kubeconfig_token_says_how_to_get_a_fresh_one(api_server):
    kc = api_server({"/version": (401, status_body(401, "Unauthorized", "Unauthorized"))})
    err = failure({"kubeconfig": kc})
    assert err.kind == "unauthorized" and err.status == 401
    assert err.message == (
        "the API server rejected the credentials (401 Unauthorized) while trying to read the server version: the token of user 'u' of "
        "kubeconfig %s is invalid or expired: fetch fresh credentials (aws eks update-kubeconfig, gcloud container clusters get-credentials, "
        "az aks get-credentials, oci ce cluster create-kubeconfig) or issue a new ServiceAccount token" % kc
    )


def test_an_invalid_api_key_names_the_option(server):
    url, seen = server(401, status_body(401, "Unauthorized", "Unauthorized"))
    err = failure({"host": url, "api_key": "expired"})
    assert seen[-1]["Authorization"] == "Bearer expired"
    assert err.message == (
        "the API server rejected the credentials (401 Unauthorized) while trying to read the server version: the token in api_key "
        "(K8S_AUTH_API_KEY) is invalid or expired: issue a new one (for scheduled runs, a ServiceAccount token Secret)"
    )


def test_anonymous_refusal_says_no_credentials_were_sent(server):
    url, _seen = server(403, status_body(403, "Forbidden", 'forbidden: User "system:anonymous" cannot get path "/version"'))
    err = failure({"host": url})
    assert err.kind == "forbidden"
    assert err.message.endswith(
        'User "system:anonymous" cannot get path "/version": no credentials were sent: set api_key (K8S_AUTH_API_KEY) or client_cert and client_key'
    )


def test_an_unreachable_host_is_one_line_with_what_to_check(tmp_path):
    port = closed_port()
    kc = write(tmp_path, kubeconfig_text("http://127.0.0.1:%d" % port))
    err = failure({"kubeconfig": kc})
    assert (err.kind, err.message) == (
        "unreachable",
        "cannot reach the Kubernetes API at http://127.0.0.1:%d to read the server version: connection refused "
        "(nothing listens there: check the server URL)" % port,
    )


# ---- the options of kubernetes.core --------------------------------------------------------------


def test_tls_options_override_the_kubeconfig(tmp_path):
    for f in ("ca.pem", "tls.crt", "tls.key"):
        (tmp_path / f).write_text("x")
    kc = write(tmp_path, kubeconfig_text("https://127.0.0.1:1"))
    c = cl.get_client(
        {
            "kubeconfig": kc,
            "ca_cert": str(tmp_path / "ca.pem"),
            "client_cert": str(tmp_path / "tls.crt"),
            "client_key": str(tmp_path / "tls.key"),
            "validate_certs": False,
        }
    )
    cfg = c.configuration
    assert (cfg.ssl_ca_cert, cfg.cert_file, cfg.key_file, cfg.verify_ssl) == (
        str(tmp_path / "ca.pem"),
        str(tmp_path / "tls.crt"),
        str(tmp_path / "tls.key"),
        False,
    )
    with pytest.raises(cl.ClusterError) as e:
        cl.get_client({"host": "https://10.0.0.1:6443", "client_cert": str(tmp_path / "missing.crt")})
    assert (e.value.kind, e.value.message) == ("config", "client_cert %s does not exist" % (tmp_path / "missing.crt"))


def test_impersonation_sends_one_header_per_group(server):
    url, seen = server()
    cl.check_reachable(cl.get_client({"host": url, "api_key": "t", "impersonate_user": "alice", "impersonate_groups": ["dev", "ops"]}))
    assert seen[-1]["Impersonate-User"] == "alice"
    assert seen[-1].get_all("Impersonate-Group") == ["dev", "ops"]


def test_proxy_is_used_unless_no_proxy_names_the_host(server, monkeypatch):
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    url, seen = server()
    proxy = "http://127.0.0.1:%d" % closed_port()
    err = failure({"host": url, "proxy": proxy})
    assert err.kind == "unreachable" and err.message.startswith("cannot reach the Kubernetes API at %s through proxy %s" % (url, proxy))
    assert seen == []
    assert cl.check_reachable(cl.get_client({"host": url, "proxy": proxy, "no_proxy": "localhost,127.0.0.0/8"})) == VERSION
    assert len(seen) == 1


def test_the_auth_doc_fragment_documents_the_argspec():
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = kube_auth.AUTH_ARG_SPEC
    assert sorted(doc) == sorted(spec)
    for name, s in spec.items():
        assert doc[name]["type"] == s["type"], name
        assert doc[name].get("default") == s.get("default"), name
        assert doc[name].get("aliases") == s.get("aliases"), name
        assert doc[name].get("elements") == s.get("elements"), name
        for var in (s.get("fallback") or (None, []))[1]:
            assert "E(%s)" % var in " ".join(doc[name]["description"]), (name, var)
    assert set(kube_auth.AUTH_PARAMS) == set(spec)


def test_the_modules_use_the_documented_auth_argspec():
    assert sorted(probe_mod.auth_argspec()) == sorted(kube_auth.AUTH_ARG_SPEC)
