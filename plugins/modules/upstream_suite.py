#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: upstream_suite
short_description: Run the upstream kubernetes-sigs/ai-conformance suite and write the artifacts vendors attach
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Builds the suite's test binary (C(go test -c ./test)) from O(source), a checkout of
    C(github.com/kubernetes-sigs/ai-conformance), or from the Go module at O(module_version); or runs O(binary)."
  - "Runs it against the cluster through C(go tool test2json) with C(-kubeconfig) and the suite's flags from O(flags).
    A flag this build of the suite does not define is left out with its reason (an unknown flag would abort the run)."
  - "Writes into O(output_dir) the three files the v1.37 instructions name: C(e2e.log) (the C(-v) output),
    C(results.json) (the test2json stream) and C(junit.xml) (one testcase per test and subtest)."
  - "When gotestsum (C(gotest.tools/gotestsum)) is available (O(gotestsum)), the run goes through
    C(gotestsum --raw-command --jsonfile results.json --junitfile junit.xml), and gotestsum writes the JUnit file;
    otherwise the collection writes it from the stream. C(junit_writer) says which did."
  - "Returns each top-level test's verdict, mapped to its requirement, read from the test2json events."
  - "When no source can be had (the Go module proxy serves no version of the suite: it has no tags), the result
    says so in C(unavailable) and nothing runs; the evidence bundle shows that reason beside every requirement."
  - "The suite creates and deletes its own random namespaces and needs cluster-admin. Check mode runs nothing."
options:
  source:
    description: Directory of a checkout of the suite (its C(go.mod) names C(github.com/kubernetes-sigs/ai-conformance)).
    type: path
  binary:
    description: A test binary built with C(go test -c ./test); used instead of building.
    type: path
  module_version:
    description: A version of the suite (a pseudo-version, as it has no tags) to fetch through the Go module proxy when O(source) and O(binary) are unset.
    type: str
  cache_dir:
    description: Where built binaries are kept, keyed by what they were built from.
    type: path
    default: ~/.cache/ai-conformance/upstream-suite
  kubeconfig:
    description: Kubeconfig the suite uses.
    type: path
  flags:
    description: "Suite flags without the dash, e.g. C(allocation-mode: dra), C(gang-job-labels: kueue.x-k8s.io/queue-name=q).
      Empty values are not passed."
    type: dict
    default: {}
  run:
    description: C(-test.run) pattern; by default every top-level test of the suite.
    type: str
    default: "^Test"
  timeout:
    description: Wall-clock limit of the run, seconds (also passed as C(-test.timeout)).
    type: int
    default: 4500
  output_dir:
    description: Directory for C(e2e.log), C(results.json) and C(junit.xml); created if missing.
    type: path
    required: true
  gotestsum:
    description:
      - The gotestsum that runs the suite and writes C(junit.xml).
      - V(auto) takes C(gotestsum) from the E(PATH), else the newest build of C(tests/tools/build_gotestsum.sh) under
        C(~/.cache/ai-conformance/tools) (E(AIC_CACHE) moves it); when there is none, the collection's own writer is used.
      - V(none) always uses the collection's own writer; any other value is the path of a gotestsum binary (one that
        is not executable falls back to the collection's writer, saying so in C(junit_writer)).
    type: str
    default: auto
requirements:
  - Go (C(go) on PATH) to build the suite and for C(go tool test2json)
"""

EXAMPLES = r"""
- name: Run the upstream suite from a checkout, DRA allocation, Kueue gang labels
  ai_conformance.kubernetes.upstream_suite:
    source: /src/ai-conformance
    kubeconfig: ~/.kube/config
    flags:
      allocation-mode: dra
      gang-job-labels: kueue.x-k8s.io/queue-name=e2e-lq
      autoscaler-node-pool-label: pool=gpu
    output_dir: evidence-out/upstream
  register: upstream
"""

RETURN = r"""
ran:
  description: Whether the suite ran.
  returned: always
  type: bool
  sample: true
unavailable:
  description: Why the suite did not run (no source, build failure); empty when it ran.
  returned: always
  type: str
  sample: ""
verdicts:
  description: requirement -> {test, verdict (pass, fail, skip), failed_subtests} for the top-level tests that ran.
  returned: always
  type: dict
  sample: {secure_accelerator_access: {test: TestSecureAcceleratorAccess, verdict: fail, failed_subtests: [PositiveAccessTest]}}
tests:
  description: Every test and subtest with its verdict.
  returned: always
  type: dict
  sample: {TestSecureAcceleratorAccess: pass}
flags_used:
  description: The command-line flags passed to the suite.
  returned: always
  type: list
  elements: str
  sample: ["-accelerator-type=nvidia"]
flags_left_out:
  description: Flags asked for but not defined by this build of the suite, with the reason.
  returned: always
  type: dict
  sample: {allocation-mode: this build of the suite does not define -allocation-mode}
built_from:
  description: What the binary came from (source directory and its commit, module version, or the binary given).
  returned: always
  type: str
  sample: "source /src/ai-conformance (af907ca8)"
output_dir:
  description: Where the artifacts are.
  returned: always
  type: str
  sample: /tmp/upstream
artifacts:
  description: The files written.
  returned: always
  type: list
  elements: str
  sample: [e2e.log, junit.xml, results.json]
junit_writer:
  description: What wrote C(junit.xml), gotestsum (its version and path) or the collection's writer (and why gotestsum did not).
  returned: when the suite ran
  type: str
  sample: "gotestsum v1.13.0 (/root/.cache/ai-conformance/tools/gotestsum-v1.13.0/bin/gotestsum)"
exit_code:
  description: Exit code of the test run (1 when a test failed).
  returned: when the suite ran
  type: int
  sample: 1
duration_s:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 48.2
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import upstream as up

MODULE = "github.com/kubernetes-sigs/ai-conformance"


class Unavailable(Exception):
    pass


def _last_line(text):
    """The last non-empty line: where go prints the summary of an error."""
    lines = [x for x in (text or "").splitlines() if x.strip()]
    return lines[-1].strip() if lines else "(no output)"


def _go():
    go = shutil.which("go")
    if not go:
        raise Unavailable("go is not on PATH: it builds the suite and converts its output (go tool test2json)")
    return go


def _tree_key(src):
    h = hashlib.sha256()
    for base in ("go.mod", "go.sum"):
        path = os.path.join(src, base)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                h.update(fh.read())
    test_dir = os.path.join(src, "test")
    for name in sorted(os.listdir(test_dir)) if os.path.isdir(test_dir) else []:
        if name.endswith(".go"):
            with open(os.path.join(test_dir, name), "rb") as fh:
                h.update(name.encode() + fh.read())
    return h.hexdigest()[:16]


def _commit(src):
    try:
        res = subprocess.run(["git", "-C", src, "rev-parse", "--short=8", "HEAD"], capture_output=True, text=True, timeout=10, check=False)
        return res.stdout.strip() if res.returncode == 0 else ""
    except OSError:
        return ""


def build_from_source(src, cache):
    gomod = os.path.join(src, "go.mod")
    if not os.path.isfile(gomod):
        raise Unavailable("%s has no go.mod: not a checkout of %s" % (src, MODULE))
    with open(gomod, encoding="utf-8") as fh:
        if "module %s" % MODULE not in fh.read():
            raise Unavailable("%s is not a checkout of %s (its go.mod names another module)" % (src, MODULE))
    out = os.path.join(cache, "ai-conformance-%s.test" % _tree_key(src))
    if not os.path.isfile(out):
        os.makedirs(cache, exist_ok=True)
        res = subprocess.run([_go(), "test", "-c", "-o", out + ".tmp", "./test"], cwd=src, capture_output=True, text=True, timeout=1800, check=False)
        if res.returncode != 0:
            raise Unavailable("building the suite failed: %s" % _last_line(res.stderr))
        os.replace(out + ".tmp", out)
    commit = _commit(src)
    return out, "source %s%s" % (src, " (%s)" % commit if commit else "")


def build_from_module(version, cache):
    out = os.path.join(cache, "ai-conformance-%s.test" % version.replace("/", "_"))
    if os.path.isfile(out):
        return out, "module %s@%s" % (MODULE, version)
    work = tempfile.mkdtemp(prefix="aic-upstream-")
    try:
        go = _go()
        for cmd in ([go, "mod", "init", "aic/upstream"], [go, "get", "%s@%s" % (MODULE, version)], [go, "test", "-c", "-o", out, MODULE + "/test"]):
            res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=1800, check=False)
            if res.returncode != 0:
                raise Unavailable("%s@%s could not be fetched or built through the Go module proxy: %s" % (MODULE, version, _last_line(res.stderr)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out, "module %s@%s" % (MODULE, version)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def run_suite(cmd, p):
    """Run ``cmd`` (go tool test2json around the suite), through gotestsum when there is one.
    Returns (the test2json stream, exit code, what wrote junit.xml or "" when nobody did, why gotestsum did not)."""
    gotestsum, why_not = up.find_gotestsum(p["gotestsum"], os.environ.get("AIC_CACHE") or "~/.cache/ai-conformance")
    junit_path = os.path.join(p["output_dir"], "junit.xml")
    json_path = os.path.join(p["output_dir"], "results.json")
    if gotestsum:
        for stale in (junit_path, json_path):
            if os.path.exists(stale):
                os.unlink(stale)
        cmd = up.through_gotestsum(gotestsum, json_path, junit_path, cmd)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=p["timeout"] + 60, check=False)
        stream, code = res.stdout, res.returncode
    except subprocess.TimeoutExpired as exc:
        stream, code = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""), 124
    if not gotestsum:
        return stream, code, "", why_not
    stream = _read(json_path)
    if os.path.isfile(junit_path) and os.path.getsize(junit_path) > 0:
        return stream, code, "gotestsum %s (%s)" % (up.gotestsum_version(gotestsum) or "(version unknown)", gotestsum), ""
    return stream, code, "", "gotestsum %s wrote no junit.xml (exit %d)" % (gotestsum, code)


def binary_flags(binary):
    res = subprocess.run([binary, "-help"], capture_output=True, text=True, timeout=60, check=False)
    return up.defined_flags(res.stderr + res.stdout)


def main():
    module = AnsibleModule(
        argument_spec={
            "source": {"type": "path"},
            "binary": {"type": "path"},
            "module_version": {"type": "str"},
            "cache_dir": {"type": "path", "default": "~/.cache/ai-conformance/upstream-suite"},
            "kubeconfig": {"type": "path"},
            "flags": {"type": "dict", "default": {}},
            "run": {"type": "str", "default": "^Test"},
            "timeout": {"type": "int", "default": 4500},
            "output_dir": {"type": "path", "required": True},
            "gotestsum": {"type": "str", "default": "auto"},
        },
        mutually_exclusive=[("source", "binary")],
        supports_check_mode=True,
    )
    p = module.params
    out = {
        "ran": False,
        "unavailable": "",
        "verdicts": {},
        "tests": {},
        "flags_used": [],
        "flags_left_out": {},
        "built_from": "",
        "artifacts": [],
        "output_dir": p["output_dir"],
    }
    t0 = time.monotonic()
    if module.check_mode:
        out["unavailable"] = "check mode: the suite creates objects in the cluster, so it was not run"
        module.exit_json(changed=False, duration_s=0.0, **out)
    try:
        if p["binary"]:
            if not os.access(p["binary"], os.X_OK):
                raise Unavailable("binary %s is not an executable file" % p["binary"])
            binary, out["built_from"] = p["binary"], "binary %s" % p["binary"]
        elif p["source"]:
            binary, out["built_from"] = build_from_source(p["source"], p["cache_dir"])
        elif p["module_version"]:
            binary, out["built_from"] = build_from_module(p["module_version"], p["cache_dir"])
        else:
            raise Unavailable(
                "no source of the suite: the Go module proxy serves no version of %s (it has no tags); "
                "set source (a checkout), binary (go test -c ./test) or module_version" % MODULE
            )
        go = _go()
        flags = dict(p["flags"])
        args, out["flags_left_out"] = up.flag_args(flags, binary_flags(binary))
        if p["kubeconfig"]:
            args.insert(0, "-kubeconfig=%s" % p["kubeconfig"])
        out["flags_used"] = args
    except Unavailable as exc:
        out["unavailable"] = str(exc)
        module.exit_json(changed=False, duration_s=round(time.monotonic() - t0, 3), **out)
    try:
        os.makedirs(p["output_dir"], exist_ok=True)
    except OSError as exc:
        module.fail_json(msg="cannot create %s: %s" % (p["output_dir"], exc))
    cmd = [go, "tool", "test2json", "-t", "-p", up.PACKAGE, binary, "-test.v=test2json", "-test.timeout=%ds" % p["timeout"], "-test.run=%s" % p["run"]] + args
    stream, code, writer, why_not = run_suite(cmd, p)
    events = up.parse_events(stream)
    files = {"results.json": stream, "e2e.log": up.e2e_log(events)}
    if writer:
        out["junit_writer"] = writer
    else:
        files["junit.xml"] = up.junit(events)
        out["junit_writer"] = "%s: %s" % (up.BUILTIN_WRITER, why_not)
    for name, text in sorted(files.items()):
        with open(os.path.join(p["output_dir"], name), "w", encoding="utf-8") as fh:
            fh.write(text)
    out.update(
        ran=True,
        verdicts=up.verdicts(events),
        tests={n: t["verdict"] for n, t in sorted(up.tests_from(events).items())},
        artifacts=sorted(set(files) | {"junit.xml"}),
        exit_code=code,
    )
    if not events:
        out["unavailable"] = "the suite produced no test events (exit %d): %s" % (code, json.dumps(_last_line(stream)))
    module.exit_json(changed=True, duration_s=round(time.monotonic() - t0, 3), **out)


if __name__ == "__main__":
    main()
