# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the credentials come from: the auth options and the loading of a configuration.

``AUTH_ARG_SPEC`` is the argspec the doc fragment ``ai_conformance.kubernetes.auth`` documents
(the options of kubernetes.core's ``k8s_auth_options`` this collection honours, with the same
``K8S_AUTH_*`` variables).  ``load_configuration(params)`` returns a kubernetes.client
Configuration from explicit host and token, the in-cluster service account, or a kubeconfig and
context.  A kubeconfig is checked before the kubernetes library reads it, so that each way it can
be wrong (not YAML, not a kubeconfig, an unknown context, a credential plugin that is not
installed or fails) stops with one line that names the cause and the fix.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import logging
import os
import shutil
import traceback
from typing import Any

from ansible.module_utils.basic import env_fallback

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.api_errors import ClusterError, _first_line

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    HAS_K8S = True
    K8S_IMP_ERR = None
except ImportError:
    HAS_K8S = False
    K8S_IMP_ERR = traceback.format_exc()

    class ConfigException(Exception):  # type: ignore[no-redef]
        pass


try:
    import yaml

    HAS_YAML = True
except ImportError:
    HAS_YAML = False


def _env(*names: str) -> tuple[Any, list[str]]:
    return (env_fallback, list(names))


AUTH_ARG_SPEC: dict[str, Any] = {
    "kubeconfig": {"type": "path", "fallback": _env("K8S_AUTH_KUBECONFIG")},
    "context": {"type": "str", "fallback": _env("K8S_AUTH_CONTEXT")},
    "host": {"type": "str", "fallback": _env("K8S_AUTH_HOST")},
    "api_key": {"type": "str", "no_log": True, "fallback": _env("K8S_AUTH_API_KEY")},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": _env("K8S_AUTH_SSL_CA_CERT")},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "fallback": _env("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE")},
    # A path to the key, not the key itself.
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False, "fallback": _env("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE")},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "fallback": _env("K8S_AUTH_VERIFY_SSL")},
    "proxy": {"type": "str", "fallback": _env("K8S_AUTH_PROXY")},
    "no_proxy": {"type": "str", "fallback": _env("K8S_AUTH_NO_PROXY")},
    "impersonate_user": {"type": "str", "fallback": _env("K8S_AUTH_IMPERSONATE_USER")},
    "impersonate_groups": {"type": "list", "elements": "str", "fallback": _env("K8S_AUTH_IMPERSONATE_GROUPS")},
    "request_timeout": {"type": "int", "default": 30},
}

# The parameters that make two clients different (the client cache key).
AUTH_PARAMS = tuple(AUTH_ARG_SPEC)

# Credential plugins (kubeconfig users[].user.exec.command) of the managed platforms: how to
# install each, and what to do when it runs but gives no usable credential.
_PLUGIN_INSTALL = {
    "aws": "install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)",
    "aws-iam-authenticator": "install aws-iam-authenticator, or rewrite the kubeconfig with aws eks update-kubeconfig to use the AWS CLI",
    "gke-gcloud-auth-plugin": "install it (gcloud components install gke-gcloud-auth-plugin, or the google-cloud-cli-gke-gcloud-auth-plugin package)",
    "kubelogin": "install kubelogin (az aks install-cli, or https://azure.github.io/kubelogin/install.html)",
    "oci": "install the OCI CLI (https://docs.oracle.com/iaas/Content/API/SDKDocs/cliinstall.htm)",
}
_PLUGIN_SIGN_IN = {
    "aws": "sign in so that aws sts get-caller-identity works (aws sso login, a profile, or AWS_* variables)",
    "aws-iam-authenticator": "sign in so that aws sts get-caller-identity works",
    "gke-gcloud-auth-plugin": "sign in (gcloud auth login, or GOOGLE_APPLICATION_CREDENTIALS for a service account)",
    "kubelogin": "sign in (az login), or convert the kubeconfig for automation: kubelogin convert-kubeconfig -l spn (or msi, workloadidentity)",
    "oci": "configure the CLI (oci setup config) so that oci iam region list works",
}
_WHERE = "on the machine the module runs on (in AWX: in the execution environment)"


def _plugin(user: dict[str, Any]) -> str | None:
    """The credential plugin the kubernetes library will run for this user: it runs one only
    when no gcp or oidc auth-provider and no token gave a credential first."""
    provider = user.get("auth-provider")
    if (isinstance(provider, dict) and provider.get("name") in ("gcp", "oidc")) or user.get("token") or user.get("tokenFile"):
        return None
    ex = user.get("exec")
    if isinstance(ex, dict) and ex.get("command"):
        return str(ex["command"])
    return None


def plugin_missing(command: str, kubeconfig_dir: str) -> bool:
    """Whether an exec plugin's command cannot be found, as the kubernetes library would run it."""
    if os.sep in command:
        path = command if os.path.isabs(command) else os.path.join(kubeconfig_dir, command)
        return not os.access(path, os.X_OK)
    return shutil.which(command) is None


def plugin_missing_message(where: str, user_name: str, command: str) -> str:
    name = os.path.basename(command)
    fix = _PLUGIN_INSTALL.get(name, "install it or put its directory on PATH")
    return "%s: the credential plugin %r of user %r is not on PATH %s: %s" % (where, name, user_name, _WHERE, fix)


def plugin_failed_message(where: str, command: str, said: str) -> str:
    name = os.path.basename(command)
    fix = _PLUGIN_SIGN_IN.get(name, "run it by hand to see why")
    return "%s: the credential plugin %r gave no credential (%s): %s" % (where, name, said, fix)


class _Captured(logging.Handler):
    """Collects what the kubernetes library logs while it loads a kubeconfig: it logs a failing
    exec plugin (and goes on without credentials) instead of raising."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _kind_of(value: Any) -> str:
    return {str: "a string", list: "a list", int: "a number", float: "a number", bool: "a boolean"}.get(type(value), type(value).__name__)


def _named(doc: dict[str, Any], section: str, path: str) -> dict[str, dict[str, Any]]:
    """name -> entry of a kubeconfig list (clusters, contexts, users)."""
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise ClusterError("kubeconfig %s is malformed: %r must be a list, not %s" % (path, section, _kind_of(entries)), "config")
    out: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict) or not e.get("name"):
            raise ClusterError("kubeconfig %s is malformed: entry %d of %r has no name" % (path, i, section), "config")
        out[str(e["name"])] = e
    return out


def read_kubeconfig(path: str) -> dict[str, Any]:
    """The parsed kubeconfig, or one line saying why it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ClusterError("kubeconfig %s cannot be read: %s" % (path, getattr(exc, "strerror", None) or _first_line(exc)), "config")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        raise ClusterError("kubeconfig %s is not valid YAML%s: %s" % (path, at, getattr(exc, "problem", None) or _first_line(exc)), "config")
    if doc is None:
        raise ClusterError("kubeconfig %s is empty" % path, "config")
    if not isinstance(doc, dict):
        raise ClusterError("kubeconfig %s is not a kubeconfig: it holds %s, not a mapping with clusters, contexts and users" % (path, _kind_of(doc)), "config")
    return doc


def check_kubeconfig(doc: dict[str, Any], path: str, context: str | None) -> tuple[str, dict[str, Any]]:
    """The context that will be used and its user entry (empty when none), or one line naming
    what is wrong: the context, its cluster, its user, or the user's credential plugin."""
    contexts = _named(doc, "contexts", path)
    clusters = _named(doc, "clusters", path)
    users = _named(doc, "users", path)
    available = ", ".join(contexts) or "none"
    if not contexts:
        raise ClusterError("kubeconfig %s defines no contexts" % path, "config")
    if context and context not in contexts:
        raise ClusterError("context %r not found in kubeconfig %s (available: %s)" % (context, path, available), "config")
    name = context or doc.get("current-context")
    if not name:
        raise ClusterError("kubeconfig %s sets no current-context: set context (K8S_AUTH_CONTEXT) to one of: %s" % (path, available), "config")
    if name not in contexts:
        raise ClusterError("current-context %r of kubeconfig %s is not among its contexts (available: %s): set context" % (name, path, available), "config")
    ctx = contexts[name].get("context")
    ctx = ctx if isinstance(ctx, dict) else {}
    cluster = ctx.get("cluster")
    if not cluster:
        raise ClusterError("context %r of kubeconfig %s names no cluster" % (name, path), "config")
    if cluster not in clusters:
        raise ClusterError(
            "context %r of kubeconfig %s names cluster %r, which the file does not define (clusters: %s)"
            % (name, path, cluster, ", ".join(clusters) or "none"),
            "config",
        )
    if not isinstance(clusters[cluster].get("cluster"), dict) or not clusters[cluster]["cluster"].get("server"):
        raise ClusterError("cluster %r of kubeconfig %s has no server URL" % (cluster, path), "config")
    user_name = ctx.get("user")
    if not user_name:
        return name, {}
    if user_name not in users:
        raise ClusterError(
            "context %r of kubeconfig %s names user %r, which the file does not define (users: %s)" % (name, path, user_name, ", ".join(users) or "none"),
            "config",
        )
    user = users[user_name].get("user")
    user = dict(user, name=user_name) if isinstance(user, dict) else {"name": user_name}
    command = _plugin(user)
    if command and plugin_missing(command, os.path.dirname(os.path.abspath(path))):
        raise ClusterError(plugin_missing_message("kubeconfig %s (context %s)" % (path, name), user_name, command), "config")
    return name, user


def unauthorized_fix(user: dict[str, Any], path: str) -> str:
    """What to do when the API server answers 401 to the credentials of this kubeconfig user."""
    who = "user %r of kubeconfig %s" % (user.get("name"), path)
    provider = (user.get("auth-provider") or {}).get("name") if isinstance(user.get("auth-provider"), dict) else None
    if _plugin(user):
        name = os.path.basename(_plugin(user) or "")
        return "the credential from plugin %r of %s was refused: %s, and check that this identity has access to the cluster" % (
            name,
            who,
            _PLUGIN_SIGN_IN.get(name, "check what it signs in as"),
        )
    if provider in ("azure", "gcp"):
        fix = (
            "kubelogin convert-kubeconfig -l azurecli"
            if provider == "azure"
            else "install gke-gcloud-auth-plugin and rerun gcloud container clusters get-credentials"
        )
        return "%s uses the %s auth-provider, which current Kubernetes clients no longer support: %s" % (who, provider, fix)
    if user.get("token") or user.get("tokenFile"):
        return (
            "the token of %s is invalid or expired: fetch fresh credentials (aws eks update-kubeconfig, gcloud container clusters get-credentials, "
            "az aks get-credentials, oci ce cluster create-kubeconfig) or issue a new ServiceAccount token" % who
        )
    if user.get("client-certificate") or user.get("client-certificate-data"):
        return "the client certificate of %s was refused: it has expired or is not signed by the cluster's CA" % who
    return "%s carries no credentials (no token, client certificate or credential plugin)" % who


def _apply_overrides(cfg: Any, params: dict[str, Any]) -> None:
    """The TLS and proxy options given to the module win over the kubeconfig's."""
    for opt, attr in (("ca_cert", "ssl_ca_cert"), ("client_cert", "cert_file"), ("client_key", "key_file")):
        value = params.get(opt)
        if value:
            if not os.path.isfile(value):
                raise ClusterError("%s %s does not exist" % (opt, value), "config")
            setattr(cfg, attr, value)
    if params.get("validate_certs") is not None:
        cfg.verify_ssl = bool(params["validate_certs"])
    if params.get("proxy"):
        cfg.proxy = params["proxy"]
    if params.get("no_proxy"):
        cfg.no_proxy = params["no_proxy"]


def load_configuration(params: dict[str, Any]) -> tuple[Any, str, str]:
    """(kubernetes.client.Configuration, where it came from, what to do on a 401)."""
    kubeconfig = params.get("kubeconfig")
    context = params.get("context")
    host = params.get("host")
    cfg = k8s_client.Configuration()
    if host:
        cfg.host = host
        if params.get("api_key"):
            cfg.api_key = {"authorization": "Bearer %s" % params["api_key"]}
        _apply_overrides(cfg, params)
        if params.get("api_key"):
            fix = "the token in api_key (K8S_AUTH_API_KEY) is invalid or expired: issue a new one (for scheduled runs, a ServiceAccount token Secret)"
        elif params.get("client_cert"):
            fix = "the client certificate in client_cert was refused: it has expired or is not signed by the cluster's CA"
        else:
            fix = "no credentials were sent: set api_key (K8S_AUTH_API_KEY) or client_cert and client_key"
        return cfg, "host %s" % host, fix
    if not kubeconfig and not os.environ.get("KUBECONFIG") and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise ClusterError("in-cluster configuration failed: %s" % _first_line(exc), "config")
        _apply_overrides(cfg, params)
        return cfg, "in-cluster service account", "the pod's service account token was refused (its ServiceAccount was deleted or recreated)"
    path = os.path.expanduser(kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config")
    if not os.path.isfile(path):
        raise ClusterError("kubeconfig %s does not exist (set kubeconfig, K8S_AUTH_KUBECONFIG or KUBECONFIG)" % path, "config")
    if not HAS_YAML:
        raise ClusterError("the Python library 'PyYAML' is required to read a kubeconfig (pip install PyYAML)", "config")
    name, user = check_kubeconfig(read_kubeconfig(path), path, context)
    where = "kubeconfig %s (context %s)" % (path, name)
    captured = _Captured()
    root = logging.getLogger()
    root.addHandler(captured)
    try:
        k8s_config.load_kube_config(config_file=path, context=name, client_configuration=cfg, persist_config=False)
    except Exception as exc:  # pylint: disable=broad-except  # missing certs, plugin output, bad fields
        raise ClusterError("%s is unusable: %s" % (where, _first_line(exc)), "config")
    finally:
        root.removeHandler(captured)
    command = _plugin(user)
    if command and captured.lines and not cfg.api_key and not cfg.cert_file:
        raise ClusterError(plugin_failed_message(where, command, captured.lines[-1].splitlines()[0][:300]), "unauthorized")
    _apply_overrides(cfg, params)
    return cfg, "kubeconfig %s context %s" % (path, name), unauthorized_fix(user, path)
