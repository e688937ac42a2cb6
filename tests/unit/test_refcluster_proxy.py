"""The real nodes' kube-proxy plumbing (tests/refcluster/node_proxy.py) without touching the host:
a stand-in ``nft`` on PATH records what it is asked and answers from a table list, and the
forwarding sysctl is a file under tmp_path."""

from __future__ import annotations

import os
import stat

import pytest

from tests.refcluster import node_proxy

NFT = """#!/bin/sh
echo "$*" >> "{log}"
case "$*" in
  "list tables") cat "{tables}";;
  "list table "*) grep -qx "table $3 $4" "{tables}";;
  "delete table "*) grep -vx "table $3 $4" "{tables}" > "{tables}.new"; mv "{tables}.new" "{tables}";;
  *) exit 1;;
esac
"""


@pytest.fixture()
def host(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tables = tmp_path / "tables"
    tables.write_text("table ip kube-proxy\ntable ip6 kube-proxy\ntable inet someone-elses\n")
    nft = bin_dir / "nft"
    nft.write_text(NFT.format(log=tmp_path / "nft.log", tables=tables))
    nft.chmod(nft.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", "%s%s%s" % (bin_dir, os.pathsep, os.environ["PATH"]))
    forward = tmp_path / "ip_forward"
    forward.write_text("0\n")
    monkeypatch.setattr(node_proxy, "FORWARD", forward)
    monkeypatch.setattr(node_proxy, "SAVED_FORWARD", tmp_path / "saved")
    return tmp_path


def test_cleanup_deletes_only_kube_proxys_tables_and_restores_forwarding(host):
    node_proxy.enable_forwarding()
    node_proxy.enable_forwarding()  # a restart keeps the first saved value, not its own "1"
    assert node_proxy.FORWARD.read_text() == "1"
    done = node_proxy.cleanup()
    assert done == ["nftables table ip kube-proxy", "nftables table ip6 kube-proxy", "net.ipv4.ip_forward restored"]
    assert (host / "tables").read_text() == "table inet someone-elses\n"
    assert node_proxy.FORWARD.read_text() == "0"
    assert node_proxy.cleanup() == []  # idempotent: nothing left to do


def test_problem_names_what_is_missing(host, tmp_path):
    assert node_proxy.problem(tmp_path / "absent") == "kube-proxy is not built (%s; make cluster-build)" % (tmp_path / "absent")
    binary = tmp_path / "kube-proxy"
    binary.write_text("")
    assert node_proxy.problem(binary) is None
    (host / "bin" / "nft").write_text("#!/bin/sh\necho 'netlink: Operation not permitted' >&2\nexit 1\n")
    assert node_proxy.problem(binary) == "nftables refused a read: netlink: Operation not permitted"
