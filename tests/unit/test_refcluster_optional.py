"""The reference cluster's OPTIONAL components (build.optional in components.yaml: JobSet and the
Kubeflow Trainer): built last, skipped with one line when the test deadline leaves no time for
them, not started when not built, and the reason tests skip with."""

from __future__ import annotations

import pytest

from tests.refcluster import build as builder
from tests.refcluster import procs
from tests.refcluster.config import Component, load_components


def comp(name, cold=600, margin=4100, optional=True, **run):
    b = {"module": "example.com/%s" % name, "version": "v1.0.0", "binaries": {name: "example.com/%s" % name}}
    if optional:
        b["optional"] = {"cold_build_s": cold, "margin_s": margin}
    return Component(name, b, run)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(builder, "CACHE", tmp_path)
    monkeypatch.setattr(Component, "bin_dir", property(lambda self: tmp_path / "bin" / self.key))
    return tmp_path


def test_the_declared_optional_components_carry_a_build_time_and_a_margin():
    comps = load_components()
    for name in ("jobset", "kubeflow-trainer"):
        opt = comps[name].build["optional"]
        assert opt["cold_build_s"] > 0 and opt["margin_s"] > 0
    assert not any(c.build.get("optional") for n, c in comps.items() if n not in ("jobset", "kubeflow-trainer"))


def test_recording_a_new_build_time_rebuilds_nothing():
    a, b = comp("x", cold=600), comp("x", cold=900)
    assert builder.spec_hash(a) == builder.spec_hash(b)
    assert builder.spec_hash(comp("x", optional=False)) == builder.spec_hash(a)


def test_skipped_together_when_the_deadline_leaves_less_than_build_plus_margin(cache, monkeypatch):
    comps = {"jobset": comp("jobset", cold=300), "kubeflow-trainer": comp("kubeflow-trainer", cold=500)}
    monkeypatch.delenv("AIC_TEST_DEADLINE", raising=False)
    assert builder.optional_skips(comps, now=0) == {}  # no deadline: always built
    monkeypatch.setenv("AIC_TEST_DEADLINE", str(300 + 500 + 4100))
    assert builder.optional_skips(comps, now=0) == {}  # exactly enough
    skips = builder.optional_skips(comps, now=1)
    assert set(skips) == {"jobset", "kubeflow-trainer"}
    assert skips["kubeflow-trainer"] == (
        "optional component kubeflow-trainer not built: the test deadline leaves 4899 s and building jobset, kubeflow-trainer from an empty "
        "cache takes about 800 s plus a 4100 s margin for the tests (build it with `python -m tests.refcluster.cluster build jobset kubeflow-trainer`)"
    )


def test_build_all_builds_optional_ones_last_and_logs_the_skip(cache, monkeypatch):
    comps = {"trainer": comp("trainer"), "etcd": comp("etcd", optional=False), "kwok": comp("kwok", optional=False)}
    monkeypatch.setattr(builder, "load_components", lambda: comps)
    order = []
    monkeypatch.setattr(builder, "build", lambda c, log: order.append(c.name) or 1.0)
    monkeypatch.setenv("AIC_TEST_DEADLINE", "1")  # long past
    lines = []
    timings = builder.build_all(None, log=lines.append)
    assert order == ["etcd", "kwok"] and timings["trainer"] == "skipped"
    assert len(lines) == 1 and lines[0].startswith("optional component trainer not built: the test deadline leaves 0 s")
    assert builder.not_built_reason(comps["trainer"]) == lines[0]
    # Named explicitly, it is built whatever the deadline, and the recorded skip is forgotten.
    builder.build_all(["trainer"], log=lines.append)
    assert order[-1] == "trainer" and not (cache / "src" / "trainer-v1.0.0.skipped").exists()


def test_an_unbuilt_optional_component_is_not_run_and_says_why(cache):
    comps = {
        "kube-apiserver": Component("kube-apiserver", {}, {"python": "x.py"}),
        "trainer": comp("trainer", binary="trainer/trainer", after=["kube-apiserver"]),
        "wrapper": Component("wrapper", {}, {"python": "w.py", "requires_built": ["trainer"], "after": ["trainer"]}),
    }
    lines = []
    assert [c.name for c in procs.run_order(comps, log=lines.append)] == ["kube-apiserver"]
    assert lines == [
        "trainer not started: optional component trainer is not built (build it with `python -m tests.refcluster.cluster build trainer`)",
        "wrapper not started: optional component trainer is not built (build it with `python -m tests.refcluster.cluster build trainer`)",
    ]
    # Built: started like any other component.
    t = comps["trainer"]
    t.bin_dir.mkdir(parents=True)
    (t.bin_dir / "trainer").write_text("")
    (t.bin_dir / ".stamp").write_text(builder.spec_hash(t) + "\n")
    assert [c.name for c in procs.run_order(comps)] == ["kube-apiserver", "trainer", "wrapper"]
    # An explicit list (another cluster's profile, down) is taken as given.
    assert [c.name for c in procs.run_order(comps, ["kube-apiserver"])] == ["kube-apiserver"]


class Done:
    def __init__(self, value=None, exc=None):
        self.value, self.exc = value, exc

    def result(self):
        if self.exc:
            raise self.exc
        return self.value


def test_an_optional_component_that_fails_to_start_is_stopped_and_the_cluster_goes_on(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(procs, "STATE", tmp_path / "state")
    comps = {
        "kube-apiserver": Component("kube-apiserver", {}, {"python": "x.py"}),
        "trainer": comp("trainer", binary="trainer/trainer", after=["kube-apiserver"]),
    }
    t = comps["trainer"]
    t.bin_dir.mkdir(parents=True)
    (t.bin_dir / "trainer").write_text("")
    (t.bin_dir / ".stamp").write_text(builder.spec_hash(t) + "\n")
    stopped, lines = [], []
    res = procs.started(Done(exc=RuntimeError("component trainer not ready after 90s\nlog tail")), comps, "trainer", stopped.append, lines.append)
    assert res == "failed" and stopped == ["trainer"]
    assert lines == ["optional component trainer failed to start and was stopped: component trainer not ready after 90s"]
    assert procs.failed_start("trainer") == "component trainer not ready after 90s\nlog tail"
    # Left out of the cluster's health (status) while the failure stands.
    assert [c.name for c in procs.run_order(comps)] == ["kube-apiserver"]
    # A later start that works clears it.
    assert procs.started(Done(value=1.5), comps, "trainer", stopped.append, lines.append) == 1.5 and procs.failed_start("trainer") is None
    # Any other component's failure still fails `up`.
    with pytest.raises(RuntimeError):
        procs.started(Done(exc=RuntimeError("etcd died")), comps, "kube-apiserver", stopped.append, lines.append)
