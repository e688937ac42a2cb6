# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of ai_conformance.kubernetes.probe_job (documentation in plugins/modules/probe_job.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import shlex
import time

from ansible.plugins.action.async_status import ActionModule as AsyncStatusAction

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core.result import OWNERS, from_background_job

ARGSPEC = {
    "jid": {"type": "str", "required": True},
    "requirement": {"type": "str", "required": True},
    "owner": {"type": "str", "default": "platform", "choices": list(OWNERS)},
    "run_id": {"type": "str", "default": ""},
    "timeout": {"type": "int", "default": 1860},
    "poll_interval": {"type": "int", "default": 2},
    "cleanup": {"type": "bool", "default": True},
}


class ActionModule(AsyncStatusAction):
    """Polls async_status on the managed host (the job's async dir, as async_status finds it)."""

    _supports_check_mode = True
    _supports_async = False

    def _status(self, jid, mode, task_vars):
        args = {"jid": jid, "mode": mode, "_async_dir": self._get_async_dir()}
        return self._execute_module(module_name="ansible.legacy.async_status", module_args=args, task_vars=task_vars)

    def _shell(self, verb, jid):
        """``cat`` or ``rm -f`` of the job's status file with one shell command on the managed host:
        what async_status does, without its module run (about half a second, paid twice per job by a
        play that collects seven).  None when that did not work: the module is asked then."""
        path = self._connection._shell.join_path(self._get_async_dir(), jid)
        out = self._low_level_execute_command("%s %s" % (verb, shlex.quote(path)))
        return out.get("stdout") if out.get("rc") == 0 else None

    def _read(self, jid, task_vars):
        """async_status's status mode: the job file as the module reads it (``finished`` set), or the
        module's own answer where the file cannot be read and parsed that way."""
        try:
            data = json.loads(self._shell("cat", jid) or "")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return self._status(jid, "status", task_vars)
        if "started" not in data:
            data.update(finished=True, ansible_job_id=jid)
        elif "finished" not in data:
            data["finished"] = False
        return data

    def run(self, tmp=None, task_vars=None):
        result = super(AsyncStatusAction, self).run(tmp, task_vars)  # ActionBase.run: skip async_status's own run
        args = self.validate_argument_spec(argument_spec=ARGSPEC)[1]
        if args["timeout"] < 0 or args["poll_interval"] < 1:
            return dict(
                result, failed=True, msg="probe_job: timeout must be >= 0 and poll_interval >= 1 (got %s, %s)" % (args["timeout"], args["poll_interval"])
            )
        t0 = time.monotonic()
        while True:
            status = self._read(args["jid"], task_vars)
            if status.get("finished") or time.monotonic() - t0 >= args["timeout"]:
                break
            time.sleep(args["poll_interval"])
        waited = round(time.monotonic() - t0, 1)
        finished = bool(status.get("finished"))
        if finished and args["cleanup"] and self._shell("rm -f", args["jid"]) is None:
            self._status(args["jid"], "cleanup", task_vars)
        res = from_background_job(status, args["requirement"], args["owner"], args["run_id"], waited)
        result.update(changed=False, result=res, verdict=res["verdict"], reason=res["reason"], finished=finished, waited_s=waited)
        return result
