# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the model-serving probes (inference_pool_probe, disaggregated_inference_probe) share:
the ``declared``/missing-configuration prologue, reading the model servers' finished-request
counters until they account for the requests, and the unserved-model negative case.

The model servers' HTTP and metrics helpers (``post_json``, ``scrape``, ``counter_sum``) are in
module_utils/disagg.py.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import time
from typing import Any, Callable

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import metrics as mt
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.client import Client
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.probe import Probe
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import ProbeResult, Verdict
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.runctx import RunContext

# Requests of the unserved-model negative case.
NEGATIVE_REQUESTS = 3


class ServingProbe(Probe):
    """A probe with ``declared`` (auto or none) and ``justification`` options: ``none`` is
    not_applicable with the justification, missing configuration (``missing_options``) an explicit
    error verdict in the bundle, not a crash of the play; otherwise ``probe`` runs."""

    @staticmethod
    def missing_options(params: dict[str, Any]) -> list[str]:
        """The options the probe needs that were not given."""
        return []

    def probe(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, client: Client, ctx: RunContext, result: ProbeResult) -> None:
        p = self.params
        if p["declared"] == "none":
            result.decide(Verdict.NOT_APPLICABLE, p["justification"])
            return
        missing = self.missing_options(p)
        if missing:
            result.decide(Verdict.ERROR, "%s is not configured: set %s (or declare none)" % (self.requirement, ", ".join(missing)))
            return
        self.probe(client, ctx, result)


def read_until(read: Callable[[], Any], enough: Callable[[Any], bool], timeout_s: float) -> tuple[Any, float]:
    """Read the counters (``read``) once a second until ``enough`` of what was read (a server may
    export them a moment after it answered), at most ``timeout_s``: (the last read, seconds
    waited)."""
    got, waited = mt.poll(lambda: _if_enough(read(), enough), timeout_s, 1.0)
    return got or read(), waited


def _if_enough(value: Any, enough: Callable[[Any], bool]) -> Any:
    return value if enough(value) else None


def unserved_model_moves(
    read: Callable[[], Any], deltas: Callable[[Any, Any], dict[str, float]], send: Callable[[], list[int]]
) -> tuple[list[int], dict[str, float]]:
    """Requests for a model nobody serves (``send`` returns their HTTP statuses) between two
    reads of the finished-request counters, a second apart from the last answer: (the statuses,
    the counters that moved and by how much)."""
    before = read()
    statuses = send()
    time.sleep(1.0)
    return statuses, {k: v for k, v in deltas(before, read()).items() if v}


def server_arg(pod: dict[str, Any], flag: str) -> str | None:
    """The value of ``--<flag>`` (``--flag=value`` or ``--flag value``) in the command and args of a
    model-server pod's serving container: the one named ``vllm``, else the first that mentions the
    flag.  None when no container states it."""
    containers = ((pod.get("spec") or {}).get("containers")) or []
    ordered = [c for c in containers if c.get("name") == "vllm"] + [c for c in containers if c.get("name") != "vllm"]
    for c in ordered:
        words = [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
        for i, w in enumerate(words):
            if w.startswith("--%s=" % flag):
                return w.split("=", 1)[1]
            if w == "--%s" % flag and i + 1 < len(words):
                return words[i + 1]
    return None


def served_model(pod: dict[str, Any]) -> str | None:
    """The model name a vLLM pod answers to: ``--served-model-name``, else ``--model``, else the
    model argument of ``vllm serve <model>``."""
    name = server_arg(pod, "served-model-name") or server_arg(pod, "model")
    if name:
        return name.split(",")[0].split()[0]
    for c in ((pod.get("spec") or {}).get("containers")) or []:
        words = [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
        if "serve" in words:
            rest = words[words.index("serve") + 1 :]
            if rest and not rest[0].startswith("-"):
                return rest[0]
    return None
