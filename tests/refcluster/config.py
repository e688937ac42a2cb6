"""Load components.yaml and resolve where things live."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("AIC_CACHE", str(Path.home() / ".cache" / "ai-conformance")))
# The main cluster's state dir; another cluster the harness starts beside it (AIC_CLUSTER_NAME, a
# name under `clusters:` of components.yaml) lives in <state>-<name>, with its own PKI and ports.
MAIN_STATE = Path(os.environ.get("AIC_REFCLUSTER_STATE", str(REPO / ".build" / "refcluster")))
CLUSTER = os.environ.get("AIC_CLUSTER_NAME", "").strip() or "main"


def state_dir(name: str = "main") -> Path:
    return MAIN_STATE if name == "main" else MAIN_STATE.with_name("%s-%s" % (MAIN_STATE.name, name))


STATE = state_dir(CLUSTER)
COMPONENTS_FILE = Path(__file__).with_name("components.yaml")


@dataclass
class Component:
    name: str
    build: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return "%s-%s" % (self.name, self.build["version"].replace("/", "_"))

    @property
    def bin_dir(self) -> Path:
        return CACHE / "bin" / self.key


def load_raw() -> dict[str, Any]:
    with COMPONENTS_FILE.open() as fh:
        return yaml.safe_load(fh)


def load_components() -> dict[str, Component]:
    raw = load_raw()
    return {name: Component(name, spec.get("build") or {}, spec.get("run") or {}) for name, spec in raw["components"].items()}


def host_ip() -> str:
    """This machine's primary non-loopback IPv4 address (AIC_HOST_IP overrides).

    Local processes that stand in for pods listen here: Kubernetes refuses loopback addresses in
    EndpointSlices, and the pods of the host node (kwok, host network) get this address as pod IP,
    so Services, the apiserver's service proxy and Prometheus discovery reach the processes."""
    import socket

    if os.environ.get("AIC_HOST_IP"):
        return os.environ["AIC_HOST_IP"]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only asks the kernel for the route's source
        ip = s.getsockname()[0]
    except OSError:
        ip = ""
    finally:
        s.close()
    if not ip or ip.startswith("127."):
        raise RuntimeError("no non-loopback IPv4 address on this machine: set AIC_HOST_IP to one the processes can listen on")
    return ip


def profile(name: str | None = None) -> dict[str, Any]:
    """What another cluster runs (``components``) and on which ports (``ports``); {} for the main one."""
    name = name or CLUSTER
    if name == "main":
        return {}
    clusters = load_raw().get("clusters") or {}
    if name not in clusters:
        raise ValueError("AIC_CLUSTER_NAME=%s: no such cluster in %s (known: main, %s)" % (name, COMPONENTS_FILE.name, ", ".join(sorted(clusters)) or "none"))
    return clusters[name]


def profile_components(name: str | None = None) -> list[str] | None:
    """The components the cluster runs; None: the main cluster's (every one that is not optional)."""
    return list(profile(name)["components"]) if profile(name) else None


def ports(name: str | None = None) -> dict[str, int]:
    """The main cluster's ports, or another cluster's own (only those, so that checking them never
    trips over the main cluster's)."""
    prof = profile(name)
    return {k: int(v) for k, v in (prof["ports"] if prof else load_raw()["ports"]).items()}


def kubernetes_version() -> str:
    return str(load_raw()["kubernetes_version"])


# The PKI outlives the state dir: kubeconfigs handed out stay valid across down/up and repairs.
def pki_dir(name: str = "main") -> Path:
    state = state_dir(name)
    return state.with_name(state.name + "-pki")


PKI = pki_dir(CLUSTER)


def kubeconfig_path(name: str | None = None) -> Path:
    return (pki_dir(name) if name else PKI) / "admin.kubeconfig"


def ensure_collection_path() -> Path:
    """Make ``ansible_collections.ai_conformance.kubernetes`` importable from this checkout.

    A relative symlink .build/collections/ansible_collections/ai_conformance/kubernetes -> repo
    root; ansible.cfg points collections_path at .build/collections for the same reason."""
    import sys

    base = REPO / ".build" / "collections"
    link = base / "ansible_collections" / "ai_conformance" / "kubernetes"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(Path("../../../.."))
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    return base


# The roles whose defaults the main job's variables come from (the domain roles and upstream_suite).
LOCAL_VAR_ROLES = ("accelerators", "scheduling", "observability", "networking", "operators", "security", "upstream_suite")


def local_vars() -> dict:
    """The reference cluster's probe settings as the main job on inventories/local sees them: the
    inventory's group variables over the roles' defaults (inventories/local sets only what differs;
    some defaults derive from others, e.g. the probe images from conformance_probe_image), rendered
    by Ansible itself (once per process; each call gets its own copy)."""
    import copy

    return copy.deepcopy(_rendered_local_vars())


@functools.lru_cache(maxsize=1)
def _rendered_local_vars() -> dict:
    """A play on inventories/local names the roles with ``when: false`` (their defaults in scope at
    their real precedence, no task of theirs runs) and writes the values to a file."""
    import json
    import subprocess
    import sys
    import tempfile

    names = set()
    for role in LOCAL_VAR_ROLES:
        names |= set(yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {})
    names |= set(yaml.safe_load((REPO / "inventories" / "local" / "group_vars" / "all.yml").read_text()) or {})
    with tempfile.TemporaryDirectory(prefix="aic-local-vars-") as tmp:
        out = Path(tmp) / "vars.json"
        play = [
            {
                "name": "Render inventories/local's effective variables",
                "hosts": "all",
                "gather_facts": False,
                "roles": [{"role": "ai_conformance.kubernetes." + r, "when": False} for r in LOCAL_VAR_ROLES],
                "tasks": [
                    {
                        "name": "Write them",
                        "ansible.builtin.copy": {"content": "{{ dict(_names | zip(query('ansible.builtin.vars', *_names))) | to_json }}", "dest": str(out)},
                        "vars": {"_names": sorted(names)},
                    }
                ],
            }
        ]
        (Path(tmp) / "render.yml").write_text(yaml.safe_dump(play, sort_keys=False))
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ensure_collection_path()), ANSIBLE_NOCOLOR="1")
        cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(Path(tmp) / "render.yml"), "-i", str(REPO / "inventories" / "local")]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), env=env, timeout=120, check=False)
        if res.returncode != 0:
            raise RuntimeError("rendering inventories/local's variables failed:\n" + res.stdout[-3000:] + res.stderr[-3000:])
        return json.loads(out.read_text())


def gateway_check_args() -> dict:
    """gateway_check's settings for the reference cluster, read from inventories/local (the one
    place they are written down), so tests and benchmarks run the probe as `make demo` does."""
    v = local_vars()
    return {
        "gateway_class": v["networking_gateway_class"],
        "listener_port": v["networking_listener_port"],
        "backend_ports": v["networking_backend_ports"],
        "host_network": v["networking_backend_host_network"],
        "node_selector": v["networking_backend_node_selector"],
        "tolerations": v["networking_backend_tolerations"],
    }


def disaggregated_args() -> dict:
    """disaggregated_inference_probe's settings for the reference cluster, read from inventories/local."""
    v = local_vars()
    return {
        "serving_namespace": v["networking_disagg_namespace"],
        "model": v["networking_disagg_model"],
        "gateway": v["networking_disagg_gateway"],
        "listener_port": v["networking_disagg_listener_port"],
        "hostname": v["networking_disagg_hostname"],
        "prefill_metrics_port": v["networking_disagg_prefill_metrics_port"],
        "decode_metrics_port": v["networking_disagg_decode_metrics_port"],
    }


def inference_pool_args() -> dict:
    """inference_pool_probe's settings for the reference cluster, read from inventories/local."""
    v = local_vars()
    return {
        "pool": v["networking_pool_name"],
        "gateway": v["networking_pool_gateway"],
        "listener_port": v["networking_pool_listener_port"],
        "model": v["networking_pool_model"],
        "load_max_tokens": v["networking_pool_load_max_tokens"],
    }
