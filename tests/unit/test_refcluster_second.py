"""The second, kwok-only reference cluster (tests/refcluster/second.py): its own ports, state dir
and PKI, never the main cluster's; the harness run for it only knows its own components.  No
cluster is started: `status` of a cluster that is not up only reads pid files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.refcluster import config, second
from tests.refcluster.config import REPO


def harness(cmd, name):
    env = dict(os.environ, AIC_CLUSTER_NAME=name)
    argv = [sys.executable, "-m", "tests.refcluster.cluster", cmd]
    return subprocess.run(argv, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=120, check=False)


def test_the_second_clusters_ports_never_meet_the_main_ones():
    from tests.refcluster import runtime_nodes

    main = set(config.ports("main").values())
    # The real worker nodes of the main cluster: refcluster-rt-N adds 10*(N-1) to its two base ports.
    base = config.ports("main")
    for n in range(len(runtime_nodes.NODES) + 4):
        main |= {base["node_kubelet"] + 10 * n, base["node_kubelet_healthz"] + 10 * n}
    mine = config.ports(second.NAME)
    assert set(mine) >= {"etcd", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok"}
    assert not (set(mine.values()) & main), sorted(set(mine.values()) & main)
    assert len(set(mine.values())) == len(mine)


def test_its_state_and_pki_are_apart_from_the_main_clusters():
    st, pki = config.state_dir(second.NAME), config.pki_dir(second.NAME)
    assert st != config.state_dir() and pki != config.pki_dir()
    # The harness tells its processes by "<state>/" and "<pki>/" on their command lines.
    for mine in (str(st) + "/", str(pki) + "/"):
        for theirs in (str(config.state_dir()) + "/", str(config.pki_dir()) + "/"):
            assert not mine.startswith(theirs) and not theirs.startswith(mine)
    assert second.kubeconfig() == pki / "admin.kubeconfig"
    assert second.paths()["apiserver"] == "https://127.0.0.1:%d" % config.ports(second.NAME)["apiserver"]


def test_the_harness_run_for_it_knows_only_its_components():
    res = harness("status", second.NAME)
    st = json.loads(res.stdout)
    assert st["state_dir"] == str(config.state_dir(second.NAME))
    assert st["kubeconfig"] == str(second.kubeconfig())
    assert sorted(st["components"]) == sorted(config.profile_components(second.NAME))
    assert "kwok" in st["components"] and "kueue" not in st["components"]
    if not st["healthy"]:
        assert res.returncode == 1


def test_an_unknown_cluster_name_is_one_clear_line():
    res = harness("status", "third")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "ERROR: reference cluster status failed: ValueError: AIC_CLUSTER_NAME=third: no such cluster in components.yaml (known: main, second) "
        "(AIC_DEBUG=1 for details)"
    ]
    assert "Traceback" not in res.stderr
