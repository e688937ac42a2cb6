"""Build the reference cluster's upstream components from their Go modules.

Each component gets its own tools module in ``$AIC_CACHE/src/<name>-<version>`` (a shared module
would let minimum version selection raise every k8s.io/* dependency to the newest one required by
any component).  Binaries land in ``$AIC_CACHE/bin/<name>-<version>/``; a stamp file holding the
hash of the component's build spec makes a warm run a no-op.  Nothing built here is committed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.refcluster.config import CACHE, REPO, Component, load_components


class BuildError(Exception):
    pass


def _run(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
    with log.open("a") as fh:
        fh.write("$ %s\n" % " ".join(cmd))
        fh.flush()
        rc = subprocess.call(cmd, cwd=str(cwd), stdout=fh, stderr=subprocess.STDOUT, env=env)
    if rc != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise BuildError("exit %d from %s\n    %s" % (rc, " ".join(cmd[:3]), "\n    ".join(tail)))


def _go_env(cgo: bool = False) -> dict[str, str]:
    go = shutil.which("go")
    if not go:
        raise BuildError("the Go toolchain is not on PATH: install Go 1.26 or newer (https://go.dev/dl) and retry")
    env = dict(os.environ)
    env.setdefault("GOTOOLCHAIN", "auto")
    env.setdefault("GOFLAGS", "-buildvcs=false")
    # Static binaries, except where upstream needs cgo (runc's nsexec, libseccomp).
    env["CGO_ENABLED"] = "1" if cgo else "0"
    return env


def ensure_debian_packages(packages: list[str], why: str) -> None:
    """Install the Debian packages a build needs (headers for cgo) when they are missing."""
    missing = [p for p in packages if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BuildError("%s needs the Debian packages %s: install them (apt-get install %s) and retry" % (why, ", ".join(missing), " ".join(missing)))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise BuildError("%s needs %s and `%s` failed: %s" % (why, ", ".join(missing), " ".join(cmd[:2]), (out.stdout + out.stderr).strip()[-300:]))


def _staging_replaces(module: str, version: str) -> list[str]:
    """Replace lines mapping each ./staging module of k8s.io/kubernetes to its tagged release."""
    url = "%s/%s/@v/%s.mod" % (os.environ.get("GOPROXY", "https://proxy.golang.org").split(",")[0].rstrip("/"), module, version)
    with urllib.request.urlopen(url, timeout=60) as resp:
        text = resp.read().decode()
    staging_version = "v0." + version.lstrip("v").split(".", 1)[1]
    mods = [line.split()[0] for line in text.splitlines() if "=> ./staging/" in line]
    if not mods:
        raise BuildError("no ./staging replaces found in %s" % url)
    return ["%s=%s@%s" % (m, m, staging_version) for m in mods]


def _ldflags(comp: Component) -> str:
    flags = ["-s", "-w"]
    if comp.build.get("version_ldflags"):
        v = comp.build["version"]
        major, minor = v.lstrip("v").split(".")[:2]
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            flags += [
                "-X",
                "%s.gitVersion=%s" % (pkg, v),
                "-X",
                "%s.gitMajor=%s" % (pkg, major),
                "-X",
                "%s.gitMinor=%s" % (pkg, minor),
                "-X",
                "%s.gitTreeState=clean" % pkg,
                "-X",
                "%s.buildDate=2026-01-01T00:00:00Z" % pkg,
            ]
    return " ".join(flags)


def _seed_go_sum(src: Path, ref: str, logf: Path, env: dict[str, str]) -> None:
    """Start the tools module's go.sum from the upstream module's own go.sum.

    Upstream already recorded (and its CI verified) these hashes; seeding them means a dependency
    that the checksum database does not know (Kueue's pre-release scheduler-library) is still
    verified, against upstream's hash, instead of being skipped with GONOSUMDB.
    """
    out = subprocess.run(["go", "mod", "download", "-json", ref], cwd=str(src), env=env, capture_output=True, text=True)
    if out.returncode != 0:
        with logf.open("a") as fh:
            fh.write(out.stdout + out.stderr)
        raise BuildError("go mod download %s failed: %s" % (ref, (out.stdout + out.stderr).strip().splitlines()[-1:]))
    upstream = Path(json.loads(out.stdout)["Dir"]) / "go.sum"
    if upstream.is_file():
        (src / "go.sum").write_text(upstream.read_text())


def _patch_module(src: Path, b: dict[str, Any], logf: Path, env: dict[str, str]) -> None:
    """Build the main module from a patched copy in the build dir (``patches``: file -> [[old, new]]).

    For a change upstream does not carry that this machine class needs (gVisor's shim insists on
    lowering its OOM score, which the VM forbids).  The copy lives only in the build cache; each
    replacement must match exactly once, so a new upstream version that moved the code fails the
    build instead of building unpatched."""
    ref = "%s@%s" % (b["module"], b["version"])
    moddir = Path(json.loads(subprocess.check_output(["go", "mod", "download", "-json", ref], cwd=str(src), env=env))["Dir"])
    dest = src / "patched"
    if dest.exists():
        subprocess.run(["chmod", "-R", "u+w", str(dest)], check=False)
        shutil.rmtree(dest)
    shutil.copytree(moddir, dest, symlinks=True)
    subprocess.run(["chmod", "-R", "u+w", str(dest)], check=True)
    for rel, edits in b["patches"].items():
        f = dest / rel
        text = f.read_text()
        for old, new in edits:
            if text.count(old) != 1:
                raise BuildError("patch of %s in %s does not apply: the text to replace occurs %d times" % (rel, ref, text.count(old)))
            text = text.replace(old, new)
        f.write_text(text)
    _run(["go", "mod", "edit", "-replace=%s=./patched" % b["module"]], src, logf, env)


def _local_sources(comp: Component) -> dict[str, str]:
    """Our own Go packages built inside the component's tools module (fakes that need its
    dependencies): {package dir in the module: file name -> text}."""
    out = {}
    for pkg, rel in (comp.build.get("local_packages") or {}).items():
        for f in sorted((REPO / rel).glob("*.go")):
            out["%s/%s" % (pkg, f.name)] = f.read_text()
    return out


def spec_hash(comp: Component) -> str:
    # ``optional`` (when to build, not what) is left out: recording a new build time rebuilds nothing.
    what = {k: v for k, v in comp.build.items() if k != "optional"}
    spec = {"build": what, "local": _local_sources(comp)}
    if not spec["local"]:
        spec = what  # unchanged hash for the upstream-only components already built
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def is_built(comp: Component) -> bool:
    stamp = comp.bin_dir / ".stamp"
    return stamp.is_file() and stamp.read_text().strip() == spec_hash(comp) and all((comp.bin_dir / b).is_file() for b in comp.build["binaries"])


def build(comp: Component, log=print) -> float:
    """Build one component if needed; return seconds spent (0 when cached)."""
    if is_built(comp):
        return 0.0
    b = comp.build
    env = _go_env(bool(b.get("cgo")))
    if b.get("debian_packages"):
        ensure_debian_packages(list(b["debian_packages"]), "component %s" % comp.name)
    src = CACHE / "src" / comp.key
    src.mkdir(parents=True, exist_ok=True)
    comp.bin_dir.mkdir(parents=True, exist_ok=True)
    lock = (CACHE / "src" / (comp.key + ".lock")).open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        if is_built(comp):
            return 0.0
        t0 = time.monotonic()
        logf = src / "build.log"
        logf.write_text("")
        log("building %s (%s@%s) into %s; log: %s" % (comp.name, b["module"], b["version"], comp.bin_dir, logf))
        try:
            (src / "go.mod").write_text("module local/ai-conformance/%s\n\ngo %s\n" % (comp.name, b.get("go", "1.26.0")))
            imports = "\n".join('\t_ "%s"' % p for p in sorted(set(b["binaries"].values())) if not p.startswith("./"))
            (src / "tools.go").write_text("//go:build tools\n\npackage tools\n\nimport (\n%s\n)\n" % imports)
            edits = []
            if b.get("staging_replaces"):
                edits += ["-replace=%s" % r for r in _staging_replaces(b["module"], b["version"])]
            edits += ["-replace=%s" % r for r in b.get("replace", [])]
            for mod, files in (b.get("stub_modules") or {}).items():
                # A module upstream resolves to a directory of its own tree that the module zip
                # lacks; the stub is written here from the build spec.
                stub = src / "stubs" / mod.replace("/", "_")
                stub.mkdir(parents=True, exist_ok=True)
                (stub / "go.mod").write_text("module %s\n\ngo %s\n" % (mod, b.get("go", "1.26.0")))
                for fname, text in files.items():
                    (stub / fname).write_text(text)
                edits.append("-replace=%s=./%s" % (mod, stub.relative_to(src)))
            edits += ["-exclude=%s" % e for e in b.get("exclude", [])]
            if edits:
                _run(["go", "mod", "edit"] + edits, src, logf, env)
            _seed_go_sum(src, "%s@%s" % (b["module"], b["version"]), logf, env)
            wanted = ["%s@%s" % (b["module"], b["version"])] + list(b.get("require", []))
            wanted += ["%s@%s" % (p, b["version"]) for p in sorted(set(b["binaries"].values())) if p != b["module"] and p.startswith(b["module"] + "/")]
            if b["binaries"]:  # an assets-only component (CRDs) needs nothing but the download
                _run(["go", "get"] + wanted, src, logf, env)
            if b.get("patches"):
                _patch_module(src, b, logf, env)
            for rel, text in _local_sources(comp).items():
                (src / rel).parent.mkdir(parents=True, exist_ok=True)
                (src / rel).write_text(text)
            tags = ",".join(b.get("tags", []))
            for name, pkg in b["binaries"].items():
                cmd = ["go", "build", "-trimpath"] + (["-tags", tags] if tags else []) + ["-ldflags", _ldflags(comp), "-o", str(comp.bin_dir / name), pkg]
                _run(cmd, src, logf, env)
            if b.get("assets"):
                ref = "%s@%s" % (b["module"], b["version"])
                moddir = json.loads(subprocess.check_output(["go", "mod", "download", "-json", ref], cwd=str(src), env=env))["Dir"]
                adir = comp.bin_dir / "assets"
                adir.mkdir(exist_ok=True)
                parts = []
                for rel in b["assets"]:
                    data = (Path(moddir) / rel).read_text()
                    (adir / Path(rel).name).write_text(data)
                    parts.append(data.strip())
                if b.get("concat_assets"):
                    (adir / b["concat_assets"]).write_text("\n---\n".join(parts) + "\n")
        except BuildError as exc:
            raise BuildError(
                "build of component '%s' (%s@%s) failed: %s\n  full log: %s\n  check that the Go module proxy is reachable and "
                "that the version exists (go list -m -versions %s)" % (comp.name, b["module"], b["version"], exc, logf, b["module"])
            )
        except OSError as exc:
            raise BuildError("build of component '%s' failed: %s" % (comp.name, exc))
        secs = time.monotonic() - t0
        (comp.bin_dir / ".stamp").write_text(spec_hash(comp) + "\n")
        # Kept for `make bench`: how long the last real build of this component took here.
        (comp.bin_dir / ".build-seconds").write_text("%.1f\n" % secs)
        log("built %s in %.0f s" % (comp.name, secs))
        return secs
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _skip_file(comp: Component) -> Path:
    return CACHE / "src" / (comp.key + ".skipped")


def optional_skips(comps: dict[str, Component], now: float | None = None) -> dict[str, str]:
    """The OPTIONAL components (``build.optional``) not built yet that the test deadline leaves no
    time for: {name: reason}.  They are decided together (the Trainer needs JobSet): when the test
    deadline (AIC_TEST_DEADLINE, epoch seconds, set by `make test`) leaves less than their recorded
    cold build times plus the largest margin they ask for, none is built.  No deadline: none skipped."""
    todo = [c for c in comps.values() if c.build.get("optional") and not is_built(c)]
    deadline = os.environ.get("AIC_TEST_DEADLINE", "").strip()
    if not todo or not deadline:
        return {}
    left = float(deadline) - (time.time() if now is None else now)
    build_s = sum(float(c.build["optional"]["cold_build_s"]) for c in todo)
    margin_s = max(float(c.build["optional"].get("margin_s", 0)) for c in todo)
    if left >= build_s + margin_s:
        return {}
    why = "the test deadline leaves %d s and building %s from an empty cache takes about %d s plus a %d s margin for the tests" % (
        max(0, left),
        ", ".join(c.name for c in todo),
        build_s,
        margin_s,
    )
    hint = "python -m tests.refcluster.cluster build %s" % " ".join(c.name for c in todo)
    return {c.name: "optional component %s not built: %s (build it with `%s`)" % (c.name, why, hint) for c in todo}


def not_built_reason(comp: Component) -> str | None:
    """Why an OPTIONAL component is not there to run (None when it is built): the reason the last
    `make cluster-build` gave for skipping it, or that it was never built."""
    if is_built(comp):
        return None
    f = _skip_file(comp)
    if f.is_file():
        return f.read_text().strip()
    return "optional component %s is not built (build it with `python -m tests.refcluster.cluster build %s`)" % (comp.name, comp.name)


def build_all(names: list[str] | None = None, log=print) -> dict[str, float]:
    """Build the named components (all of them, none optional-skipped), or every component with the
    OPTIONAL ones last, each skipped with one line when the test deadline leaves no time for it."""
    comps = load_components()
    timings: dict[str, Any] = {}
    chosen = [c for c in comps.values() if c.build and (not names or c.name in names)]
    skips: dict[str, str] | None = {} if names else None
    for comp in sorted(chosen, key=lambda c: bool(c.build.get("optional"))):  # stable: file order otherwise
        if skips is None and comp.build.get("optional"):
            skips = optional_skips(comps)  # decided once the others are built: the time left is known
        if comp.name in (skips or {}):
            log(skips[comp.name])
            _skip_file(comp).parent.mkdir(parents=True, exist_ok=True)
            _skip_file(comp).write_text(skips[comp.name] + "\n")
            timings[comp.name] = "skipped"
            continue
        timings[comp.name] = round(build(comp, log), 1)
        _skip_file(comp).unlink(missing_ok=True)
    return timings


if __name__ == "__main__":
    try:
        print(json.dumps(build_all(sys.argv[1:] or None)))
    except BuildError as exc:
        print("ERROR: %s" % exc, file=sys.stderr)
        sys.exit(2)
