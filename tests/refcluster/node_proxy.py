"""Services for the real worker nodes' pods: kube-proxy (nftables mode) in the host's network namespace.

The two real nodes share this host's network namespace (each has its own mount namespace and CNI
bridge, aic-rt1 and aic-rt2, with the bridge as the pods' gateway).  One kube-proxy therefore serves
both: it programs the host's ``ip kube-proxy`` and ``ip6 kube-proxy`` nftables tables, and the
host routes between the bridges (net.ipv4.ip_forward, switched on here and restored at down).  It
runs as ``system:kube-proxy`` (the built-in system:node-proxier binding), under the first node's
name, so a Service's ClusterIP from a pod on either node reaches its endpoints on either node.

The nftables userspace (``nft``, Debian package nftables) is what kube-proxy drives; the kernel's
nf_tables is what it programs.  Where either is missing, kube-proxy is not started and one line says
why: the nodes still run containers, only Services are not routed from their pods.
"""

from __future__ import annotations

import shutil
import string
import subprocess
from pathlib import Path

from tests.refcluster.config import STATE

TABLES = (("ip", "kube-proxy"), ("ip6", "kube-proxy"))
FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
SAVED_FORWARD = STATE / "nodes" / "ip_forward.saved"
CLUSTER_CIDR = "10.89.0.0/16"  # the nodes' pod subnets (10.89.N.0/24, runtime_nodes.Node.values)


def problem(binary: Path) -> str | None:
    """Why kube-proxy cannot run here (None: it can)."""
    if not binary.is_file():
        return "kube-proxy is not built (%s; make cluster-build)" % binary
    if not shutil.which("nft"):
        return "the nft command is missing (Debian package nftables)"
    probe = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return "nftables refused a read: %s" % (probe.stderr.strip() or probe.stdout.strip())[-200:]
    if not FORWARD.is_file():
        return "%s is missing (no IPv4 forwarding to route between the node bridges)" % FORWARD
    return None


def render(template: Path, dest: Path, values: dict[str, object]) -> Path:
    dest.write_text(string.Template(template.read_text()).substitute(values, cluster_cidr=CLUSTER_CIDR))
    return dest


def enable_forwarding() -> None:
    """Route between the node bridges; the host's previous setting is saved once and restored at down."""
    if not SAVED_FORWARD.is_file():
        SAVED_FORWARD.parent.mkdir(parents=True, exist_ok=True)
        SAVED_FORWARD.write_text(FORWARD.read_text().strip())
    FORWARD.write_text("1")


def cleanup() -> list[str]:
    """Delete kube-proxy's tables and restore IPv4 forwarding; idempotent (also after a kill -9)."""
    done = []
    if shutil.which("nft"):
        for family, table in TABLES:
            if subprocess.run(["nft", "list", "table", family, table], capture_output=True, check=False).returncode == 0:
                subprocess.run(["nft", "delete", "table", family, table], capture_output=True, check=False)
                done.append("nftables table %s %s" % (family, table))
    if SAVED_FORWARD.is_file():
        FORWARD.write_text(SAVED_FORWARD.read_text().strip() or "0")
        SAVED_FORWARD.unlink()
        done.append("net.ipv4.ip_forward restored")
    return done
