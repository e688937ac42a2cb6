"""The reference cluster's processes: pid files, liveness, the marker that tells ours from a
process that reused a pid, orphans, start order and memory use (moved out of cluster.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.refcluster.config import PKI, STATE, Component, load_components, profile_components


class HarnessError(Exception):
    pass


def _pidfile(name: str) -> Path:
    return STATE / "run" / ("%s.pid" % name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _marked(pid: int, markers: tuple[str, ...]) -> bool:
    """Is this one of our processes?  Its command line names the state dir, or (for binaries
    configured only through the environment, like Karpenter) its environment carries the marker."""
    if any(m in _cmdline(pid) for m in markers):
        return True
    try:
        env = Path("/proc/%d/environ" % pid).read_bytes().split(b"\0")
    except OSError:
        return False
    return ("%s=%s" % (MARKER_ENV, STATE)).encode() in env


MARKER_ENV = "AIC_REFCLUSTER_STATE"


def _recorded(name: str) -> dict[str, Any] | None:
    p = _pidfile(name)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except ValueError:
        return None


def running(name: str) -> int | None:
    """pid of the component if the process we started is still alive (guards against pid reuse)."""
    rec = _recorded(name)
    if not rec:
        return None
    pid = int(rec["pid"])
    if _alive(pid) and _marked(pid, (rec["marker"],)):
        return pid
    return None


def _orphans() -> list[int]:
    """Processes whose command line points into the state dir but that no pid file names."""
    from tests.refcluster import node_host

    markers = (str(STATE) + "/", str(PKI) + "/")
    known = {os.getpid()}
    for c in load_components().values():
        pid = running(c.name) if c.run else None
        if pid:
            known |= _tree(pid)
    known |= node_host.node_pids()  # the real nodes' containers and shims, which leave the tree
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) not in known and _marked(int(d.name), markers):
            out.append(int(d.name))
    return out


def _tree(pid: int) -> set[int]:
    """``pid`` and all its descendants (a component's children, e.g. the real nodes' kubelets)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                children.setdefault(int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]), []).append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(children.get(p, []))
    return out


def unbuilt_optional(comps: dict[str, Component]) -> dict[str, str]:
    """Components whose binaries come from an OPTIONAL build (build.optional) that is not there:
    {name: why}.  The cluster runs without them (the binary's owner, or run.requires_built)."""
    from tests.refcluster import build as builder

    out = {}
    for name, c in comps.items():
        owners = [c.run["binary"].rpartition("/")[0] or name] if c.run.get("binary") else []
        for owner in owners + list(c.run.get("requires_built") or []):
            oc = comps.get(owner)
            why = builder.not_built_reason(oc) if oc is not None and oc.build.get("optional") else None
            if c.run and why:
                out[name] = why
                break
    return out


def is_optional(comps: dict[str, Component], name: str) -> bool:
    """Whether the component runs a binary of an OPTIONAL build (build.optional)."""
    c = comps[name]
    owners = [c.run["binary"].rpartition("/")[0] or name] if c.run.get("binary") else []
    return any(o in comps and comps[o].build.get("optional") for o in owners + list(c.run.get("requires_built") or []))


def started(fut: Any, comps: dict[str, Component], name: str, stop: Any, log: Any) -> Any:
    """The result of bringing one component up.  An OPTIONAL component that fails to start does not
    take the cluster down: it is stopped, the failure is said in one line and recorded (its tests
    read it from ``failed_start``), and the others go on."""
    failed = STATE / "run" / ("%s.failed" % name)
    try:
        res = fut.result()
    except Exception as exc:
        if not is_optional(comps, name):
            raise
        stop(name)
        why = "optional component %s failed to start and was stopped: %s" % (name, str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
        failed.parent.mkdir(parents=True, exist_ok=True)
        failed.write_text(str(exc) + "\n")
        log(why)
        return "failed"
    failed.unlink(missing_ok=True)
    return res


def failed_start(name: str) -> str | None:
    """Why an OPTIONAL component did not start with the cluster (None when it did or was not tried)."""
    f = STATE / "run" / ("%s.failed" % name)
    return f.read_text().strip() if f.is_file() else None


def run_order(comps: dict[str, Component], only: list[str] | None = None, log=None) -> list[Component]:
    """The components to run, each after the ones it comes ``after``; rejects dependency cycles.
    Without ``only``: every one not optional, less those an optional build did not produce (each
    said in one line to ``log``)."""
    skip = unbuilt_optional(comps) if only is None else {}
    if only is None:  # an optional component that failed to start is left out of health too
        skip.update({n: "it failed to start" for n in comps if comps[n].run and is_optional(comps, n) and failed_start(n) and n not in skip})
    for name, why in skip.items() if log else ():
        log("%s not started: %s" % (name, why))
    todo = {n: c for n, c in comps.items() if c.run and n not in skip and (n in only if only is not None else not c.run.get("optional"))}
    order: list[Component] = []
    placed: set[str] = set()
    while todo:
        ready = [c for c in todo.values() if all(d in placed or d not in todo for d in c.run.get("after", []))]
        if not ready:
            raise HarnessError("components.yaml has a dependency cycle among: %s" % ", ".join(sorted(todo)))
        for c in ready:
            order.append(c)
            placed.add(c.name)
            del todo[c.name]
    return order


def rss_mib() -> dict[str, float]:
    """Resident memory of each running component and all its descendants, MiB.  For the real
    worker nodes also their containers and shims (they live in the nodes' cgroups and reparent away
    from the supervisor)."""
    from tests.refcluster import node_host

    procs: dict[int, tuple[int, int]] = {}  # pid -> (ppid, rss bytes)
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                st = (d / "stat").read_text().rsplit(")", 1)[1].split()
                procs[int(d.name)] = (int(st[1]), int(st[21]) * os.sysconf("SC_PAGE_SIZE"))
            except (OSError, IndexError, ValueError):
                continue
    children: dict[int, list[int]] = {}
    for pid, (ppid, _rss) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    comps = load_components()
    for c in run_order(comps, profile_components() or [n for n, c in comps.items() if c.run]):
        pid = running(c.name)
        if not pid:
            continue
        tree, todo = set(), [pid]
        while todo:
            p = todo.pop()
            if p not in tree:
                tree.add(p)
                todo.extend(children.get(p, []))
        if c.name == "runtime-nodes":
            tree |= node_host.node_pids()
        out[c.name] = round(sum(procs[p][1] for p in tree if p in procs) / 2**20, 1)
    return out
