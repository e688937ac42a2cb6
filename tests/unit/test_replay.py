"""Each evidence file ends with the command that reruns its one requirement.  The command is taken
from a rendered evidence file and run as written (plus --check and a kubeconfig whose server is a
closed port, so nothing can reach a cluster): ansible-playbook finds the collection's playbook
ai_conformance.kubernetes.conformance, accepts the arguments, and plans only that requirement (and
the probes its domain role runs in the same lane, which the plan names: docs/replay.md)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.ai_conformance.kubernetes.plugins.module_utils.report.evidence import build_rows
from tests.unit.conftest import closed_port, kubeconfig_text, playbook_env
from tests.unit.plugins.module_utils.test_evidence import res
from tests.unit.plugins.module_utils.test_evidence_bundle import templar, trusted

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "roles" / "evidence" / "templates" / "requirement.md.j2"


def evidence_file(rid, version="v1.37", **variables):
    """evidence/<rid>.md as the evidence role renders it (requirement.md.j2 for the row)."""
    out = build_rows([res(rid, "pass")], version)
    row = next(r for r in out["rows"] + out["extras"] if r["id"] == rid)
    base = {"_evidence_out": out, "evidence_version": version, "evidence_base_conformance": {}, "row": row, **variables}
    return templar(base).template(trusted(TEMPLATE.read_text()), escape_backslashes=False, overrides={"trim_blocks": True, "lstrip_blocks": False})


def replay_command(text):
    """The last fenced bash block of an evidence file: the rerun command."""
    blocks = re.findall(r"```bash\n(.*?)\n```", text, re.S)
    assert blocks and text.rstrip().endswith("```"), "the evidence file does not end with a command"
    return blocks[-1]


def run(argv, tmp_path, *extra):
    """argv as the evidence file gives it, then ``extra``; a --check run gets a kubeconfig whose
    server is a closed port."""
    kc = tmp_path / "kubeconfig"
    kc.write_text(kubeconfig_text("https://127.0.0.1:%d" % closed_port()))
    if "--check" in extra:
        extra = (*extra, "-e", "conformance_kubeconfig=%s" % kc)
    env = playbook_env(ANSIBLE_STDOUT_CALLBACK="default")
    assert argv[0] == "ansible-playbook"
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), *argv[1:], *extra]
    res_ = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO), env=env, timeout=180, check=False)
    return res_.returncode, res_.stdout


def planned(out):
    """The requirement ids of the plan that "Plan the run" printed (-v)."""
    section = out.split("TASK [Plan the run]", 1)[1].split("TASK [", 1)[0]
    return re.findall(r'"requirement": "(\w+)"', section)


def test_every_evidence_file_ends_with_its_exact_command(tmp_path):
    text = evidence_file("gang_scheduling", evidence_replay_inventory=["inventories/local"], evidence_replay_output_dir=".build/evidence/replay")
    assert text.rstrip().splitlines()[-3:] == [
        "```bash",
        "ansible-playbook ai_conformance.kubernetes.conformance -i inventories/local "
        """-e '{"conformance_requirements": ["gang_scheduling"], "conformance_version": "v1.37", """
        """"conformance_output_dir": ".build/evidence/replay/gang_scheduling"}'""",
        "```",
    ]
    # Paths that need quoting are quoted; without a known inventory the command says where it goes.
    odd = replay_command(evidence_file("ai_inference", "v1.35", evidence_replay_inventory=["my inv/hosts.yml"], evidence_replay_output_dir="out"))
    assert shlex.split(odd)[2:4] == ["-i", "my inv/hosts.yml"]
    assert "-i '<inventory>' -e" in replay_command(evidence_file("ai_inference"))


@pytest.mark.parametrize(
    "rid, version, plan_line, plan",
    [
        # The only probe of its domain's lane: the run is exactly that requirement.
        ("robust_controller", "v1.37", "1 requirement(s) to probe for checklist v1.37 (1 background)", ["robust_controller"]),
        # networking's background lane: the gateway and the two model-server probes.
        (
            "ai_inference",
            "v1.37",
            "3 requirement(s) to probe for checklist v1.37 (3 background)",
            ["ai_inference", "disaggregated_inference", "advanced_inference_ingress"],
        ),
        ("ai_inference", "v1.35", "1 requirement(s) to probe for checklist v1.35 (1 background)", ["ai_inference"]),
        # The accelerators role probes its lane together (docs/replay.md): the plan names all of them.
        (
            "gpu_sharing",
            "v1.35",
            "5 requirement(s) to probe for checklist v1.35 (5 serial)",
            ["dra_support", "secure_accelerator_access", "driver_runtime_management", "gpu_sharing", "virtualized_accelerator"],
        ),
    ],
)
def test_the_command_of_a_rendered_evidence_file_runs_and_plans_its_requirement(tmp_path, rid, version, plan_line, plan):
    command = replay_command(evidence_file(rid, version, evidence_replay_inventory=["inventories/local"], evidence_replay_output_dir=str(tmp_path / "replay")))
    argv = shlex.split(command)
    rc, out = run(argv, tmp_path, "--syntax-check")
    # The collection's playbook, which imports conformance.yml at the collection's root.
    assert rc == 0 and re.search(r"playbook: \S*/ansible_collections/ai_conformance/kubernetes/playbooks/conformance\.yml", out), out[-3000:]
    rc, out = run(argv, tmp_path, "--check", "-v")
    assert "[conformance] bad input" not in out, out[-3000:]
    assert "[conformance] plan: %s" % plan_line in out, out[-3000:]
    assert planned(out) == plan and rid in planned(out)
    # It went as far as a run can without a cluster, and wrote nothing.
    assert rc != 0 and re.search(r'"msg": "cannot reach the Kubernetes API at https://127\.0\.0\.1:\d+', out)
    assert not (tmp_path / "replay").exists()


def test_a_bad_requirement_list_stops_the_run_one_line_each(tmp_path):
    argv = ["ansible-playbook", "ai_conformance.kubernetes.conformance", "-i", "inventories/local"]
    cases = {
        '{"conformance_requirements": "gpu_sharing"}': ["conformance_requirements must be a list of requirement ids (got gpu_sharing)"],
        '{"conformance_requirements": []}': ["conformance_requirements is empty: no requirement would be probed (leave it out to probe every one)"],
        '{"conformance_requirements": ["gpus", "workload_sandboxing", "gang_scheduling"], '
        '"conformance_version": "v1.36", "conformance_domains": ["security"]}': [
            "conformance_requirements names gpus, which is not a requirement of any checklist",
            "conformance_requirements names workload_sandboxing, which checklist v1.36 does not have",
            "conformance_requirements names gang_scheduling, whose domain conformance_domains leaves out",
        ],
    }
    for extra, expected in cases.items():
        rc, out = run(argv, tmp_path, "--check", "-e", extra)
        bad = [line[len("[conformance] bad input: ") :] for line in out.splitlines() if line.startswith("[conformance] bad input: ")]
        assert rc != 0 and bad == expected, out[-3000:]
