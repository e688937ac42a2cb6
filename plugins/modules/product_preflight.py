#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: product_preflight
short_description: Report what the CNCF AI conformance PR validator would reject in a PRODUCT.yaml
version_added: 0.1.0
author:
  - ai_conformance.kubernetes contributors (@ai-conformance)
description:
  - "Applies the rules of the cncf/k8s-ai-conformance PR validator (C(scripts/validate.go)) to a PRODUCT.yaml
    before it is submitted: the version read from the path C(vX.Y/<product>/PRODUCT.yaml); every metadata field
    but C(repoUrl) present, a string, not empty and not a C([...]) placeholder; C(k8sConformanceUrl) of the form
    C(https://github.com/cncf/k8s-conformance/tree/main/vX.Y/<product>); C(productLogoUrl) an SVG, EPS or AI file;
    every category and requirement of that checklist present; statuses from the allowed set; every MUST
    C(Implemented); notes on every C(N/A)."
  - "Which revision's rules apply depends on the checklist version (the table is in module_utils C(cncf_validator),
    every rule with its source). v1.33 to v1.36: every evidence entry that is not a URL must be an existing file of
    that literal name relative to PRODUCT.yaml. v1.37 (the validator's revision for v1.37+): C(file://), the
    C(#Fragment), a leading C(/) and the product's own C(vX.Y/<dir>/) are stripped and the path must stay inside the
    product directory; a cited C(junit.xml), C(results.json) (C(go test -json)) or C(e2e.log) must be readable in its
    format and hold no failing test; the item's test (its C(#Fragment), else TestSecureAcceleratorAccess,
    TestGangScheduling or TestAcceleratorClusterAutoscaling) must be in it and pass, and not be skipped behind an
    Implemented item; C(cluster_autoscaling) may be C(N/A) with a warning; an Implemented auto-tested item citing no
    test artifact is a warning."
  - "Where the validator and the written guidance disagree, the finding carries both and what to do: the v1.36/v1.37
    templates omit C(k8sConformanceUrl) that the validator requires; the FAQ allows C(N/A) for conditional MUSTs
    that the validator rejects (before v1.37 both, from v1.37 pod_autoscaling); before v1.37 the C(file://...#Test)
    evidence form of the v1.37 header is looked up as a file; the validator accepts changed descriptions, MUSTs
    without evidence and N/A reasons saying 'unsupported', which the guidance forbids."
  - "What the validator would do with the metadata is decided offline where it can be: an http(s) value whose host
    never answers (a reserved name such as C(example.invalid), C(.test), C(.example), C(localhost), or a private,
    loopback or link-local address) or that is not a URL with a host is rejected; so is a vendorName that is a
    placeholder (it contains C(example)). The reachability of any other URL and the CNCF membership of any other
    vendorName need the network: they are reported as C(unchecked) unless O(check_urls) is set or O(cncf_members) is
    given. A documentation name (C(example.com), C(.net), C(.org)), a URL field that is not an http(s) URL and a
    contactEmailAddress that never receives mail are flagged against the written guidance; the validator does not
    reject them itself."
  - "The result keeps the metadata apart from the rest (RV(sections)): C(evidence) (the spec: statuses, notes,
    evidence, test artifacts; and the file's path) and C(metadata), each with its own verdict line;
    RV(would_reject) is true when either would be rejected."
  - Reads files only, unless O(report_path) is given; check mode is supported and writes nothing (with O(report_path),
    it reports whether the report would change).
options:
  path:
    description: The PRODUCT.yaml to check.
    type: path
    required: true
  version:
    description: Checklist version; by default the one in the path (C(vX.Y/)), as the validator reads it.
    type: str
  cncf_members:
    description: CNCF member names (the landscape's C(CNCF Members)); when given, vendorName is checked against them.
    type: list
    elements: str
  check_urls:
    description: Request every http(s) URL the way the validator does (HEAD, then GET; below 400 within 30 s).
    type: bool
    default: false
  fail_on_reject:
    description: Fail the task when the validator would reject the file.
    type: bool
    default: false
  report_path:
    description:
      - Also write the result to this file, as the evidence bundle's C(preflight.json) holds it, in the same step.
      - "A JSON object of RV(version), RV(ruleset), RV(rules), RV(would_reject), RV(rejections), RV(findings),
        RV(validator_warnings), RV(conflicts), RV(unchecked) and RV(sections): keys sorted, indented by four spaces,
        non-ASCII characters escaped, and a final newline (what C(to_nice_json(sort_keys=true)) makes of the registered
        result)."
      - Written only when its content differs, also when O(fail_on_reject) then fails the task; its directory must exist.
        O(mode), O(owner) and the other file options apply to it.
    type: path
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
requirements:
  - PyYAML
"""

EXAMPLES = r"""
- name: Pre-flight a generated bundle before the PR
  ai_conformance.kubernetes.product_preflight:
    path: evidence-out/v1.37/my-platform/PRODUCT.yaml
    fail_on_reject: true
  register: preflight

- name: Pre-flight and write the report beside it, as the evidence role does
  ai_conformance.kubernetes.product_preflight:
    path: evidence-out/v1.37/my-platform/PRODUCT.yaml
    report_path: evidence-out/v1.37/my-platform/preflight.json
    mode: "0644"

- name: Show each finding
  ansible.builtin.debug:
    msg: "{{ item.validator }}: {{ item.where }}: {{ item.message }} {{ item.advice }}"
  loop: "{{ preflight.findings }}"
"""

RETURN = r"""
report:
  description: The file O(report_path) names, or null without it.
  returned: always
  type: str
  sample: evidence-out/v1.37/my-platform/preflight.json
would_reject:
  description: Whether the validator would reject the file (a finding with validator C(rejects)), in its metadata or the rest; RV(sections) says which.
  returned: always
  type: bool
  sample: false
rejections:
  description: Number of findings the validator rejects.
  returned: always
  type: int
  sample: 0
version:
  description: Checklist version the file was checked against.
  returned: always
  type: str
  sample: v1.37
ruleset:
  description: The validator rule set applied to this checklist version, and its source.
  returned: always
  type: dict
  sample: {name: v1.37, source: "cncf/k8s-ai-conformance scripts/validate.go, revision for v1.37+ (stored index 2026-12)"}
rules:
  description: Every rule applied (C(rule)), when it fires (C(when)) and the validator revision it comes from (C(source)).
  returned: always
  type: list
  elements: dict
  sample: [{rule: test-artifact-failure, when: a cited test artifact holds any failing test, source: "cncf/k8s-ai-conformance scripts/validate.go ..."}]
validator_warnings:
  description: The findings the validator prints as warnings without rejecting the file.
  returned: always
  type: list
  elements: dict
  sample: [{rule: conditional-na, where: spec.schedulingOrchestration.cluster_autoscaling, validator: warns}]
findings:
  description: Every finding; C(validator) is C(rejects), C(warns), C(accepts) or C(unchecked), C(guidance) says where the written guidance differs.
  returned: always
  type: list
  elements: dict
  sample: [{rule: k8s-conformance-url, where: metadata.k8sConformanceUrl, message: k8sConformanceUrl is missing, validator: rejects,
            guidance: the v1.37 checklist template has no k8sConformanceUrl field, advice: add it anyway}]
conflicts:
  description: The findings where the validator and the written guidance disagree.
  returned: always
  type: list
  elements: dict
  sample: []
unchecked:
  description: The findings that need the network (URLs, CNCF membership) and were not checked.
  returned: always
  type: list
  elements: dict
  sample: [{rule: url-reachable, where: metadata.websiteUrl, validator: unchecked}]
sections:
  description:
    - The verdict of each part of the file apart, C(evidence) (everything but the metadata) and C(metadata).
    - Each has C(would_reject), C(rejections), C(rejected), C(conflicts) (not rejected by the validator, against the
      written guidance), C(unchecked) (needs the network), one line per finding, and C(verdict), all of it in one line.
  returned: always
  type: dict
  sample:
    evidence: {would_reject: false, rejections: 0, rejected: [], conflicts: [], unchecked: [], verdict: nothing the validator would reject}
    metadata:
      would_reject: true
      rejections: 1
      rejected: ["websiteUrl https://example.invalid/ai never answers: example.invalid is a reserved name (.invalid, RFC 6761) that never resolves"]
      conflicts: []
      unchecked: [vendorName (CNCF membership)]
      verdict: "rejected: websiteUrl https://example.invalid/ai never answers: ... | unchecked (needs the network): vendorName (CNCF membership)"
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.core import catalog, outfile
from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report import preflight as pf

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

# What the report file holds of the result (the evidence role's preflight.json).
REPORT_KEYS = ("version", "ruleset", "rules", "would_reject", "rejections", "findings", "validator_warnings", "conflicts", "unchecked", "sections")
USER_AGENT = "CNCF-K8s-AI-Conformance-Validator/1.0 (+https://github.com/cncf/k8s-ai-conformance)"


def url_checker(module):
    from ansible.module_utils.urls import open_url

    def check(url):
        # validate.go @ 122012f2: below 400, or 429 (rate limited), counts as reachable.
        last = ""
        for method in ("HEAD", "GET"):
            try:
                resp = open_url(url, method=method, timeout=30, http_agent=USER_AGENT, follow_redirects="all")
                if resp.status < 400 or resp.status == 429:
                    return None
                last = "HTTP %d" % resp.status
            except Exception as exc:  # pylint: disable=broad-except
                if getattr(exc, "code", None) == 429:
                    return None
                last = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        return last

    return check


def report_text(out):
    """The report of ``out``: the byte-for-byte text that to_nice_json(sort_keys=true) made of the registered result."""
    report = json.loads(json.dumps({k: out[k] for k in REPORT_KEYS if k in out}))  # as the task result holds it
    return json.dumps(report, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "version": {"type": "str"},
            "cncf_members": {"type": "list", "elements": "str"},
            "check_urls": {"type": "bool", "default": False},
            "fail_on_reject": {"type": "bool", "default": False},
            "report_path": {"type": "path"},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    p = module.params
    try:
        with open(p["path"], encoding="utf-8") as fh:
            product = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (p["path"], str(exc).splitlines()[0]))
    try:
        out = pf.check_product(product, p["path"], p["version"], p["cncf_members"], url_checker(module) if p["check_urls"] else None)
    except catalog.UnknownVersion as exc:
        module.fail_json(msg=str(exc))
    counts = (out["rejections"], len(out["validator_warnings"]), len(out["conflicts"]), len(out["unchecked"]))
    msg = "the CNCF validator would %s %s (%s; %s rules). evidence: %s. metadata: %s" % (
        "reject" if out["would_reject"] else "accept",
        p["path"],
        "%d rejection(s), %d validator warning(s), %d conflict(s) between validator and guidance, %d check(s) need the network" % counts,
        out["ruleset"]["name"],
        out["sections"]["evidence"]["verdict"],
        out["sections"]["metadata"]["verdict"],
    )
    changed = False
    if p["report_path"]:
        try:
            changed = outfile.write_if_changed(module, p["report_path"], report_text(out), prefix=".product_preflight-")
        except OSError as exc:
            module.fail_json(msg="cannot write the report %s: %s" % (p["report_path"], exc.strerror or exc), report=p["report_path"], **out)
    if out["would_reject"] and p["fail_on_reject"]:
        module.fail_json(msg=msg, changed=changed, report=p["report_path"], **out)
    module.exit_json(changed=changed, msg=msg, report=p["report_path"], **out)


if __name__ == "__main__":
    main()
