#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: probe_job
short_description: Wait for a probe started as a background job and return its result
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - Collects a probe module that was started with C(async) and C(poll=0), as the background lane of
    C(conformance.yml) starts them. It waits, through C(ansible.builtin.async_status), until the job
    finished or O(timeout) seconds passed, and returns the probe's result.
  - A job that has no well-formed result for O(requirement) becomes an explicit C(error) result that
    says why, so the evidence bundle shows it and the other probes go on. That covers a job still
    running after the wait, a job stopped at its C(async) time limit (the probe was killed before it
    could clean up; the play's cleanup phase sweeps its run-labelled objects), a module failure, and
    a malformed result.
  - The task itself never fails for a dead or slow probe; it fails only when its own arguments are
    wrong.
  - This is an action plugin; the job status is read on the managed host where the job runs.
options:
  jid:
    description: Job id of the background probe (C(ansible_job_id) of the task that started it).
    type: str
    required: true
  requirement:
    description: Requirement id the probe decides; an error result is made for it when the job left none.
    type: str
    required: true
  owner:
    description: Owning layer written into an error result.
    type: str
    default: platform
    choices: [platform, product, base]
  run_id:
    description: Run id written into an error result.
    type: str
    default: ""
  timeout:
    description: Seconds to wait for the job to finish. Keep it above the job's C(async) limit, so that the job's own limit stops it first.
    type: int
    default: 1860
  poll_interval:
    description: Seconds between two status reads.
    type: int
    default: 2
  cleanup:
    description: Remove the job's status file once the job has finished.
    type: bool
    default: true
attributes:
  check_mode:
    description: Reads job status only; runs the same in check mode (a probe started in check mode returns a skip result).
    support: full
  action:
    description: Runs as an action plugin on the controller.
    support: full
seealso:
  - module: ansible.builtin.async_status
"""

EXAMPLES = r"""
- name: Start a probe that shares nothing with the others in the background
  ai_conformance.kubernetes.operator_probe:
    run_id: "{{ conformance_run_id }}"
  async: 1800
  poll: 0
  register: robust_controller_job

- name: Collect it once the serial probes are done
  ai_conformance.kubernetes.probe_job:
    jid: "{{ robust_controller_job.ansible_job_id }}"
    requirement: robust_controller
    run_id: "{{ conformance_run_id }}"
  register: robust_controller

- name: Use the result like any probe's
  ansible.builtin.debug:
    msg: "{{ robust_controller.result.verdict }}: {{ robust_controller.result.reason }}"
"""

RETURN = r"""
result:
  description: The probe's result (the result contract of the collection), or an C(error) result saying why the job left none.
  returned: always
  type: dict
  sample: {requirement: robust_controller, verdict: pass, reason: "kuberay validates, reconciles and cleans up RayClusters"}
verdict:
  description: Verdict of RV(result).
  returned: always
  type: str
  sample: pass
reason:
  description: Reason of RV(result).
  returned: always
  type: str
  sample: kuberay validates, reconciles and cleans up RayClusters
finished:
  description: Whether the job had finished when the wait ended.
  returned: always
  type: bool
  sample: true
waited_s:
  description: Seconds spent waiting for the job.
  returned: always
  type: float
  sample: 12.5
"""
