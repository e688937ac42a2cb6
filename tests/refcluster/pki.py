"""A throw-away PKI for the reference cluster, made with the openssl CLI."""

from __future__ import annotations

import base64
import fcntl
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLIENTS = {
    # file stem: subject
    "admin": "/O=system:masters/CN=refcluster-admin",
    "controller-manager": "/CN=system:kube-controller-manager",
    "scheduler": "/CN=system:kube-scheduler",
    "front-proxy-client": "/CN=front-proxy-client",
    # a user with no rights at all: tests use it to prove 403 handling
    "nobody": "/CN=refcluster-nobody",
    # the apiserver's identity towards kubelets (logs, exec): kubelets authorize it by webhook
    "apiserver-kubelet-client": "/O=system:masters/CN=kube-apiserver-kubelet-client",
}


def _openssl(args: list[str], cwd: Path) -> None:
    res = subprocess.run(["openssl"] + args, cwd=str(cwd), capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], res.stderr.strip().splitlines()[-1:] or res.returncode))


@contextmanager
def _locked(d: Path) -> Iterator[None]:
    """One certificate at a time in ``d``: the runtime nodes are prepared in parallel threads (and
    kube-proxy's client beside them), each signing into the same directory."""
    with open(d / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _cert(d: Path, stem: str, subject: str, ext: str) -> None:
    """Key, CSR and CA-signed certificate for ``stem``; the CSR is removed once signed.  A random serial
    per certificate: no shared serial file that two signers could read at once."""
    csr = d / ("%s.csr" % stem)
    with _locked(d):
        (d / ("%s.ext" % stem)).write_text(ext)
        _openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "%s.key" % stem, "-out", csr.name, "-subj", subject], d)
        try:
            _openssl(
                [
                    "x509",
                    "-req",
                    "-in",
                    csr.name,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-set_serial",
                    "0x%s" % secrets.token_hex(16),
                    "-days",
                    "3650",
                    "-out",
                    "%s.crt" % stem,
                    "-extfile",
                    "%s.ext" % stem,
                ],
                d,
            )
        finally:
            csr.unlink(missing_ok=True)


def kubeconfig(d: Path, stem: str, server: str) -> str:
    b64 = lambda p: base64.b64encode((d / p).read_bytes()).decode()  # noqa: E731
    return """apiVersion: v1
kind: Config
clusters:
- name: refcluster
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: refcluster-%s
  context: {cluster: refcluster, user: %s}
current-context: refcluster-%s
""" % (server, b64("ca.crt"), stem, b64("%s.crt" % stem), b64("%s.key" % stem), stem, stem, stem)


def make_pki(d: Path, server: str) -> None:
    """Create CA, serving and client certificates plus one kubeconfig per client in ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "complete").is_file():
        _make(d, server)
    _ensure_late(d, server)
    # The webhook pair under controller-runtime's file names, for webhook servers that take a cert dir.
    (d / "webhook-tls").mkdir(exist_ok=True)
    for src, dst in (("webhook.crt", "tls.crt"), ("webhook.key", "tls.key")):
        (d / "webhook-tls" / dst).write_bytes((d / src).read_bytes())


def _make(d: Path, server: str) -> None:
    _openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=refcluster-ca"], d)
    san = "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1"
    _cert(d, "apiserver", "/CN=kube-apiserver", "subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % san)
    # Serving cert for webhooks and aggregated APIs run as local processes (apiserver dials 127.0.0.1).
    _cert(d, "webhook", "/CN=refcluster-webhook", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    for stem, subject in CLIENTS.items():
        _cert(d, stem, subject, "extendedKeyUsage=clientAuth\n")
    _openssl(["genrsa", "-out", "sa.key", "2048"], d)
    _openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], d)
    for stem in ("admin", "controller-manager", "scheduler", "nobody"):
        (d / ("%s.kubeconfig" % stem)).write_text(kubeconfig(d, stem, server))
    (d / "complete").write_text("ok\n")


def _ensure_late(d: Path, server: str) -> None:
    """Certificates added after a PKI was first made: created when missing, so a kept PKI (and the
    kubeconfigs handed out from it) stays valid."""
    if not (d / "apiserver-kubelet-client.crt").is_file():
        _cert(d, "apiserver-kubelet-client", CLIENTS["apiserver-kubelet-client"], "extendedKeyUsage=clientAuth\n")


def ensure_node_certs(d: Path, server: str, node: str, ip: str) -> Path:
    """A real worker node's client certificate (system:node:<name> in system:nodes, what the Node
    authorizer expects), its kubelet serving certificate, and its kubeconfig.  Returns the kubeconfig."""
    serving = "kubelet-%s" % node
    if not (d / ("%s.crt" % serving)).is_file():
        _cert(d, serving, "/CN=%s" % node, "subjectAltName=DNS:%s,IP:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" % (node, ip))
    return ensure_client(d, server, "node-%s" % node, "/O=system:nodes/CN=system:node:%s" % node)


def ensure_client(d: Path, server: str, stem: str, subject: str) -> Path:
    """A client certificate for ``subject`` and its kubeconfig <stem>.kubeconfig, created when missing
    (e.g. kube-proxy's ``/CN=system:kube-proxy``, bound to system:node-proxier by default RBAC)."""
    if not (d / ("%s.crt" % stem)).is_file():
        _cert(d, stem, subject, "extendedKeyUsage=clientAuth\n")
    kc = d / ("%s.kubeconfig" % stem)
    text = kubeconfig(d, stem, server)
    if not kc.is_file() or kc.read_text() != text:
        kc.write_text(text)
    return kc
