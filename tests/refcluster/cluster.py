"""Start, stop and inspect the local reference cluster.

    python -m tests.refcluster.cluster up|down|status|build

Up builds what is missing, makes a PKI, starts every component of components.yaml that has a
``run`` section as a local process (in dependency order, each waited on by its readiness check),
then creates the fake nodes.  It is idempotent: a healthy cluster is left alone; a half-dead one
(stale state dir, a crashed component) is torn down and started again.  Down stops every process
it started, by pid and process group, sweeps any process still pointing at the state dir, and
removes the state dir.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.refcluster import build as builder
from tests.refcluster import config as cfg
from tests.refcluster import pki, procs
from tests.refcluster.config import PKI, REPO, STATE, Component, ensure_collection_path, host_ip, kubeconfig_path, load_components, ports

# Moved to procs.py and wiring.py; the names stay importable from here (tests and tools use them).
from tests.refcluster.procs import (  # noqa: F401
    MARKER_ENV,
    HarnessError,
    _alive,
    _cmdline,
    _marked,
    _orphans,
    _pidfile,
    _recorded,
    _tree,
    rss_mib,
    run_order,
    running,
)
from tests.refcluster.wiring import (  # noqa: F401
    UNWIRE_KINDS,
    _apply,
    _client,
    _condition_true,
    _context,
    _docs,
    _expand,
    _fill,
    _manifests,
    _own_name,
    _to_url,
    install_crds,
    render_files,
    unwire,
    wire,
)

READY_TIMEOUT_S = 90


# -- processes ---------------------------------------------------------------------------------


def _command(comp: Component, comps: dict[str, Component], ctx: dict[str, Any]) -> list[str]:
    run = comp.run
    args = _expand(run.get("args", []), ctx)
    if "python" in run:
        return [sys.executable, "-u", str(REPO / run["python"])] + args
    owner, _, binary = run["binary"].rpartition("/")
    owner = owner or comp.name
    if owner not in comps or not comps[owner].build:
        raise HarnessError("component %s: binary %s names no buildable component" % (comp.name, run["binary"]))
    path = comps[owner].bin_dir / binary
    if not path.is_file():
        raise HarnessError("component %s: binary %s is missing; run `make cluster-build`" % (comp.name, path))
    return [str(path)] + args


def start(comp: Component, comps: dict[str, Component]) -> int:
    if comp.run.get("crds"):
        install_crds(comp)
    render_files(comp)
    ctx = _context()
    cmd = _command(comp, comps, ctx)
    ready_file = _expand(comp.run.get("ready", {}), ctx).get("file")
    if ready_file:
        Path(ready_file).unlink(missing_ok=True)  # a file left by an earlier start proves nothing
    logs = STATE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({k: str(v) for k, v in _expand(comp.run.get("env", {}), ctx).items()})
    env[MARKER_ENV] = str(STATE)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / ".build" / "collections")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    with (logs / ("%s.log" % comp.name)).open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(REPO), env=env, start_new_session=True)
    _pidfile(comp.name).parent.mkdir(parents=True, exist_ok=True)
    # The marker (the state dir path is on every command line) lets down() and status() tell our
    # process from an unrelated one that reused the pid.
    _pidfile(comp.name).write_text(json.dumps({"pid": proc.pid, "cmd": cmd, "marker": str(STATE), "started": time.time()}))
    return proc.pid


def _log_tail(name: str, n: int = 15) -> str:
    p = STATE / "logs" / ("%s.log" % name)
    if not p.is_file():
        return "(no log)"
    return "\n    ".join(p.read_text(errors="replace").splitlines()[-n:])


def _probe_ready(spec: dict[str, Any]) -> bool:
    if "file" in spec:
        return Path(spec["file"]).is_file()
    url = spec.get("http") or spec.get("https")
    ctx = None
    if "https" in spec:
        ctx = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
        if spec.get("insecure"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if spec.get("kubeconfig"):
            stem = spec["kubeconfig"]
            ctx.load_cert_chain(str(PKI / ("%s.crt" % stem)), str(PKI / ("%s.key" % stem)))
    try:
        with urllib.request.urlopen(url, timeout=3, context=ctx) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def wait_ready(comp: Component, timeout_s: float | None = None) -> float:
    spec = _expand(comp.run.get("ready", {}), _context())
    timeout_s = timeout_s or float(spec.pop("timeout_s", READY_TIMEOUT_S))
    t0 = time.monotonic()
    while True:
        if running(comp.name) is None:
            raise HarnessError(
                "component %s exited during start-up; last log lines:\n    %s\n  full log: %s"
                % (comp.name, _log_tail(comp.name), STATE / "logs" / ("%s.log" % comp.name))
            )
        if not spec or _probe_ready(spec):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            raise HarnessError("component %s not ready after %ds (%s); last log lines:\n    %s" % (comp.name, timeout_s, spec, _log_tail(comp.name)))
        time.sleep(0.25)  # readiness of a local process has no watch to offer: a short poll


def stop(name: str, grace_s: float = 10) -> bool:
    comp = load_components().get(name)
    if comp is not None and comp.run:
        try:
            unwire(comp)
        except Exception as exc:  # the process must still be stopped
            print("warning: could not unwire %s: %s" % (name, exc), file=sys.stderr)
    pid = running(name)
    if pid is None:
        _pidfile(name).unlink(missing_ok=True)
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except OSError:
            pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if not _alive(pid):
            break
    _pidfile(name).unlink(missing_ok=True)
    return True


# -- ordering ------------------------------------------------------------------------------------


# -- ports ---------------------------------------------------------------------------------------
def _port_holder(port: int) -> str:
    try:
        out = subprocess.run(["ss", "-ltnpH", "sport = :%d" % port], capture_output=True, text=True, timeout=5).stdout.strip()
        return out.split("users:")[-1] if out else "unknown process"
    except (OSError, subprocess.SubprocessError):
        return "unknown process"


def check_ports() -> None:
    for name, port in ports().items():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise HarnessError(
                "port %d (%s) on 127.0.0.1 is in use by %s: stop it, or change `ports:` in %s"
                % (port, name, _port_holder(port), "tests/refcluster/components.yaml")
            )
        finally:
            s.close()


# -- lifecycle -----------------------------------------------------------------------------------
def status() -> dict[str, Any]:
    comps = load_components()
    procs = {}
    for c in run_order(comps, cfg.profile_components()):
        pid = running(c.name)
        ready = bool(pid) and (not c.run.get("ready") or _probe_ready(_expand(c.run["ready"], _context())))
        procs[c.name] = {"pid": pid, "ready": ready}
    healthy = bool(procs) and all(p["ready"] for p in procs.values())
    info: dict[str, Any] = {"state_dir": str(STATE), "kubeconfig": str(kubeconfig_path()), "healthy": healthy, "components": procs}
    if healthy:
        try:
            info["nodes"] = _nodes_summary()
        except Exception as exc:  # status must always print something readable
            info["nodes_error"] = str(exc)
    return info


def _nodes_summary() -> list[dict[str, Any]]:
    out = []
    for n in _client().list("v1", "Node")["items"]:
        conds = {c["type"]: c["status"] for c in n.get("status", {}).get("conditions", [])}
        out.append(
            {
                "name": n["metadata"]["name"],
                "ready": conds.get("Ready") == "True",
                "gpus": n.get("status", {}).get("allocatable", {}).get("nvidia.com/gpu", "0"),
            }
        )
    return out


def bootstrap() -> None:
    """Objects every run needs: the fake GPU, CPU and sandbox nodes, Ready through kwok, and the
    sandbox RuntimeClass."""
    import yaml

    from tests.refcluster.fakes import gpus

    c = _client()
    nodes = gpus.node_manifests() + [gpus.host_node_manifest(host_ip())]
    for node in nodes:
        if c.get("v1", "Node", node["metadata"]["name"]) is None:
            c.create(node)
    # The sandbox runtime the platform offers (its nodes are the sandbox pool above).
    for obj in yaml.safe_load_all((REPO / "tests/refcluster/manifests/runtimeclass-gvisor.yaml").read_text()):
        _apply(c, obj)

    def schedulable(o: dict[str, Any] | None) -> bool:
        # Ready, and the node lifecycle controller has lifted its not-ready/unreachable taints.
        ready = any(x["type"] == "Ready" and x["status"] == "True" for x in (o or {}).get("status", {}).get("conditions", []))
        taints = [t["key"] for t in (o or {}).get("spec", {}).get("taints", []) or []]
        return ready and not any(k.startswith("node.kubernetes.io/") for k in taints)

    for node in nodes:
        c.wait_for("v1", "Node", node["metadata"]["name"], schedulable, timeout_s=90, what="become Ready and untainted")


def down(quiet: bool = False) -> dict[str, Any]:
    comps = load_components()
    stopped = []
    for c in reversed(run_order(comps, cfg.profile_components() or [n for n, c in comps.items() if c.run])):  # optional ones too
        if stop(c.name):
            stopped.append(c.name)
    orphans = _orphans()
    for pid in orphans:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    # What the real worker nodes may leave on the host when their supervisor was killed:
    # container processes, cgroups, namespace mounts, CNI bridges (never rm -rf across a mount).
    from tests.refcluster import node_host

    host_left = node_host.cleanup_host() if cfg.CLUSTER == "main" else []  # another cluster has no real nodes
    if STATE.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(STATE)], check=False)
    res = {"stopped": stopped, "orphans_killed": orphans, "host_cleaned": host_left, "state_removed": str(STATE)}
    if not quiet:
        print(json.dumps(res))
    return res


def up(only: list[str] | None = None) -> dict[str, Any]:
    t0 = time.monotonic()
    comps = load_components()
    st = status()
    only = only if only is not None else cfg.profile_components()
    if st["healthy"] and only == cfg.profile_components():
        st["already_up"] = True
        return st
    if STATE.exists() or _orphans():
        down(quiet=True)  # stale or half-dead: start clean
    check_ports()
    timings: dict[str, Any] = {"build": builder.build_all(cfg.profile().get("build"), log=lambda m: print(m, file=sys.stderr))}
    timings["images"] = build_images() if cfg.CLUSTER == "main" else 0.0
    ensure_collection_path()
    t_start = time.monotonic()
    pki.make_pki(PKI, "https://127.0.0.1:%d" % ports()["apiserver"])
    STATE.mkdir(parents=True, exist_ok=True)
    kc = STATE / "kubeconfig"
    if not kc.is_file() or kc.read_text() != kubeconfig_path().read_text():
        kc.write_text(kubeconfig_path().read_text())
    try:

        def bring_up(c: Component) -> float:
            # CRDs + process start + readiness + wiring (+ node bootstrap for kwok).
            tc = time.monotonic()
            start(c, comps)
            wait_ready(c)
            if c.run.get("manifests"):
                wire(c)
            if c.name == "kwok":
                bootstrap()
            return round(time.monotonic() - tc, 2)

        # Each component starts as soon as the components it comes ``after`` are up, side by
        # side with the others (most of the time is spent waiting on CRDs, readiness and kwok's
        # pod stages).  run_order also rejects dependency cycles.
        todo = {c.name: c for c in run_order(comps, only, log=lambda m: print(m, file=sys.stderr))}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            running_now: dict[Any, str] = {}
            while todo or running_now:
                for name, c in list(todo.items()):
                    if not any(d in todo or d in running_now.values() for d in c.run.get("after", [])):
                        running_now[pool.submit(bring_up, c)] = name
                        del todo[name]
                finished, _pending = concurrent.futures.wait(list(running_now), return_when=concurrent.futures.FIRST_COMPLETED)
                for fut in finished:
                    timings[n] = procs.started(fut, comps, (n := running_now.pop(fut)), stop, lambda m: print(m, file=sys.stderr))
    except Exception:
        down(quiet=True)  # never leave a half-started cluster or orphan processes behind
        raise
    timings["start_total_s"] = round(time.monotonic() - t_start, 2)
    timings["up_total_s"] = round(time.monotonic() - t0, 2)
    st = status()
    st["timings"] = timings
    return st


def build_images() -> float:
    """The images the real worker nodes import (no registry): built from the cache, seconds spent."""
    from tests.refcluster import images
    from tests.refcluster.config import CACHE

    t0 = time.monotonic()
    images.build_images(CACHE, log=lambda m: print(m, file=sys.stderr))
    return round(time.monotonic() - t0, 1)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    try:
        if cmd == "up":
            print(json.dumps(up(), indent=2))
        elif cmd == "down":
            down()
        elif cmd == "status":
            st = status()
            st["rss_mib"] = rss_mib()
            print(json.dumps(st, indent=2))
            return 0 if st["healthy"] else 1
        elif cmd == "build":
            timings = builder.build_all(argv[1:] or None)
            if not argv[1:]:
                timings["images"] = build_images()
            print(json.dumps(timings))
        elif cmd == "stop":
            for name in argv[1:]:
                stop(name)
        elif cmd == "start":
            comps = load_components()
            for name in argv[1:]:
                start(comps[name], comps)
                wait_ready(comps[name])
                if comps[name].run.get("manifests"):
                    wire(comps[name])
        else:
            print("usage: python -m tests.refcluster.cluster up|down|status|build [component...]|stop NAME|start NAME", file=sys.stderr)
            return 2
    except (HarnessError, builder.BuildError) as exc:
        print("ERROR: %s" % exc, file=sys.stderr)
        return 2
    except Exception as exc:  # one readable line; AIC_DEBUG=1 shows the traceback
        if os.environ.get("AIC_DEBUG"):
            raise
        print("ERROR: reference cluster %s failed: %s: %s (AIC_DEBUG=1 for details)" % (cmd, exc.__class__.__name__, exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
