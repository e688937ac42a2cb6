"""The reference cluster's throw-away PKI when several signers share its directory: the runtime nodes
are prepared in parallel threads, each signing its node's certificates beside kube-proxy's client.
CI once failed every integration test when one signer removed another's CSR before it was signed."""

from __future__ import annotations

import concurrent.futures
import subprocess
from pathlib import Path

from tests.refcluster import pki


def _openssl(*args: str, cwd: Path) -> str:
    return subprocess.run(["openssl", *args], cwd=str(cwd), capture_output=True, text=True, check=True).stdout.strip()


def test_parallel_signers_each_get_a_valid_certificate(tmp_path):
    server = "https://127.0.0.1:6443"
    pki.make_pki(tmp_path, server)
    nodes = ["rt-%d" % i for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(len(nodes) + 1) as pool:
        jobs = [pool.submit(pki.ensure_node_certs, tmp_path, server, n, "10.0.0.%d" % i) for i, n in enumerate(nodes, 1)]
        jobs.append(pool.submit(pki.ensure_client, tmp_path, server, "kube-proxy", "/CN=system:kube-proxy"))
        kubeconfigs = [j.result() for j in jobs]
    assert all(k.is_file() for k in kubeconfigs)
    stems = ["kubelet-%s" % n for n in nodes] + ["node-%s" % n for n in nodes] + ["kube-proxy", "admin", "apiserver"]
    serials = set()
    for stem in stems:
        crt = "%s.crt" % stem
        assert _openssl("verify", "-CAfile", "ca.crt", crt, cwd=tmp_path) == "%s: OK" % crt
        serials.add(_openssl("x509", "-in", crt, "-noout", "-serial", cwd=tmp_path))
    assert len(serials) == len(stems)
    assert "system:node:rt-2" in _openssl("x509", "-in", "node-rt-2.crt", "-noout", "-subject", cwd=tmp_path)
    assert not list(tmp_path.glob("*.csr"))
