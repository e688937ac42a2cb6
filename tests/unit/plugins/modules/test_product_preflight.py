"""product_preflight's report_path: the module writes the evidence bundle's preflight.json itself, the
same bytes the evidence role's copy task made of the registered result (to_nice_json(sort_keys=true)
of its report keys, and a newline), only when they differ, in check mode nothing, and also when
fail_on_reject then fails the task."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from ansible_collections.ai_conformance.kubernetes.plugins.modules import product_preflight

REPO = Path(__file__).resolve().parents[4]
SAMPLE = REPO / "docs" / "samples" / "reference-cluster" / "v1.37" / "refcluster"


def bundle(tmp_path, vendor=None):
    d = tmp_path / "v1.37" / "refcluster"
    shutil.copytree(SAMPLE, d)
    (d / "preflight.json").unlink()
    if vendor:
        product = yaml.safe_load((d / "PRODUCT.yaml").read_text())
        product["metadata"]["vendorName"] = vendor
        (d / "PRODUCT.yaml").write_text(yaml.safe_dump(product, sort_keys=False, allow_unicode=True))
    return d


def as_the_copy_task_wrote_it(result):
    """What the role's former copy task wrote: to_nice_json(sort_keys=true) of the report keys of the
    registered result (the module's result as it comes back through JSON)."""
    from ansible.plugins.filter.core import to_nice_json

    registered = json.loads(json.dumps(result))
    return to_nice_json({k: v for k, v in registered.items() if k in product_preflight.REPORT_KEYS}, sort_keys=True) + "\n"


def test_report_path_writes_what_the_copy_task_wrote(run_module, tmp_path):
    d = bundle(tmp_path, vendor="Fabrikam Grüße ✓ contributors")
    args = {"path": str(d / "PRODUCT.yaml"), "report_path": str(d / "preflight.json"), "mode": "0644"}
    dry = run_module(product_preflight.main, args, check_mode=True)
    assert dry.result["changed"] is True and not (d / "preflight.json").exists()
    res = run_module(product_preflight.main, args)
    assert not res.failed and res.result["changed"] is True and res.result["report"] == str(d / "preflight.json")
    text = (d / "preflight.json").read_text()
    assert text == as_the_copy_task_wrote_it(res.result)
    assert "\\u00fc" in text and set(json.loads(text)) == set(product_preflight.REPORT_KEYS)
    assert (d / "preflight.json").stat().st_mode & 0o777 == 0o644
    assert run_module(product_preflight.main, args).result["changed"] is False


def test_the_committed_sample_report_is_what_the_module_writes(run_module, tmp_path):
    d = bundle(tmp_path)
    res = run_module(product_preflight.main, {"path": str(d / "PRODUCT.yaml"), "report_path": str(d / "preflight.json")})
    assert (d / "preflight.json").read_bytes() == (SAMPLE / "preflight.json").read_bytes()
    assert res.result["changed"] is True


def test_without_report_path_nothing_is_written_and_a_rejection_still_writes_the_report(run_module, tmp_path):
    d = bundle(tmp_path)
    res = run_module(product_preflight.main, {"path": str(d / "PRODUCT.yaml")})
    assert not res.failed and res.result["changed"] is False and res.result["report"] is None and not (d / "preflight.json").exists()
    res = run_module(product_preflight.main, {"path": str(d / "PRODUCT.yaml"), "report_path": str(d / "preflight.json"), "fail_on_reject": True})
    assert res.failed and res.result["would_reject"] is True and json.loads((d / "preflight.json").read_text())["would_reject"] is True
    res = run_module(product_preflight.main, {"path": str(d / "PRODUCT.yaml"), "report_path": str(d / "nowhere" / "preflight.json")})
    assert res.failed and res.result["msg"] == "cannot write the report %s: No such file or directory" % (d / "nowhere" / "preflight.json")
