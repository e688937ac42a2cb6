"""Unpack parts of the GPU bundle (tests/gpu/pack.py) into the bundle root, checking every file.

    python3 tests/gpu/unpack.py aic-gpu-part-1-of-2.tar.xz [...] --root /opt/aic
    python3 tests/gpu/unpack.py --check --root /opt/aic    # are all parts there? (exit 1 if not)

Runs on the GPU machine with its python3 alone (tarfile and lzma of the standard library: no xz
needed).  Each part says which files it holds and their sha256 (PART.json); a file whose sha256
differs is an error.  Parts may come in any order and in separate device-tool calls, as long as the
machine is held between them: what was unpacked stays in --root.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tarfile
import time
from pathlib import Path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unpack(part: Path, root: Path) -> dict:
    t0 = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    head: dict = {}
    with tarfile.open(part, "r|xz") as tar:
        for m in tar:
            f = tar.extractfile(m) if m.isfile() else None
            if f is None:
                raise SystemExit("%s: unexpected member %s" % (part.name, m.name))
            if m.name in ("PART.json", "MANIFEST.json"):
                data = f.read()
                if m.name == "PART.json":
                    head = json.loads(data)
                    want = {e["path"]: e for e in head["files"]}
                else:
                    (root / "MANIFEST.json").write_bytes(data)
                continue
            if not head or m.name not in want or m.name.startswith("/") or ".." in Path(m.name).parts:
                raise SystemExit("%s: member %s is not listed in PART.json" % (part.name, m.name))
            dest = root / m.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name("." + dest.name + ".tmp")
            with tmp.open("wb") as out:
                while block := f.read(1 << 20):
                    out.write(block)
            os.chmod(tmp, want[m.name]["mode"])
            if _sha256(tmp) != want[m.name]["sha256"]:
                tmp.unlink()
                raise SystemExit("%s: %s does not match its sha256" % (part.name, m.name))
            tmp.replace(dest)
    done = root / ".parts"
    done.mkdir(exist_ok=True)
    (done / ("part-%d.json" % head["part"])).write_text(json.dumps(head))
    raw = sum(e["size"] for e in head["files"])
    print(
        "unpacked part %d of %d (%s): %d files, %.0f MiB, in %.1f s into %s"
        % (head["part"], head["parts"], head["bundle"], len(head["files"]), raw / 2**20, time.monotonic() - t0, root),
        flush=True,
    )
    return head


def check(root: Path) -> list[str]:
    """Files of MANIFEST.json missing or different under root."""
    man = root / "MANIFEST.json"
    if not man.is_file():
        return ["MANIFEST.json (no part unpacked yet)"]
    files = json.loads(man.read_text())["files"]
    bad = []
    for path, meta in files.items():
        p = root / path
        if not p.is_file() or p.stat().st_size != meta["size"]:
            bad.append("%s (part %s)" % (path, meta.get("part")))
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", type=Path)
    ap.add_argument("--root", type=Path, default=Path("/opt/aic"))
    ap.add_argument("--check", action="store_true", help="say whether every file of the bundle is there")
    args = ap.parse_args()
    for part in args.parts:
        unpack(part, args.root)
    if args.check:
        bad = check(args.root)
        if bad:
            print("bundle incomplete in %s: %d files missing, e.g. %s" % (args.root, len(bad), ", ".join(bad[:3])), flush=True)
            return 1
        print("bundle complete in %s" % args.root, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
