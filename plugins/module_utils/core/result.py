# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe result: the one contract between probe modules, domain roles and the evidence role.

Every probe returns exactly one ProbeResult per requirement.  A skip or a not_applicable verdict is
a result like any other and always carries a reason; ``error`` means the probe could not decide and
is never counted as a pass.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("pass", "fail", "skip", "not_applicable", "error")
# A pass some of whose checks were not decided is a *partial* pass: the verdict stays ``pass`` and
# the reason starts with this fixed prefix.  Consumers never parse it: they call is_partial(),
# which reads the result's ``undecided_checks``.
PARTIAL_PREFIX = "partial: "
OWNERS = ("platform", "product", "base")
# Order used when several partial verdicts are folded into one: the worst one wins.
_SEVERITY = {"error": 4, "fail": 3, "skip": 2, "not_applicable": 1, "pass": 0}


class Verdict:
    """Allowed verdict values (plain strings so results serialise to JSON/YAML unchanged)."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"

    @staticmethod
    def validate(value: str) -> str:
        if value not in VERDICTS:
            raise ValueError("unknown verdict %r (allowed: %s)" % (value, ", ".join(VERDICTS)))
        return value

    @staticmethod
    def worst(values: list[str]) -> str:
        """The most severe of several verdicts; an empty list is an error (nothing was decided)."""
        if not values:
            return Verdict.ERROR
        return max(values, key=lambda v: _SEVERITY[Verdict.validate(v)])


@dataclass
class Step:
    """One replayable action: what a reviewer would run, and what came out."""

    action: str
    result: str
    ok: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "result": self.result, "ok": self.ok}


@dataclass
class NegativeCase:
    """The forbidden thing a probe attempted, and the proof that it was refused."""

    case: str
    outcome: str = ""
    refused: bool | None = None  # None: the negative case was not (or could not be) attempted

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case, "outcome": self.outcome, "refused": self.refused}


@dataclass
class ProbeResult:
    """Result of one requirement probe (design.md, "The probe result")."""

    requirement: str
    verdict: str = Verdict.ERROR
    reason: str = "the probe did not finish"
    observations: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    negative: list[NegativeCase] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    owner: str = "platform"
    run_id: str = ""
    started: str = ""
    duration_s: float = 0.0
    _t0: float = field(default=0.0, repr=False)
    # The reason given to ``decide``, before any partial prefix (not serialised).
    _decided_reason: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        Verdict.validate(self.verdict)
        if self.owner not in OWNERS:
            raise ValueError("unknown owner %r (allowed: %s)" % (self.owner, ", ".join(OWNERS)))

    # -- timing -----------------------------------------------------------------------------
    def start(self) -> ProbeResult:
        self._t0 = time.monotonic()
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return self

    def stop(self) -> ProbeResult:
        if self._t0:
            self.duration_s = round(time.monotonic() - self._t0, 3)
        return self

    # -- recording --------------------------------------------------------------------------
    def step(self, action: str, result: str, ok: bool = True) -> Step:
        s = Step(action=action, result=result, ok=ok)
        self.steps.append(s)
        return s

    def check(self, name: str, ok: bool | None, detail: str, kind: str = "api") -> bool | None:
        """Record one sub-check.  ``ok`` None means it could not be decided (skipped), with
        ``detail`` as its reason.  ``kind`` tells whether it is decided from the API or needs a
        container runtime ("runtime")."""
        self.checks.append({"name": name, "ok": ok, "detail": detail, "kind": kind})
        return ok

    def negative_case(self, case: str, refused: bool | None, outcome: str) -> NegativeCase:
        n = NegativeCase(case=case, refused=refused, outcome=outcome)
        self.negative.append(n)
        return n

    def decide(self, verdict: str, reason: str) -> ProbeResult:
        """Set the verdict.  A pass while some checks are undecided is a partial pass: its reason
        gets the ``partial: N of M checks not decided (...)`` prefix (see partial_reason)."""
        self.verdict = Verdict.validate(verdict)
        self._decided_reason = reason
        self.reason = partial_reason(self.undecided_checks(), len(self.checks), reason) if verdict == Verdict.PASS else reason
        return self

    def refresh_reason(self) -> ProbeResult:
        """Recompute the partial prefix of a pass from the checks recorded now (a check recorded
        after ``decide`` counts too).  Other verdicts are left as they are."""
        if self.verdict == Verdict.PASS:
            self.decide(Verdict.PASS, self._decided_reason or self.reason)
        return self

    def undecided_checks(self) -> list[dict[str, Any]]:
        """The checks whose ``ok`` is None: {name, kind, detail} each, in the order recorded."""
        return undecided_from_checks(self.checks)

    def decide_from_checks(self, pass_reason: str) -> ProbeResult:
        """Fold the recorded checks into a verdict.

        Any failed check fails the result; the reason names every failed check, the first one
        first (``A: detail`` for one, ``2 checks failed: A: detail; B: detail`` for several).  A
        result whose checks all passed but whose negative cases were never attempted is not a pass:
        a probe without a refused negative case proves nothing.  When every decidable check passed
        and the negative cases were refused but some checks are undecided (None), the verdict is a
        *partial* pass: ``pass`` with the reason ``partial: N of M checks not decided (names); ``
        followed by ``pass_reason``, and the undecided checks in ``undecided_checks``.
        """
        failed = [c for c in self.checks if c["ok"] is False]
        if failed:
            return self.decide(Verdict.FAIL, failed_reason(failed))
        if not any(c["ok"] for c in self.checks):
            return self.decide(Verdict.ERROR, "no check could be decided")
        unproven = [n for n in self.negative if n.refused is not True]
        if not self.negative or unproven:
            case = unproven[0].case if unproven else "none attempted"
            return self.decide(Verdict.FAIL, "negative case not proven refused: %s" % case)
        return self.decide(Verdict.PASS, pass_reason)

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "verdict": self.verdict,
            "reason": self.reason,
            "observations": self.observations,
            "checks": list(self.checks),
            "undecided_checks": self.undecided_checks(),
            "steps": [s.to_dict() for s in self.steps],
            "negative": [n.to_dict() for n in self.negative],
            "owner": self.owner,
            "run_id": self.run_id,
            "started": self.started,
            "duration_s": self.duration_s,
        }


def undecided_from_checks(checks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """{name, kind, detail} of every check whose ``ok`` is None (not decided)."""
    return [
        {"name": c.get("name", ""), "kind": c.get("kind", "api"), "detail": c.get("detail", "")}
        for c in checks or []
        if isinstance(c, dict) and c.get("ok") is None
    ]


def partial_reason(undecided_list: list[dict[str, Any]], total: int, reason: str) -> str:
    """``reason`` with the partial prefix when checks are undecided:
    ``partial: N of M checks not decided (a, b); <reason>``; ``reason`` unchanged otherwise."""
    if not undecided_list:
        return reason
    names = ", ".join(u["name"] for u in undecided_list)
    return "%s%d of %d checks not decided (%s); %s" % (PARTIAL_PREFIX, len(undecided_list), total, names, reason)


def failed_reason(failed: list[dict[str, Any]]) -> str:
    """The reason of a fail naming every failed check, the first one first."""
    parts = ["%s: %s" % (c["name"], c["detail"]) for c in failed]
    if len(parts) == 1:
        return parts[0]
    return "%d checks failed: %s" % (len(parts), "; ".join(parts))


def undecided_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The undecided checks of a result dict: its ``undecided_checks``, or, for a result written
    before that key existed, derived from its ``checks``."""
    if isinstance(result.get("undecided_checks"), list):
        return list(result["undecided_checks"])
    return undecided_from_checks(result.get("checks"))


def is_partial(result: dict[str, Any]) -> bool:
    """Whether a result dict is a partial pass: verdict ``pass`` with undecided checks.  Every
    consumer (summary, evidence templates, gate) uses this, never the reason text."""
    return (result or {}).get("verdict") == Verdict.PASS and bool(undecided_of(result or {}))


def has_refused_negative(result: dict[str, Any]) -> bool:
    """Whether at least one negative case of a result dict was proven refused."""
    return any(isinstance(n, dict) and n.get("refused") is True for n in (result or {}).get("negative") or [])


REQUIRED_KEYS = ("requirement", "verdict", "reason", "observations", "steps", "negative", "owner", "run_id", "started", "duration_s")


def validate_result_dict(data: dict[str, Any]) -> list[str]:
    """Problems with a result dict received from elsewhere (the evidence role's input check)."""
    problems = []
    for key in REQUIRED_KEYS:
        if key not in data:
            problems.append("missing key %r" % key)
    verdict = data.get("verdict")
    if verdict not in VERDICTS:
        problems.append("verdict %r is not one of %s" % (verdict, ", ".join(VERDICTS)))
    if not str(data.get("reason") or "").strip():
        problems.append("empty reason")
    if data.get("owner") not in OWNERS:
        problems.append("owner %r is not one of %s" % (data.get("owner"), ", ".join(OWNERS)))
    # Optional (results written before it existed stay valid), but well-formed when present.
    und = data.get("undecided_checks")
    if und is not None and not (isinstance(und, list) and all(isinstance(u, dict) and u.get("name") for u in und)):
        problems.append("undecided_checks is not a list of checks with a name")
    return problems


def undecided(requirement: str, owner: str, run_id: str, reason: str, observations: dict[str, Any] | None = None) -> dict[str, Any]:
    """An explicit ``error`` result for a requirement no probe decided (no probe ran, it crashed,
    its background job died): the bundle shows it with ``reason``, never as a gap."""
    return {
        "requirement": requirement,
        "verdict": Verdict.ERROR,
        "reason": reason,
        "observations": dict(observations or {}),
        "checks": [],
        "undecided_checks": [],
        "steps": [],
        "negative": [],
        "owner": owner if owner in OWNERS else "platform",
        "run_id": run_id,
        "started": "",
        "duration_s": 0.0,
    }


def from_background_job(status: dict[str, Any], requirement: str, owner: str = "platform", run_id: str = "", waited_s: float = 0.0) -> dict[str, Any]:
    """The result a probe started as a background (async) job returned, read from its job status
    (what ``async_status`` reports), or an explicit ``error`` result saying why there is none:
    the job is still running after the wait, it died (killed at its time limit, a module failure),
    or what it returned is not a well-formed result for ``requirement``."""
    res = status.get("result")
    if not status.get("finished"):
        reason = "the probe was still running after %d s of waiting for its background job, so it has no result" % round(waited_s)
    elif not isinstance(res, dict) and "child_pid" in status:
        # async_wrapper's own record of a job it killed at its time limit.
        reason = "the probe's background job was stopped at its time limit before it returned a result; the cleanup phase sweeps what it created"
    elif not isinstance(res, dict):
        reason = "the probe's background job ended without a result: %s" % (status.get("msg") or "it returned no message")
    else:
        problems = validate_result_dict(res)
        if res.get("requirement") != requirement:
            problems.append("it is a result for %r" % res.get("requirement"))
        if not problems:
            return res
        reason = "the probe's background job returned a malformed result: %s" % "; ".join(problems)
    job = {k: status[k] for k in ("ansible_job_id", "finished", "failed", "msg") if k in status}
    return undecided(requirement, owner, run_id, reason, {"background_job": job})
