# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared argument specs and the base every module builds on.

``AUTH_ARG_SPEC`` matches the doc fragment ``ai_conformance.kubernetes.auth`` and
``PROBE_ARG_SPEC`` matches ``ai_conformance.kubernetes.probe``.  A probe module subclasses
``Probe``, names its requirement, and writes only ``run(client, ctx, result)``: client creation,
reachability, the run context and its cleanup, check mode, timing and error handling live here.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import copy
import json
import os
import tempfile
import traceback
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import (
    HAS_K8S,
    K8S_IMP_ERR,
    Client,
    ClusterError,
    check_reachable,
    get_client,
)
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.images import Mirror, mirrored
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.kube_auth import AUTH_ARG_SPEC
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import OWNERS, ProbeResult, Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    RUN_ID_LABEL,
    RunContext,
    new_run_id,
    validate_run_id,
)
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.timeout_evidence import gather
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.timing import TimedClient, Timing, active
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.transport import counting
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.workloads import runs_containers

# What a pass whose runtime checks were not decided becomes (option undecided_runtime_checks).
UNDECIDED_POLICIES = ("auto", "fail", "allow")
# How many node names a policy failure's reason names (observations keep more).
_NODES_IN_REASON = 5

PROBE_ARG_SPEC: dict[str, Any] = {
    "run_id": {"type": "str"},
    "namespace": {"type": "str"},
    "owner": {"type": "str", "default": "platform", "choices": list(OWNERS)},
    "timeout": {"type": "int", "default": 120},
    "keep_objects": {"type": "bool", "default": False},
    "undecided_runtime_checks": {"type": "str", "default": "auto", "choices": list(UNDECIDED_POLICIES)},
    "journal_dir": {"type": "path"},
    # A registry mirror for every image the probe's objects name (module_utils/images.py).
    "image_registry": {"type": "str", "default": ""},
    "image_registry_map": {"type": "dict", "default": {}},
}


def auth_argspec() -> dict[str, Any]:
    return copy.deepcopy(AUTH_ARG_SPEC)


def probe_argspec() -> dict[str, Any]:
    spec = auth_argspec()
    spec.update(copy.deepcopy(PROBE_ARG_SPEC))
    return spec


def new_module(argument_spec: dict[str, Any], **kwargs: Any) -> AnsibleModule:
    """AnsibleModule with check mode support and the kubernetes library checked once."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    if not HAS_K8S:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=K8S_IMP_ERR)
    return module


def client_or_fail(module: AnsibleModule) -> Client:
    """A reachable client, or fail_json with one readable line."""
    try:
        client = get_client(module.params)
        check_reachable(client)
        return client
    except ClusterError as exc:
        module.fail_json(msg=exc.message, error_kind=exc.kind)
    raise AssertionError("unreachable")  # fail_json exits


def container_nodes(client: Client) -> list[str]:
    """Names of the nodes that run containers (a container runtime other than kwok's simulation:
    workloads.runs_containers), read with one list call."""
    return sorted(n["metadata"]["name"] for n in client.list("v1", "Node").get("items", []) if runs_containers(n))


def apply_undecided_policy(client: Client, result: ProbeResult, policy: str) -> ProbeResult:
    """Apply the undecided_runtime_checks policy to a pass whose runtime checks (what a container
    sees) were not decided.

    ``fail`` fails it; ``auto`` fails it when at least one node of the cluster runs containers
    (then the checks could have run, and leaving them undecided is a defect of the platform or the
    probe), and keeps the partial pass otherwise; ``allow`` keeps the partial pass.  The nodes are
    read (one list call) only for ``auto`` and only when such a check exists.  What was decided is
    recorded in ``observations["undecided_policy"]``."""
    if result.verdict != Verdict.PASS:
        return result
    runtime = [u for u in result.undecided_checks() if u["kind"] == "runtime"]
    if not runtime:
        return result
    listing = "; ".join("%s: %s" % (u["name"], u["detail"]) for u in runtime)
    record: dict[str, Any] = {"policy": policy, "runtime_checks": [u["name"] for u in runtime]}
    result.observations["undecided_policy"] = record
    if policy == "allow":
        record.update(outcome="partial pass", why="undecided_runtime_checks is allow")
        return result
    if policy == "fail":
        record.update(outcome="fail", why="undecided_runtime_checks is fail")
        return result.decide(Verdict.FAIL, "%d runtime check(s) were not decided and undecided_runtime_checks is fail: %s" % (len(runtime), listing))
    try:
        nodes = container_nodes(client)
    except ClusterError as exc:
        # The partial pass stands (it already says what was not decided); the policy could not
        # tell whether the checks could have run.
        record.update(outcome="partial pass", why="the nodes could not be read to apply the policy: %s" % exc.message)
        return result
    record["container_nodes"] = nodes[:20]
    record["container_node_count"] = len(nodes)
    if not nodes:
        record.update(outcome="partial pass", why="no node runs containers (every containerRuntimeVersion is empty or kwok)")
        return result
    shown = ", ".join(nodes[:_NODES_IN_REASON]) + (" and %d more" % (len(nodes) - _NODES_IN_REASON) if len(nodes) > _NODES_IN_REASON else "")
    record.update(outcome="fail", why="node(s) run containers, so the runtime checks could have run")
    return result.decide(
        Verdict.FAIL,
        "%d runtime check(s) were not decided although node(s) %s run containers: %s" % (len(runtime), shown, listing),
    )


# Options a check-mode plan does not list: credentials and connection, and what the plan states on
# its own (run id, namespace, timeout) or that does not change what the probe does.
_NOT_PLAN_OPTIONS = frozenset(AUTH_ARG_SPEC) | {
    "run_id",
    "namespace",
    "owner",
    "timeout",
    "keep_objects",
    "undecided_runtime_checks",
    "journal_dir",
    "image_registry",
    "image_registry_map",
}


def _clip(value: Any, width: int = 40) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def plan_reason(plan: dict[str, Any]) -> str:
    """The skip reason of a probe in check mode, ``check mode: would ...``, from a plan
    (``Probe.plan``): what it would create and where, observe and try, and how long it would wait.
    Nothing is created in check mode."""
    if plan.get("instead"):
        # A probe whose options decide the verdict without creating anything (declared none).
        return "check mode: would %s; nothing was created" % plan["instead"]
    ns = plan.get("namespace") or "?"
    where = "its own namespace %s (created, then deleted)" % ns if plan.get("namespace_created") else "namespace %s" % ns
    if plan.get("creates"):
        text = "check mode: would create in %s: %s" % (where, "; ".join(plan["creates"]))
    else:
        options = ", ".join("%s=%s" % (k, _clip(v)) for k, v in sorted((plan.get("options") or {}).items()))
        text = "check mode: would create its objects in %s%s" % (where, " (options: %s)" % options if options else "")
    if plan.get("observes"):
        text += "; observe %s" % "; ".join(plan["observes"])
    if plan.get("negative"):
        text += "; try %d negative case(s): %s" % (len(plan["negative"]), "; ".join(plan["negative"]))
    if plan.get("timeout_s"):
        text += "; wait up to %ss per step" % plan["timeout_s"]
    return text + "; nothing was created"


def keep_timeout_evidence(client: Any, ctx: RunContext, result: ProbeResult, timing: Timing, message: str) -> None:
    """Before cleanup deletes them: what the probe waited for when time ran out
    (``observations.timeout``) and the events, pods and logs of what it created
    (``observations.timeout_evidence``, bounded: module_utils/timeout_evidence.py)."""
    waits = timing.timed_out()
    last = waits[-1] if waits else {}
    result.observations["timeout"] = {
        "waiting_for": last.get("what") or message,
        "timeout_s": last.get("timeout_s"),
        "waited_s": last.get("seconds"),
        "timed_out_waits": [w["what"] for w in waits][-10:],
    }
    with timing.span("evidence", "events, pods and logs of what the probe created"):
        try:
            result.observations["timeout_evidence"] = gather(client, list(ctx.created), ctx.selector)
        except Exception as exc:  # pylint: disable=broad-except
            # Gathering must never cost the probe its verdict.
            result.observations["timeout_evidence"] = {"errors": ["gathering failed: %s: %s" % (exc.__class__.__name__, exc)]}


def write_journal(directory: str, result: dict[str, Any]) -> str:
    """Write a probe's result to ``<directory>/<requirement>.json`` atomically (a temporary file in
    the same directory, then a rename), so that a run killed at any point leaves either the whole
    result or none; the directory is created.  Returns the path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "%s.json" % result["requirement"])
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s-" % result["requirement"], suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class Probe:
    """Base of every probe module.

    Subclasses set ``requirement`` and ``mutates`` (whether the probe creates objects), may extend
    ``argument_spec``, and implement ``run``.  ``run`` records checks, steps and negative cases on
    the result and decides it; anything it raises becomes an ``error`` verdict (ClusterError with
    its readable message), a timeout becomes a ``fail`` only where the probe says so itself.

    Every phase is timed (module_utils/timing.py: ``observations.timing``, with the API requests
    the probe sent), and a probe that timed out keeps what it waited for and the events and logs of
    what it created (``observations.timeout``, ``observations.timeout_evidence``).  With
    ``journal_dir`` the finished result is also written there at once (``write_journal``).  Check
    mode writes nothing."""

    requirement = ""
    mutates = True

    def __init__(self, extra_spec: dict[str, Any] | None = None, **module_kwargs: Any) -> None:
        spec = probe_argspec()
        spec.update(extra_spec or {})
        self.module = new_module(spec, **module_kwargs)
        self.params = self.module.params
        bad = self.param_error(self.params)
        if bad:
            self.module.fail_json(msg=bad)
        try:
            self.mirror = Mirror(self.params.get("image_registry"), self.params.get("image_registry_map"))
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))

    @staticmethod
    def param_error(params: dict[str, Any]) -> str | None:
        """One line saying what is malformed in the parameters (the module fails with it before
        touching the cluster), or None.  Subclasses override it."""
        return None

    def run(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def plan(self, run_id: str) -> dict[str, Any]:
        """What the probe would create, observe and try, from its options alone (check mode: no
        cluster is contacted).  This generic default names the namespace, the labels, the timeout
        and the options that were set; a probe overrides it (calling this first) to fill
        ``creates``, ``observes`` and ``negative`` with its own objects and negative cases, or
        ``instead`` with what it would do without creating anything (a declared ``none``)."""
        p = self.params
        namespace = p.get("namespace") or "aic-%s-%s" % (self.requirement.replace("_", "-"), run_id)
        secret = {k for k, spec in self.module.argument_spec.items() if spec.get("no_log")}
        shown = {k: v for k, v in p.items() if k not in _NOT_PLAN_OPTIONS and k not in secret and v not in (None, "", [], {})}
        plan: dict[str, Any] = {
            "namespace": namespace,
            "namespace_created": not p.get("namespace"),
            "labels": {RUN_ID_LABEL: run_id, MANAGED_BY_LABEL: MANAGED_BY},
            "creates": [],
            "observes": [],
            "negative": [],
            "timeout_s": p.get("timeout"),
            "options": shown,
        }
        mirror = getattr(self, "mirror", None)
        if mirror is not None and mirror.active:
            plan["image_mirror"] = {"prefix": mirror.prefix, "map": dict(mirror.map)}
        if p.get("declared") == "none":
            # The probes with a "declared" option report not_applicable with the justification.
            plan["instead"] = "report not_applicable without creating anything: %s" % (p.get("justification") or "no justification given")
        return plan

    def check_mode_result(self, result: ProbeResult) -> ProbeResult:
        """A skip whose reason says what would run (``plan_reason``); the plan itself is kept in
        ``observations["check_mode_plan"]`` for the progress callback and the bundle."""
        try:
            plan = self.plan(result.run_id)
        except Exception as exc:  # pylint: disable=broad-except
            # A defect in a plan() override must not cost the check-mode run its other probes.
            plan = Probe.plan(self, result.run_id)
            plan["plan_error"] = "%s: %s" % (exc.__class__.__name__, exc)
        result.observations["check_mode_plan"] = plan
        return result.decide(Verdict.SKIP, plan_reason(plan))

    def execute(self) -> dict[str, Any]:
        try:
            run_id = validate_run_id(self.params.get("run_id") or new_run_id())
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))
        result = ProbeResult(requirement=self.requirement, owner=self.params["owner"], run_id=run_id).start()
        if self.module.check_mode and self.mutates:
            return self.check_mode_result(result).stop().to_dict()
        timing = Timing()
        with active(timing), counting(timing.requests):
            self.run_timed(result, run_id, timing)
        if result.verdict == Verdict.ERROR and result.reason == "the probe did not finish":
            result.reason = "the probe ended without deciding a verdict"
        result.observations["timing"] = timing.to_dict()
        done = result.stop().to_dict()
        self.journal(done)
        return done

    def journal(self, done: dict[str, Any]) -> None:
        """With ``journal_dir``: the result on disk as soon as the probe has it (a run interrupted
        later keeps it as partial evidence).  A journal that cannot be written is a warning, never
        the probe's verdict."""
        directory = self.params.get("journal_dir")
        if not directory or self.module.check_mode:
            return
        try:
            write_journal(directory, done)
        except OSError as exc:
            self.module.warn("cannot write the partial result of %s to %s: %s" % (self.requirement, directory, exc.strerror or exc))

    def run_timed(self, result: ProbeResult, run_id: str, timing: Timing) -> None:
        """Connect, run, keep a timeout's evidence, clean up and apply the undecided policy, each
        timed (``observations.timing``); errors become the result's verdict."""
        ctx = None
        try:
            with timing.span("connect", "client and server version"):
                # Every object the probe creates names its images under the mirror, when one is set.
                client = TimedClient(mirrored(get_client(self.params), self.mirror), timing)
                check_reachable(client)
            ctx = RunContext(client, run_id, self.requirement, keep=self.params.get("keep_objects", False))
            try:
                self.run(client, ctx, result)
            except ClusterError as exc:
                if exc.kind == "timeout":
                    keep_timeout_evidence(client, ctx, result, timing, exc.message)
                raise
            else:
                if result.verdict == Verdict.ERROR and timing.timed_out():
                    keep_timeout_evidence(client, ctx, result, timing, "")
            finally:
                report = ctx.cleanup()
                if report:
                    result.observations["cleanup"] = report
            result.refresh_reason()
            apply_undecided_policy(client, result, self.params.get("undecided_runtime_checks") or "auto")
        except ClusterError as exc:
            # The probe could not decide (no access, API gone, an object it needed vanished):
            # that is never a pass, and never silently a fail either.
            result.decide(Verdict.ERROR, exc.message)
            result.observations.setdefault("error_kind", exc.kind)
        except Exception as exc:  # pylint: disable=broad-except
            # A defect in the probe itself must not stop the other probes of the play: it becomes
            # an error verdict, with the traceback kept for the bug report.
            result.decide(Verdict.ERROR, "internal error in the %s probe: %s: %s" % (self.requirement, exc.__class__.__name__, exc))
            result.observations["error_kind"] = "internal"
            result.observations["traceback"] = traceback.format_exc()
        if self.mirror.active:
            # Which images were sent under the mirror (error or not: a pull failure is explained by it).
            result.observations["image_mirror"] = self.mirror.to_dict()

    def main(self) -> None:
        res = self.execute()
        # Probes create objects and delete them again before they return: no lasting change.
        self.module.exit_json(changed=False, result=res, verdict=res["verdict"], reason=res["reason"])
