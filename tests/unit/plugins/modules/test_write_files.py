"""write_files (the evidence role's per-requirement pages and junit.xml in one call): writes what
differs, creates directories, leaves identical files alone, honours check mode, refuses a path outside
its root before writing anything."""

from __future__ import annotations

from ansible_collections.ai_conformance.kubernetes.plugins.modules import write_files


def test_writes_what_differs_and_leaves_the_rest(run_module, tmp_path):
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "same.md").write_text("# same\n")
    files = [
        {"path": "evidence/same.md", "content": "# same\n"},
        {"path": "evidence/new.md", "content": "# new\n"},
        {"path": "junit/gang_scheduling/junit.xml", "content": "<testsuites/>\n"},
    ]
    res = run_module(write_files.main, {"root": str(tmp_path), "files": files})
    assert not res.failed and res.result["written"] == ["evidence/new.md", "junit/gang_scheduling/junit.xml"]
    assert (tmp_path / "junit" / "gang_scheduling" / "junit.xml").read_text() == "<testsuites/>\n"
    assert oct((tmp_path / "evidence" / "new.md").stat().st_mode & 0o777) == "0o644"
    again = run_module(write_files.main, {"root": str(tmp_path), "files": files})
    assert again.result["changed"] is False and again.result["written"] == []


def test_check_mode_writes_nothing(run_module, tmp_path):
    res = run_module(write_files.main, {"root": str(tmp_path), "files": [{"path": "a/b.md", "content": "x"}], "_ansible_check_mode": True})
    assert res.result["written"] == ["a/b.md"] and not (tmp_path / "a").exists()


def test_a_path_outside_the_root_is_refused_before_anything_is_written(run_module, tmp_path):
    files = [{"path": "ok.md", "content": "x"}, {"path": "../escape.md", "content": "x"}]
    res = run_module(write_files.main, {"root": str(tmp_path / "root"), "files": files})
    assert res.failed and "relative path inside" in res.result["msg"]
    assert not (tmp_path / "root").exists() and not (tmp_path / "escape.md").exists()


def test_directories_it_creates_get_directory_mode_and_those_there_are_left(run_module, tmp_path, monkeypatch):
    """The evidence role creates the bundle directory through write_files: every directory it makes,
    the root and those above it included, gets directory_mode whatever the umask."""
    import os

    (tmp_path / "out").mkdir(mode=0o700)
    os.chmod(tmp_path / "out", 0o700)
    old = os.umask(0o077)
    try:
        files = [{"path": "PRODUCT.yaml", "content": "x\n"}, {"path": "junit/a/junit.xml", "content": "<testsuites/>\n"}]
        res = run_module(write_files.main, {"root": str(tmp_path / "out" / "v1.37" / "p"), "files": files, "directory_mode": "0755"})
    finally:
        os.umask(old)
    assert not res.failed and res.result["written"] == ["PRODUCT.yaml", "junit/a/junit.xml"]
    for d in ("out/v1.37", "out/v1.37/p", "out/v1.37/p/junit", "out/v1.37/p/junit/a"):
        assert (tmp_path / d).stat().st_mode & 0o777 == 0o755, d
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "out" / "v1.37" / "p" / "PRODUCT.yaml").stat().st_mode & 0o777 == 0o644


def test_a_root_under_a_file_fails_naming_the_directory_it_could_not_create(run_module, tmp_path):
    (tmp_path / "a-file").write_text("")
    root = tmp_path / "a-file" / "out" / "v1.37" / "p"
    res = run_module(write_files.main, {"root": str(root), "files": [{"path": "PRODUCT.yaml", "content": "x"}], "directory_mode": "0755"})
    assert res.failed and res.result["msg"] == "cannot create the directory %s: Not a directory" % (tmp_path / "a-file" / "out")
    assert res.result["written"] == [] and not (tmp_path / "a-file" / "out").exists()


def test_emptied_directories_lose_an_earlier_runs_files_before_the_new_ones_are_written(run_module, tmp_path):
    """conformance.yml's mark of an unfinished run: partial/ emptied of an earlier run's results and
    INCOMPLETE.json written, in one call; a second call with partial/ already empty changes nothing."""
    (tmp_path / "partial" / "old").mkdir(parents=True)
    (tmp_path / "partial" / "dra_support.json").write_text("{}")
    (tmp_path / "partial" / "old" / "x.json").write_text("{}")
    (tmp_path / "PRODUCT.yaml").write_text("kept\n")
    args = {"root": str(tmp_path), "emptied": ["partial"], "directory_mode": "0755", "files": [{"path": "INCOMPLETE.json", "content": "{}\n"}]}
    res = run_module(write_files.main, args)
    assert not res.failed and res.result["emptied"] == ["partial"] and res.result["written"] == ["INCOMPLETE.json"]
    assert list((tmp_path / "partial").iterdir()) == [] and (tmp_path / "partial").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "PRODUCT.yaml").read_text() == "kept\n"
    again = run_module(write_files.main, args)
    assert again.result["changed"] is False and again.result["emptied"] == []


def test_an_emptied_directory_that_is_missing_is_created_and_check_mode_removes_nothing(run_module, tmp_path):
    res = run_module(write_files.main, {"root": str(tmp_path), "emptied": ["partial"], "files": []})
    assert res.result["emptied"] == ["partial"] and (tmp_path / "partial").is_dir()
    (tmp_path / "partial" / "a.json").write_text("{}")
    check = run_module(write_files.main, {"root": str(tmp_path), "emptied": ["partial"], "files": [], "_ansible_check_mode": True})
    assert check.result["changed"] is True and check.result["emptied"] == ["partial"]
    assert (tmp_path / "partial" / "a.json").is_file()


def test_an_emptied_directory_outside_the_root_is_refused_before_anything_changes(run_module, tmp_path):
    (tmp_path / "root" / "partial").mkdir(parents=True)
    (tmp_path / "root" / "partial" / "a.json").write_text("{}")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "b").write_text("")
    for bad in ("../keep", "/tmp", "", ".", "./", "partial/.."):
        res = run_module(write_files.main, {"root": str(tmp_path / "root"), "emptied": ["partial", bad], "files": []})
        assert res.failed and "relative path inside" in res.result["msg"], bad
    assert (tmp_path / "keep" / "b").is_file() and (tmp_path / "root" / "partial" / "a.json").is_file()
