"""Fleet mode on the reference cluster harness: playbooks/fleet.yml over three inventory hosts at
once, the main reference cluster, a second kwok-only cluster the harness starts beside it on other
ports (tests/refcluster/second.py), and a host whose kubeconfig points at a closed port.  Each
reachable cluster gets its own bundle with its own verdicts; the unreachable one is an ``error``
column with its reason in fleet.json and fleet.html, while the others complete; the run exits 2
(docs/fleet.md, "Exit status").  Limited to robust_controller (background lane, about a minute):
KubeRay runs on the main cluster only, so the two reachable clusters also differ in verdict."""

from __future__ import annotations

import json
import os
import socket
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from tests.refcluster import second
from tests.refcluster.ansible_run import run_playbook
from tests.refcluster.config import REPO

pytestmark = pytest.mark.integration

REQUIREMENTS = ["robust_controller"]


@pytest.fixture(scope="module")
def second_kubeconfig(refcluster):
    second.up()
    yield str(second.kubeconfig())
    if not os.environ.get("AIC_KEEP_CLUSTER"):
        second.down()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    return port


def fleet_inventory(tmp_path, kubeconfig, second_kc):
    """Three hosts, the reference cluster's probe settings (inventories/local) for all of them."""
    port = closed_port()
    dead = yaml.safe_load(Path(kubeconfig).read_text())
    for c in dead["clusters"]:
        c["cluster"]["server"] = "https://127.0.0.1:%d" % port
    (tmp_path / "dead.kubeconfig").write_text(yaml.safe_dump(dead))
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    out = tmp_path / "fleet-out"
    # inventories/local's settings; the kubeconfig becomes a host var, each bundle goes under fleet-out/<host>.
    shared = yaml.safe_load((REPO / "inventories/local/group_vars/all.yml").read_text())
    shared.pop("conformance_kubeconfig")
    shared.update(
        fleet_output_dir=str(out),
        conformance_output_dir="%s/{{ inventory_hostname }}" % out,
        fleet_hosts="{{ groups['clusters'] }}",
    )
    (inv / "group_vars/all.yml").write_text(yaml.safe_dump(shared))
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    hosts = {
        "refcluster": dict(local, conformance_kubeconfig=kubeconfig, fleet_platform="refcluster", fleet_metadata={"nodes": "kwok+real"}),
        "second": dict(local, conformance_kubeconfig=second_kc, fleet_platform="kwok", fleet_metadata={"nodes": "kwok"}),
        "unreachable": dict(local, conformance_kubeconfig=str(tmp_path / "dead.kubeconfig"), fleet_platform="none"),
    }
    doc = {"all": {"children": {"clusters": {"hosts": hosts}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(doc))
    return inv, out, port


class Matrix(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._on = [], False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("class") == "matrix":
            self._on = True
        elif tag == "tr" and self._on:
            self.rows.append(0)
        elif tag in ("td", "th") and self._on:
            self.rows[-1] += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._on = False


def test_fleet_of_two_clusters_and_an_unreachable_one(kubeconfig, second_kubeconfig, tmp_path):
    inv, out, port = fleet_inventory(tmp_path, kubeconfig, second_kubeconfig)
    res, wall = run_playbook("playbooks/fleet.yml", str(inv), {"conformance_requirements": REQUIREMENTS}, "-f", "3", timeout_s=1500)
    log = res.stdout[-4000:] + res.stderr[-2000:]
    # The unreachable host failed (and the kwok-only cluster failed its MUST gate): exit 2, as documented.
    assert res.returncode == 2, log

    # Each reachable cluster has its own bundle, with its own run id and verdicts.
    bundles = {h: json.loads(next((out / h).rglob("results.json")).read_text()) for h in ("refcluster", "second")}
    assert not (out / "unreachable").exists() or not list((out / "unreachable").rglob("results.json"))
    verdicts = {h: {r["requirement"]: r for r in b["requirements"]} for h, b in bundles.items()}
    assert verdicts["refcluster"]["robust_controller"]["verdict"] == "pass", verdicts["refcluster"]["robust_controller"]["reason"]
    assert verdicts["second"]["robust_controller"]["verdict"] == "fail", verdicts["second"]["robust_controller"]["reason"]
    assert bundles["refcluster"]["run_id"] != bundles["second"]["run_id"]

    # fleet.json: one column per host; the bundles' verdicts; the unreachable host an error with its reason.
    fleet = json.loads((out / "fleet.json").read_text())
    cols = {c["name"]: c for c in fleet["clusters"]}
    assert list(cols) == ["refcluster", "second", "unreachable"]
    assert cols["refcluster"]["status"] == cols["second"]["status"] == "ok"
    assert cols["refcluster"]["run_id"] == bundles["refcluster"]["run_id"] and cols["second"]["platform"] == "kwok"
    assert cols["unreachable"]["status"] == "error"
    assert "cannot reach" in cols["unreachable"]["reason"] and str(port) in cols["unreachable"]["reason"], cols["unreachable"]
    assert fleet["totals"]["error"] == ["unreachable"]
    for rid, cells in fleet["matrix"].items():
        for host in ("refcluster", "second"):
            row = verdicts[host].get(rid) or next((r for r in bundles[host]["extras"] if r["requirement"] == rid), None)
            assert (cells[host] or {}).get("verdict") == (row or {}).get("verdict"), (rid, host)
        assert cells["unreachable"]["verdict"] == "error" and cells["unreachable"]["reason"] == cols["unreachable"]["reason"]

    # fleet.html: one row per requirement, one column per cluster (after the requirement and level).
    m = Matrix()
    m.feed((out / "fleet.html").read_text())
    assert m.rows[0] == 2 + 3 and len(m.rows) - 1 == len(fleet["requirements"])
    assert set(m.rows[1:]) == {2 + 3}

    # The summary alone (an AWX workflow node), from the bundles on disk: no verdict changed.
    again, _wall = run_playbook("playbooks/fleet_summary.yml", str(inv), {}, timeout_s=300)
    assert again.returncode == 0, again.stdout[-3000:]
    drift = json.loads((out / "fleet.json").read_text())["drift"]
    assert drift["previous"] == str(out / "fleet.json") and drift["changed"] == [], drift
    print("fleet of 3 hosts (2 clusters, 1 unreachable): %.0f s" % wall)
