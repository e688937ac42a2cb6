"""The bundle_upload role, for real, on a small fake bundle: s3 into moto's S3 server (the bucket is
then listed over plain HTTP and every key and byte compared), http_put into a local server that
records the PUTs, git into a local bare repository; check mode uploads nothing and says what it
would; a bad destination, a missing bucket setting or a missing bucket stop with one line.

botocore pins python-dateutil<3 and kubernetes 37 (requirements/runtime.txt) needs >=3, so pip
cannot put boto3 and moto into the project's venv: they live in .build/s3-tools (pinned below,
created on first use from PyPI), and the role's s3 task runs under that interpreter
(bundle_upload_s3_python), as an execution environment would keep boto3 apart."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
S3_TOOLS = REPO / ".build" / "s3-tools"
S3_PINS = ["moto[server]==5.2.5", "boto3==1.44.5", "botocore==1.44.5"]
RUN_ID = "r2612051200-42"
FILES = {
    "PRODUCT.yaml": b"metadata:\n  vendorName: test\n",
    "README.md": b"# bundle\n",
    "evidence/gang_scheduling.md": b"pass\n",
    "junit/gang_scheduling/junit.xml": b"<testsuites/>\n",
    "report.html": bytes(range(256)) * 4,  # binary: every byte value
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_tools() -> Path:
    """A virtualenv with moto's server and boto3 (pins in S3_PINS), made once and reused."""
    S3_TOOLS.parent.mkdir(parents=True, exist_ok=True)
    stamp = S3_TOOLS / "pins.txt"
    with open(str(S3_TOOLS) + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.is_file() or stamp.read_text() != "\n".join(S3_PINS):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(S3_TOOLS)], check=True)
            subprocess.run([str(S3_TOOLS / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *S3_PINS], check=True)
            stamp.write_text("\n".join(S3_PINS))
    return S3_TOOLS


@pytest.fixture
def moto(s3_tools):
    port = free_port()
    proc = subprocess.Popen([str(s3_tools / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


LIST_BUCKET = """
import base64, json, sys
import boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing-secret")
if sys.argv[3] == "create":
    s3.create_bucket(Bucket=sys.argv[2])
    sys.exit(0)
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]) for o in page.get("Contents", [])]
print(json.dumps({k: base64.b64encode(s3.get_object(Bucket=sys.argv[2], Key=k)["Body"].read()).decode() for k in keys}))
"""


def s3_client(s3_tools: Path, endpoint: str, bucket: str, action: str) -> str:
    res = subprocess.run([str(s3_tools / "bin" / "python"), "-c", LIST_BUCKET, endpoint, bucket, action], capture_output=True, text=True, check=True)
    return res.stdout


def bucket_contents(s3_tools: Path, endpoint: str, bucket: str) -> dict[str, bytes]:
    """Every object of the bucket, listed (ListObjectsV2) and read back with boto3."""
    return {k: base64.b64decode(v) for k, v in json.loads(s3_client(s3_tools, endpoint, bucket, "list")).items()}


@pytest.fixture
def bundle(tmp_path) -> Path:
    d = tmp_path / "evidence" / "v1.37" / "acme-ai"
    for rel, data in FILES.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data)
    sums = "".join("%s  %s\n" % (hashlib.sha256(data).hexdigest(), rel) for rel, data in sorted(FILES.items()))
    (d / "SHA256SUMS").write_text(sums)
    return d


def expected(bundle: Path, prefix: str) -> dict[str, bytes]:
    return {"%s%s/%s/%s" % (prefix, "acme-ai", RUN_ID, p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}


def upload(tmp_path, bundle: Path, *flags: str, env: dict[str, str] | None = None, **variables) -> tuple[int, str]:
    play = [
        {
            "name": "Upload",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"name": "Upload the bundle", "ansible.builtin.include_role": {"name": "ai_conformance.kubernetes.bundle_upload"}},
                {"name": "Show where", "ansible.builtin.debug": {"msg": "LOCATION={{ bundle_upload_location | default('unset') }}"}},
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "vars.json").write_text(json.dumps({"bundle_upload_source": str(bundle), "bundle_upload_run_id": RUN_ID, **variables}))
    run_env = dict(
        os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"), ANSIBLE_NOCOLOR="1", **(env or {})
    )
    # The interpreter as an inventory variable, not an extra var: extra vars would win over the s3 task's own.
    (tmp_path / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}})
    )
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(tmp_path / "hosts.yml")]
    res = subprocess.run(
        [*cmd, str(tmp_path / "play.yml"), "-e", "@%s" % (tmp_path / "vars.json"), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=str(REPO),
        env=run_env,
        timeout=300,
        check=False,
    )
    return res.returncode, res.stdout


AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_DEFAULT_REGION": "us-east-1"}


def s3_vars(s3_tools: Path, endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "bundle_upload_destination": "s3",
        "bundle_upload_s3_bucket": bucket,
        "bundle_upload_s3_endpoint_url": endpoint,
        "bundle_upload_s3_region": "us-east-1",
        "bundle_upload_s3_python": str(s3_tools / "bin" / "python"),
        "bundle_upload_prefix": "/nightly/",
    }


def test_s3_every_file_arrives_under_prefix_product_run_id(tmp_path, bundle, moto, s3_tools):
    s3_client(s3_tools, moto, "evidence-bucket", "create")
    # Credentials from the environment, as AWX's AWS credential injects them.
    rc, out = upload(tmp_path, bundle, env=AWS_ENV, **s3_vars(s3_tools, moto, "evidence-bucket"))
    assert rc == 0, out[-3000:]
    assert bucket_contents(s3_tools, moto, "evidence-bucket") == expected(bundle, "nightly/")
    assert "LOCATION=s3://evidence-bucket/nightly/acme-ai/%s/" % RUN_ID in out
    assert "testing-secret" not in out


def test_s3_check_mode_uploads_nothing_and_says_what(tmp_path, bundle, moto, s3_tools):
    s3_client(s3_tools, moto, "evidence-bucket", "create")
    rc, out = upload(tmp_path, bundle, "--check", env=AWS_ENV, **s3_vars(s3_tools, moto, "evidence-bucket"))
    assert rc == 0, out[-3000:]
    assert bucket_contents(s3_tools, moto, "evidence-bucket") == {}
    assert "check mode: would upload 6 file(s) of %s to s3://evidence-bucket/nightly/acme-ai/%s/" % (bundle, RUN_ID) in out
    assert "nightly/acme-ai/%s/report.html" % RUN_ID in out
    assert "LOCATION=unset" in out


def test_s3_missing_bucket_stops_with_the_module_line(tmp_path, bundle, moto, s3_tools):
    rc, out = upload(tmp_path, bundle, env=AWS_ENV, **s3_vars(s3_tools, moto, "no-such-bucket"))
    assert rc != 0
    assert "Bucket 'no-such-bucket' not found" in out


@pytest.mark.parametrize(
    ("variables", "line"),
    [
        ({"bundle_upload_destination": "s3"}, "bundle_upload: bundle_upload_s3_bucket is required for s3"),
        ({"bundle_upload_destination": "http_put", "bundle_upload_http_url": "ftp://x"}, "bundle_upload: bundle_upload_http_url must start with http"),
        ({"bundle_upload_destination": "git"}, "bundle_upload: bundle_upload_git_repo_path is required for git"),
        ({"bundle_upload_destination": "ftp"}, "value of bundle_upload_destination must be one of: none, s3, http_put, git, got: ftp"),
    ],
)
def test_bad_settings_stop_with_one_line(tmp_path, bundle, variables, line):
    rc, out = upload(tmp_path, bundle, **variables)
    assert rc != 0
    assert line in out, out[-2000:]


class Recorder(http.server.BaseHTTPRequestHandler):
    puts: list[tuple[str, bytes, str]] = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Recorder.puts.append((self.path, body, self.headers.get("Authorization", "")))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):  # quiet
        return


def test_http_put_sends_each_file_with_its_key_and_the_token(tmp_path, bundle):
    Recorder.puts = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = "s3cr3t-upload-token"
    try:
        url = "http://127.0.0.1:%d/upload/{key}" % server.server_address[1]
        rc, out = upload(tmp_path, bundle, bundle_upload_destination="http_put", bundle_upload_http_url=url, bundle_upload_http_token=token)
    finally:
        server.shutdown()
    assert rc == 0, out[-3000:]
    got = {path: body for path, body, _auth in Recorder.puts}
    assert got == {"/upload/" + k: v for k, v in expected(bundle, "").items()}
    assert {auth for _path, _body, auth in Recorder.puts} == {"Bearer " + token}
    assert token not in out


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_git_commits_and_pushes_the_bundle(tmp_path, bundle):
    bare = tmp_path / "evidence.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git("clone", "-q", str(bare), str(seed))
    (seed / "README.md").write_text("evidence archive\n")
    git("add", "README.md", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start", cwd=seed)
    git("push", "-q", "origin", "HEAD:main", cwd=seed)
    work = tmp_path / "work"
    rc, out = upload(
        tmp_path,
        bundle,
        bundle_upload_destination="git",
        bundle_upload_git_repo_url=str(bare),
        bundle_upload_git_repo_path=str(work),
        bundle_upload_git_branch="main",
        bundle_upload_prefix="bundles",
    )
    assert rc == 0, out[-3000:]
    want = expected(bundle, "bundles/")
    listed = set(git("--git-dir", str(bare), "ls-tree", "-r", "--name-only", "main").split())
    assert listed == set(want) | {"README.md"}
    for key, data in want.items():
        shown = subprocess.run(["git", "--git-dir", str(bare), "show", "main:" + key], capture_output=True, check=True).stdout
        assert shown == data, key
    assert git("--git-dir", str(bare), "log", "-1", "--format=%an %s", "main").strip() == "ai-conformance Evidence bundle bundles/acme-ai/%s" % RUN_ID
