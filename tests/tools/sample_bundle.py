"""The sample evidence bundle of docs/samples/reference-cluster, rendered by the real evidence role from
recorded probe results.

The input (docs/samples/reference-cluster/input/) is what one main-job run on the reference cluster
produced: ``results.json`` of its bundle, kept as it came, and ``run.json``, the rest of what the
evidence role was given (product, PRODUCT.yaml metadata, Kubernetes version, inventory, upstream
suite) and when and where the run was recorded.  ``render`` runs ansible-playbook on a one-role play
(ai_conformance.kubernetes.evidence) with the recorded results as evidence_results, so every file of
the bundle (PRODUCT.yaml, evidence/*.md, junit files, report.html, preflight.json, SHA256SUMS, ...)
comes from the role as it is now.  Everything the role stamps comes from the input: the run id and
the probes' start times are in the results; README.md's "generated" time, the one place the role
reads the clock, is pinned with the role's evidence_generated_at.

    .venv/bin/python tests/tools/sample_bundle.py render      # make sample-bundle
    .venv/bin/python tests/tools/sample_bundle.py check       # exit 1 and the differing files when stale
    .venv/bin/python tests/tools/sample_bundle.py record .build/sample-record/v1.37/refcluster [--commit C]
                                                              # make sample-bundle-record (needs a fresh run)
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "docs" / "samples" / "reference-cluster"
INPUT = SAMPLE / "input"
GENERATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class SampleError(Exception):
    """Bad input or a failed render, said in one line (plus the playbook's output tail)."""


def load_input(input_dir: Path = INPUT) -> dict:
    """run.json and the recorded results.json."""
    try:
        run = json.loads((input_dir / "run.json").read_text())
        results = json.loads((input_dir / "results.json").read_text())
    except (OSError, ValueError) as exc:
        raise SampleError("cannot read the recorded input in %s: %s" % (input_dir, exc))
    missing = [k for k in ("product", "metadata", "cluster_version", "generated", "inventory") if k not in run]
    if missing:
        raise SampleError("%s lacks %s" % (input_dir / "run.json", ", ".join(missing)))
    return dict(run, results=results)


def evidence_vars(inp: dict, out_dir: Path, input_dir: Path = INPUT) -> dict:
    """The evidence role's variables for the recorded run, writing under ``out_dir``."""
    res = inp["results"]
    upstream = dict(inp.get("upstream") or {})
    if upstream.get("artifacts"):
        upstream["output_dir"] = str(input_dir / "upstream")
    return {
        "evidence_output_dir": str(out_dir),
        "evidence_version": res["version"],
        "evidence_product": inp["product"],
        "evidence_metadata": inp["metadata"],
        "evidence_run_id": res["run_id"],
        "evidence_results": res["requirements"] + res["extras"],
        "evidence_cluster_version": inp["cluster_version"],
        "evidence_owners": inp.get("owners") or {},
        "evidence_upstream": upstream,
        "evidence_replay_inventory": inp["inventory"],
    }


def render(out_dir: Path, input_dir: Path = INPUT) -> Path:
    """Render the bundle into ``out_dir``/<version>/<product>/ through the evidence role; its path."""
    inp = load_input(input_dir)
    with tempfile.TemporaryDirectory(prefix="sample-bundle-") as tmp:
        play = [{"name": "Sample evidence bundle", "hosts": "localhost", "gather_facts": False, "roles": [{"role": "ai_conformance.kubernetes.evidence"}]}]
        (Path(tmp) / "play.yml").write_text(yaml.safe_dump(play))
        (Path(tmp) / "vars.json").write_text(json.dumps(evidence_vars(inp, out_dir, input_dir)))
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_STDOUT_CALLBACK="default",
            PWD=str(REPO),
        )
        env.pop("COSIGN_PASSWORD", None)
        cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local", "-e", "evidence_generated_at=" + inp["generated"]]
        cmd += ["-e", "ansible_python_interpreter=" + sys.executable, "-e", "@" + str(Path(tmp) / "vars.json"), str(Path(tmp) / "play.yml")]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO), env=env, timeout=600, check=False)
    if proc.returncode != 0:
        raise SampleError("the evidence role failed (rc %d):\n%s" % (proc.returncode, proc.stdout[-4000:]))
    return out_dir / inp["results"]["version"] / inp["product"]


def bundle_dir(input_dir: Path = INPUT, root: Path = SAMPLE) -> Path:
    """Where the sample bundle lies: <root>/<version>/<product>."""
    inp = load_input(input_dir)
    return root / inp["results"]["version"] / inp["product"]


def differing(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees: changed, or present in one only (``only in``)."""
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()} if a.is_dir() else set()
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()} if b.is_dir() else set()
    out = ["%s (only in %s)" % (n, a) for n in sorted(files_a - files_b)]
    out += ["%s (only in %s)" % (n, b) for n in sorted(files_b - files_a)]
    out += [n for n in sorted(files_a & files_b) if not filecmp.cmp(a / n, b / n, shallow=False)]
    return sorted(out)


def write_sample(input_dir: Path = INPUT, root: Path = SAMPLE) -> Path:
    """Render into a temporary directory, then replace <root>/<version>/<product> with it whole (no
    file of an earlier render is left behind)."""
    dest = bundle_dir(input_dir, root)
    with tempfile.TemporaryDirectory(prefix="sample-bundle-out-") as tmp:
        fresh = render(Path(tmp), input_dir)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(fresh, dest)
    return dest


def check(input_dir: Path = INPUT, root: Path = SAMPLE) -> list[str]:
    """Files of the committed sample that a fresh render would change."""
    with tempfile.TemporaryDirectory(prefix="sample-bundle-check-") as tmp:
        fresh = render(Path(tmp), input_dir)
        return differing(bundle_dir(input_dir, root), fresh)


def _readme_fields(readme: str) -> tuple[str, str]:
    """(Kubernetes version, generated time) from the run line of a bundle's README.md."""
    m = re.search(r"^Run `[^`]*` on Kubernetes (\S+), generated (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\.$", readme, re.M)
    if not m:
        raise SampleError("README.md has no 'Run `<id>` on Kubernetes <version>, generated <time>.' line")
    return m.group(1), m.group(2)


def _upstream_input(bundle: Path, side: dict, input_dir: Path) -> dict:
    """evidence_upstream of the recorded run, from results.json's upstream side (and, when the suite
    ran, its go test -json stream in upstream/results.json, copied to input/upstream/)."""
    from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up

    if not side.get("ran"):
        if side.get("unavailable", "") in ("", "the upstream suite phase was not run"):
            return {}
        return {k: side[k] for k in ("ran", "unavailable", "built_from", "flags_used", "flags_left_out")}
    artifacts = sorted(p.name for p in (bundle / "upstream").iterdir() if p.name != "comparison.md")
    (input_dir / "upstream").mkdir(parents=True, exist_ok=True)
    for name in artifacts:
        shutil.copyfile(bundle / "upstream" / name, input_dir / "upstream" / name)
    events = up.parse_events((bundle / "upstream" / "results.json").read_text())
    return {
        "ran": True,
        "unavailable": "",
        "verdicts": up.verdicts(events),
        "tests": {n: t["verdict"] for n, t in up.tests_from(events).items()},
        "built_from": side.get("built_from", ""),
        "flags_used": side.get("flags_used", []),
        "flags_left_out": side.get("flags_left_out", {}),
        "artifacts": artifacts,
    }


def record(bundle: Path, input_dir: Path = INPUT, commit: str = "", inventory: str = "inventories/local") -> dict:
    """Record the input from the bundle of a fresh main-job run: its results.json as it is, and run.json."""
    try:
        results_text = (bundle / "results.json").read_text()
        results = json.loads(results_text)
        metadata = yaml.safe_load((bundle / "PRODUCT.yaml").read_text())["metadata"]
        cluster_version, generated = _readme_fields((bundle / "README.md").read_text())
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise SampleError("%s is not a bundle of the main job: %s" % (bundle, exc))
    metadata.pop("kubernetesVersion", None)  # the role writes it from the version
    if not commit:
        proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=str(REPO), check=False)
        commit = proc.stdout.strip() or "unknown"
    started = sorted(r["started"] for r in results["requirements"] + results["extras"] if r.get("started"))
    if input_dir.exists():
        shutil.rmtree(input_dir)
    input_dir.mkdir(parents=True)
    run = {
        "recorded": "main job (ansible-playbook conformance.yml -i %s) on the reference cluster, %s to %s UTC, commit %s"
        % (inventory, started[0] if started else "?", generated, commit),
        "commit": commit,
        "product": bundle.name,
        "metadata": metadata,
        "cluster_version": cluster_version,
        "generated": generated,
        "inventory": [inventory],
        "owners": {},
        "upstream": _upstream_input(bundle, results["upstream"], input_dir),
    }
    (input_dir / "results.json").write_text(results_text)
    (input_dir / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("render", help="re-render docs/samples/reference-cluster/<version>/<product> from its input")
    sub.add_parser("check", help="exit 1, listing the differing files, when the committed sample is stale")
    rec = sub.add_parser("record", help="record the input from the bundle of a fresh main-job run")
    rec.add_argument("bundle", type=Path, help="the run's bundle directory (<output>/<version>/<product>)")
    rec.add_argument("--commit", default="", help="commit the run was made at (default: git rev-parse --short HEAD)")
    rec.add_argument("--inventory", default="inventories/local")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / ".build" / "collections"))
    try:
        if args.cmd == "record":
            run = record(args.bundle, commit=args.commit, inventory=args.inventory)
            print("recorded %s: %s" % (INPUT.relative_to(REPO), run["recorded"]))
        elif args.cmd == "render":
            print("rendered %s" % write_sample().relative_to(REPO))
        else:
            stale = check()
            if stale:
                print("docs/samples/reference-cluster is stale (make sample-bundle): %s" % ", ".join(stale))
                return 1
            print("docs/samples/reference-cluster is current")
    except SampleError as exc:
        print("sample_bundle: %s" % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
