"""The real `airflow dag-processor` and `airflow scheduler` (Airflow 3.1.7, `.venv-airflow`) start on a read-only root
whose only writable paths are the emptyDirs our values mount (tests/pipelines/airflow_chart.py), with the release's
env and config, a real PostgreSQL as the metadata database, and the example DAG loaded from the S3 DAG bundle through
a moto server that enforces IAM with the dag-processor role's planned policies.

The read-only root is emulated with `unshare -r -m`: every mount is remounted read-only (except /dev, /proc, /sys,
which a pod also gets from the runtime), then a tmpfs is mounted at each writable path of the pod. The pod's
AIRFLOW_HOME (/opt/airflow) is a directory outside the namespace's tmpfs mounts here, holding the airflow.cfg the
chart mounts read-only; its `logs` emptyDir becomes a tmpfs at <home>/logs. What differs from the pod: moto stands
in for S3 (the connection gets its `endpoint_url`) and an IAM user with the role's policies for IRSA; the scheduler's
KubernetesExecutor talks to no cluster (its kubeconfig points at a closed port), which it survives and retries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests import iam_eval
from tests.integration.plans import plan
from tests.pipelines.airflow_chart import AIRFLOW_HOME, pods, writable_paths
from tests.pipelines.test_airflow import role_for_sa, values

from .services import Postgres, _pg_bin, consumer_python, free_port, moto_server, postgres, psql

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DAG = ROOT / "examples" / "pipelines" / "airflow" / "train_on_gpu.py"
PRELUDE = ('for m in $(awk \'{print $2}\' /proc/self/mounts | sort -u); do case "$m" in /dev*|/proc*|/sys*) ;; '
           '*) mount -o remount,bind,ro "$m" 2>/dev/null ;; esac; done; '
           'if [ -n "$KEEP" ]; then mount --bind /tmp "$ORIG" || exit 96; fi; '
           'for p in $WRITABLE; do mount -t tmpfs tmpfs "$p" || exit 97; done; '
           'for k in $KEEP; do mkdir -p "$k" && mount --bind "$ORIG${k#/tmp}" "$k" || exit 95; done; exec "$@"')
"""The tmpfs at /tmp (the pod's emptyDir) hides what lies under /tmp on this machine: a checkout or a virtualenv
there (KEEP) is bound back, read-only, from a view of the old /tmp (ORIG) taken before the tmpfs is mounted."""


@pytest.fixture
def orig_tmp() -> Iterator[Path]:
    """ORIG's mount point: outside /tmp (the tmpfs hides /tmp), one per test, removed after it. The bind mount lives
    only in each command's own mount namespace, so the directory itself stays empty here."""
    orig = Path(tempfile.mkdtemp(prefix="it-airflow-orig-tmp-", dir="/var/tmp"))
    yield orig
    shutil.rmtree(orig, ignore_errors=True)


def readonly(cmd: list[str], writable: list[str], orig: Path) -> list[str]:
    assert shutil.which("unshare"), "unshare (util-linux) is needed to emulate a read-only root"
    needed = {ROOT.resolve(), consumer_python("airflow").parent.parent.resolve()}  # the venv, not its base python
    keep = sorted(str(p) for p in needed if "/tmp" in writable and p.is_relative_to("/tmp"))
    return ["unshare", "-r", "-m", "env", f"WRITABLE={' '.join(writable)}", f"KEEP={' '.join(keep)}",
            f"ORIG={orig if keep else ''}", "sh", "-c", PRELUDE, "sh", *cmd]


def cfg_text(config: dict[str, dict[str, Any]]) -> str:
    return "".join(f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()) + "\n"
                   for section, settings in config.items())


def query(pg: Postgres, sql: str) -> list[str]:
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    out = subprocess.run([*run_as, _pg_bin("psql"), "-h", pg.socket_dir, "-p", str(pg.port), "-U", "postgres", "-d", "airflow",
                          "-tA", "-c", sql], capture_output=True, text=True, cwd="/", check=False)
    return [line for line in out.stdout.splitlines() if line]


@contextmanager
def running(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for(pred: Any, proc: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pred()
        if found:
            return found
        assert proc.poll() is None, f"exited {proc.returncode}:\n{log.read_text(errors='ignore')[-5000:]}"
        time.sleep(2)
    raise AssertionError(f"timed out:\n{log.read_text(errors='ignore')[-5000:]}")


def test_scheduler_and_dag_processor_start_on_a_read_only_root_and_load_the_dag_from_s3(
        monkeypatch: pytest.MonkeyPatch, orig_tmp: Path) -> None:
    inv = plan("variant-pipelines")
    v = values(inv)
    rendered = pods(v)
    mounts = {name: writable_paths(rendered[name], name) for name in ("scheduler", "dag-processor")}
    assert mounts["scheduler"] == mounts["dag-processor"] == [f"{AIRFLOW_HOME}/logs", "/tmp"]
    (bundle,) = v["dagProcessor"]["dagBundleConfigList"]
    bucket, prefix = bundle["kwargs"]["bucket_name"], bundle["kwargs"]["prefix"]
    _, docs = role_for_sa(inv, "airflow-dag-processor")
    assert docs
    # AWS authorizes HeadBucket as s3:ListBucket (no s3:prefix in the request); moto checks an `s3:HeadBucket`
    # action IAM does not have (moto/s3/responses.py ACTION_MAP). Translate only what the planned role allows.
    arn = f"arn:aws:s3:::{bucket}"
    assert iam_eval.allows(docs, "s3:ListBucket", arn)
    moto_docs = [*docs, {"Version": "2012-10-17", "Statement": [
        {"Sid": "MotoHeadBucketIsListBucket", "Effect": "Allow", "Action": "s3:HeadBucket", "Resource": arn}]}]
    python = str(consumer_python("airflow"))
    home = Path(tempfile.mkdtemp(prefix="it-airflow-ro-", dir="/var/tmp"))
    (home / "logs").mkdir()
    writable = [str(home / "logs") if p == f"{AIRFLOW_HOME}/logs" else p for p in mounts["dag-processor"]]
    # moto answers the setup calls unauthenticated (bucket, DAG upload, user, policies, attachments, key).
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", str(4 + 2 * len(moto_docs)))
    with moto_server() as endpoint, postgres() as pg:
        kw = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup",
              "aws_secret_access_key": "setup"}
        boto3.client("s3", **kw).create_bucket(Bucket=bucket)
        boto3.client("s3", **kw).put_object(Bucket=bucket, Key=f"{prefix}/{DAG.name}", Body=DAG.read_bytes())
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="airflow-dag-processor")
        for i, doc in enumerate(moto_docs):
            policy = iam.create_policy(PolicyName=f"dag-processor-{i}", PolicyDocument=json.dumps(doc))["Policy"]
            iam.attach_user_policy(UserName="airflow-dag-processor", PolicyArn=policy["Arn"])
        key = iam.create_access_key(UserName="airflow-dag-processor")["AccessKey"]
        psql(pg, "CREATE ROLE airflow LOGIN PASSWORD 'airflow-pw'")
        psql(pg, "CREATE DATABASE airflow OWNER airflow")
        conn = json.loads(next(e["value"] for e in v["env"] if e["name"] == "AIRFLOW_CONN_AWS_PLATFORM"))
        conn["extra"]["endpoint_url"] = endpoint
        kube = home / "kubeconfig"
        kube.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                                    "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
                                    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                                    "users": [{"name": "u", "user": {}}]}))
        config = {**v["config"], "dag_processor": {"dag_bundle_config_list": json.dumps([bundle])},
                  "kubernetes_executor": {**v["config"]["kubernetes_executor"], "in_cluster": "False",
                                          "config_file": str(kube), "namespace": "airflow"}}
        (home / "airflow.cfg").write_text(cfg_text(config))
        base = {k: val for k, val in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
        env = {**base, **{e["name"]: str(e["value"]) for e in v["env"]}, "AIRFLOW_HOME": str(home),
               "HOME": str(home), "AIRFLOW_CONN_AWS_PLATFORM": json.dumps(conn),
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                   f"postgresql+psycopg2://airflow:airflow-pw@127.0.0.1:{pg.port}/airflow",
               "AIRFLOW__CORE__FERNET_KEY": "0" * 43 + "=", "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        probe = subprocess.run(readonly(["sh", "-c", f"touch /tmp/x {home}/logs/x && ! touch {home}/y 2>/dev/null"
                                         f" && ! touch {ROOT}/y 2>/dev/null"], writable, orig_tmp), capture_output=True)
        assert probe.returncode == 0, probe.stderr  # only the mounted paths are writable in the emulation
        migrate = subprocess.run(readonly([python, "-m", "airflow", "db", "migrate"], writable, orig_tmp), env=env,
                                 capture_output=True, text=True, timeout=600)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        with running(readonly([python, "-m", "airflow", "dag-processor"], writable, orig_tmp), env, home / "dp.log") as dp:
            dags = wait_for(lambda: query(pg, "SELECT dag_id FROM serialized_dag"), dp, home / "dp.log")
        sched_env = {k: val for k, val in env.items() if not k.startswith("AWS_")}  # the scheduler has no IRSA role
        with running(readonly([python, "-m", "airflow", "scheduler"], writable, orig_tmp), sched_env, home / "s.log") as sched:
            beats = wait_for(lambda: query(pg, "SELECT state FROM job WHERE job_type = 'SchedulerJob' AND "
                                               "state = 'running'"), sched, home / "s.log")
    assert dags == ["train_on_gpu"] and beats == ["running"]
    shutil.rmtree(home, ignore_errors=True)
