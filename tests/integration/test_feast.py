"""Feast, run for real with the `feature_store.yaml` the FeatureStore component renders, at the version its image
pins (`.venv-feast`, built by .ci/run; or $FEAST_PYTHON), in the order the plan runs the pods.

From the plan: the feature-server Deployment, the Jobs it waits for (the registry bootstrap), the materialization
CronJob; for each, its container command and env, the `feature_store.yaml` of the ConfigMap it mounts, and the
planned role policy of its ServiceAccount. The flow: the Jobs the server waits for run, then `feast serve` on that
fresh stack must answer /health 200; then the sample repo (feast_repo/: the views `featureStore.online.featureViews`
names) is `feast apply`-ed as the materializer's identity, the test writes parquet under the bucket's `offline/`,
the CronJob's own `materialize-incremental` command runs, and the server (as its own identity) serves the values.

Cases: `dev` (S3 registry, DynamoDB online store, file offline store on S3) and `variant-redis-sql` (Redis online
store, SQL registry; the server mounts its own read-only config).

Substitutions, and nothing else:
- S3 and DynamoDB: moto servers on 127.0.0.1, reached through the SDK's endpoint env vars (FEAST_S3_ENDPOINT_URL
  for Feast's S3 registry, AWS_ENDPOINT_URL_S3/_DYNAMODB for boto3), so the file itself is unchanged for `dev`.
  The bucket and the DynamoDB tables are created as planned (same names; tables with the planned key schema), but
  without KMS (moto does not check kms: grants). The sample repo's sources set `s3_endpoint_override` (test code).
- SQL registry: the RDS host:port becomes a local PostgreSQL 15 (realsw's fixture), `sslmode=require` becomes
  `disable` (no certificate locally); the owner login (CREATEROLE, owns the database) stands in for RDS's master.
- Redis: the ElastiCache endpoint becomes a local Debian `redis-server` on a random port with `requirepass`
  (the AUTH token is checked) and `ssl=true` becomes `ssl=false`: TLS is NOT exercised. With RBAC, every
  ElastiCache user of the plan's user group is set with its planned access string (`ACL SETUSER`), `default` last
  (off); passwords are stand-ins (the owner's is the token's, a consumer's `consumer_password(user)`).
- variant-redis-sql's offline store is Athena, which moto cannot query: it becomes `file` (parquet on S3, as dev).
- The pods' Secret values are masked in the plan: each process gets the `${VAR}`s its own file references, and
  the bootstrap Job (env FEAST_REGISTRY_READER) the password of the reader it creates.
- `feast serve` binds 127.0.0.1 on a free port; the config mount path and HOME become temporary paths.

IAM: the S3 moto server enforces IAM (`/moto-api/reset-auth`, moto 5's INITIAL_NO_AUTH_ACTION_COUNT) and each pod
runs as an IAM user holding its ServiceAccount role's planned policy (`feast apply` runs as the materializer's).
moto checks actions and S3 resource ARNs; it evaluates only StringEquals conditions on keys it knows, so the prefix
condition of issue 14 #1 (HeadBucket) is not enforced here (tests/iam_eval.py covers it). moto names HeadBucket's
permission `s3:HeadBucket`, so statements granting s3:ListBucket also name it (feast_repo/planned.py
`moto_policy`). DynamoDB runs on a second moto server WITHOUT IAM: moto authorizes DynamoDB calls against
resource `*` (moto/core/responses.py `call_action`), so table-scoped grants could never match.
Not exercised: KMS, TLS, the IRSA token exchange, and the stock image's missing s3fs for materialization (issue 14
#17): .venv-feast has s3fs, as images/feast/Dockerfile adds it; the stack policy mlops-feast-s3-parquet-needs-s3fs
checks the image. The other way round IS exercised: the server and the Jobs it waits for run the stock image
(`feast[minimal]`, no s3fs), so they run here with s3fs made unimportable (`no_s3fs`), as in that image.

The SQL registry's PostgreSQL logs every statement (`log_statement = all`, stricter than the
`log_min_error_statement` that logs a failing one): the reader's password must not appear in it (review-apps #9).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_policies.feast import NO_S3FS_IMAGES

from mlops_infra.features.feature_store_consumers import (
    CONSUMERS_ENV,
    REDIS_USER_ENV,
    REGISTRY_USER_ENV,
    WRITERS_ENV,
    reader_role,
)

from .feast_repo.planned import Pod, Rendered, bucket_of, moto_policy, rendered
from .plans import plan
from .services import consumer_python, free_port, moto_server, postgres, psql, redis_server

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
REPO = Path(__file__).with_name("feast_repo")
MARGIN = 1.15
"""The server's peak RSS under a burst, times this, must stay under the container's memory limit."""
DRIVERS = {1001: (0.25, 7), 1002: (0.75, 42)}  # as feast_repo/client.py writes them
USERS = {"u-1": [0.5, -1.0, 2.0, 0.0], "u-2": [1.5, 1.0, -2.0, 3.25]}
REDIS_TOKEN, OWNER_PASSWORD, READER_PASSWORD = "itredistoken1", "itownerpw1", "itreaderpw1"


def consumer_password(role: str) -> str:
    """The stand-in for a consumer login's random password (alphanumeric, as the bootstrap requires)."""
    return "itconsumer" + role.replace("_", "").replace("-", "")



# ---- local services and the substituted files ----

@dataclass
class Env:
    label: str
    work: Path
    s3: str
    dynamodb: str
    bucket: str
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Pod name -> access key of the moto IAM user holding that pod's planned policy."""
    pg_port: int = 0
    pg_log: Path | None = None
    """The local PostgreSQL's log (every statement), when the plan has a SQL registry."""
    redis_port: int = 0
    log: list[str] = field(default_factory=list)


def local_yaml(text: str, env: Env) -> str:
    """The rendered file with only the substitutions the module docstring lists."""
    doc = yaml.safe_load(text)
    registry = doc["registry"]
    if registry["registry_type"] == "sql":
        registry["path"] = re.sub(r"@[^/@]+:\d+/", f"@127.0.0.1:{env.pg_port}/", registry["path"]).replace(
            "sslmode=require", "sslmode=disable")
    online = doc["online_store"]
    if online["type"] == "redis":
        online["connection_string"] = re.sub(r"^[^,]+:\d+", f"127.0.0.1:{env.redis_port}",
                                             online["connection_string"]).replace("ssl=true", "ssl=false")
    if doc["offline_store"]["type"] == "athena":
        doc["offline_store"] = {"type": "file"}
    return yaml.safe_dump(doc, sort_keys=False)


def _boto(env: Env, service: str, user: str | None = None) -> Any:
    import boto3

    key = env.users[user] if user else ("testing", "testing")
    return boto3.client(service, region_name="us-east-1", endpoint_url=env.dynamodb if service == "dynamodb" else env.s3,
                        aws_access_key_id=key[0], aws_secret_access_key=key[1])


def provision(env: Env, pods: Rendered) -> None:
    """What `pulumi up` creates before any pod runs (bucket, tables, databases), then one IAM user per pod."""
    _boto(env, "s3").create_bucket(Bucket=bucket_of(pods))
    ddb = _boto(env, "dynamodb")
    for table in pods.tables:
        ddb.create_table(TableName=table["name"], BillingMode=table["billingMode"],
                         KeySchema=[{"AttributeName": table["hashKey"], "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]}
                                               for a in table["attributes"]])
    iam = _boto(env, "iam")
    for pod in {p.name: p for p in (*pods.before_server, pods.materialize, pods.server)}.values():
        iam.create_user(UserName=pod.name)
        if pod.policy["Statement"]:
            iam.put_user_policy(UserName=pod.name, PolicyName="planned",
                                PolicyDocument=json.dumps(moto_policy(pod.policy)))
        key = iam.create_access_key(UserName=pod.name)["AccessKey"]
        env.users[pod.name] = (key["AccessKeyId"], key["SecretAccessKey"])


def process_env(env: Env, pod: Pod, yaml_text: str) -> dict[str, str]:
    secrets = {"FEAST_REDIS_PASSWORD": REDIS_TOKEN, "FEAST_REGISTRY_PASSWORD": OWNER_PASSWORD,
               "FEAST_REGISTRY_READER_PASSWORD": READER_PASSWORD}
    consumers = json.loads(pod.env.get(CONSUMERS_ENV) or "{}")  # the bootstrap: consumers' read-only logins
    referenced = {k: v for k, v in secrets.items() if f"${{{k}}}" in yaml_text or (
        k == "FEAST_REGISTRY_READER_PASSWORD" and "FEAST_REGISTRY_READER" in pod.env)}
    referenced |= {env_name: consumer_password(role) for role, env_name in consumers.items()}
    bin_dir = str(consumer_python("feast").parent)
    key = env.users[pod.name]
    # The stock image has no s3fs; except where this test turned Athena into `file` and the pod reads offline data
    # (the real pod queries Athena and needs no s3fs; here it reads parquet on S3).
    athena_made_file = yaml.safe_load(pod.config)["offline_store"]["type"] == "athena" and any(
        "materialize" in part for part in pod.command)
    stock = {"PYTHONPATH": str(no_s3fs(env))} if pod.image.startswith(NO_S3FS_IMAGES) and not athena_made_file else {}
    return {**{k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}, **pod.env, **stock,
            "HOME": str(env.work / "home"), "PATH": f"{bin_dir}:/usr/bin:/bin", **referenced,
            "AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1], "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": env.s3, "FEAST_S3_ENDPOINT_URL": env.s3,
            "AWS_ENDPOINT_URL_DYNAMODB": env.dynamodb, "FEAST_IT_BUCKET": env.bucket}


def no_s3fs(env: Env) -> Path:
    """A PYTHONPATH entry that makes `import s3fs` fail, as in the stock feature-server image (feast[minimal])."""
    shadow = env.work / "no-s3fs"
    (shadow / "s3fs").mkdir(parents=True, exist_ok=True)
    (shadow / "s3fs" / "__init__.py").write_text(
        'raise ImportError("s3fs is not in quay.io/feastdev/feature-server (feast[minimal])")\n')
    return shadow


def command_of(env: Env, pod: Pod) -> tuple[list[str], dict[str, str]]:
    """The pod's own command, with the config mount pointing at its (substituted) file."""
    text = local_yaml(pod.config, env)
    directory = env.work / pod.name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "feature_store.yaml").write_text(text)
    command = [part.replace(pod.mount, str(directory)) for part in pod.command]
    if command and command[0] == "python":
        command[0] = str(consumer_python("feast"))
    return command, process_env(env, pod, text)


def run(env: Env, pod: Pod) -> subprocess.CompletedProcess[str]:
    command, penv = command_of(env, pod)
    done = subprocess.run(command, env=penv, cwd=env.work, capture_output=True, text=True, timeout=600)
    env.log.append(f"$ {pod.name}: rc={done.returncode}\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done


# ---- the feature server ----

@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str


@contextlib.contextmanager
def serve(env: Env, pod: Pod) -> Iterator[Server]:
    command, penv = command_of(env, pod)
    port = free_port()
    command = [{"0.0.0.0": "127.0.0.1"}.get(c, c) for c in command]
    command[command.index("-p") + 1] = str(port)
    log = (env.work / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(command, env=penv, cwd=env.work, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Server(proc, f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        env.log.append(f"$ serve {pod.name}:\n{(env.work / f'serve-{port}.log').read_text()[-3000:]}")


def health(server: Server, timeout: float) -> int:
    """The last /health status within `timeout` (0: never answered); returns as soon as it is 200."""
    deadline, status = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and server.proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError:
            pass
        if status == 200:
            return status
        time.sleep(1)
    return status


def post(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


# ---- the flow, once per plan ----

@dataclass
class Outcome:
    env: Env
    pods: Rendered
    fresh_health: int
    apply: subprocess.CompletedProcess[str]
    materialize: subprocess.CompletedProcess[str]
    server: Server

    def log(self) -> str:
        return "\n".join(self.env.log)[-8000:]


def _client(env: Env, pod: Pod, *args: str) -> subprocess.CompletedProcess[str]:
    _, penv = command_of(env, pod)
    done = subprocess.run([str(consumer_python("feast")), str(REPO / "client.py"), *args], env=penv, cwd=env.work,
                          capture_output=True, text=True, timeout=300)
    env.log.append(f"$ client {args[0]} as {pod.name}: rc={done.returncode}\n{done.stderr[-3000:]}")
    return done


def _databases(stack: contextlib.ExitStack, env: Env, pods: Rendered) -> None:
    files = [yaml.safe_load(p.config) for p in (*pods.before_server, pods.materialize, pods.server)]
    if any(f["registry"]["registry_type"] == "sql" for f in files):
        pg = stack.enter_context(postgres())
        env.pg_port = pg.port
        writer = yaml.safe_load(pods.materialize.config)["registry"]["path"]
        user, database = re.match(r"^[^:]+://([^:]+):.*/([^/?]+)\?", writer).groups()  # type: ignore[union-attr]
        # RDS's master user: owns the database and may create roles (the bootstrap creates the reader).
        psql(pg, f"CREATE ROLE {user} LOGIN CREATEROLE PASSWORD '{OWNER_PASSWORD}'")
        psql(pg, f"CREATE DATABASE {database} OWNER {user}")
        psql(pg, "ALTER SYSTEM SET log_statement = 'all'")
        psql(pg, "SELECT pg_reload_conf()")
        env.pg_log = Path(pg.socket_dir) / "log"
    if any(f["online_store"]["type"] == "redis" for f in files):
        env.redis_port = stack.enter_context(redis_server(REDIS_TOKEN, redis_users(env.label)))


def redis_users(label: str) -> list[tuple[str, str, str]]:
    """The plan's ElastiCache users (RBAC) with stand-in passwords: the owner `feast` the token's."""
    users = [u.inputs for u in plan(label).of_type("aws:elasticache/user:User")]
    return [(u["userName"], u["accessString"], REDIS_TOKEN if u["userName"] == "feast" else consumer_password(u["userName"]))
            for u in users]


@pytest.fixture(scope="module", params=["dev", "variant-redis-sql"])
def deployed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    pods = rendered(request.param)
    work = tmp_path_factory.mktemp(f"feast-{request.param}")
    with contextlib.ExitStack() as stack:
        env = Env(request.param, work, stack.enter_context(moto_server()), stack.enter_context(moto_server()),
                  bucket_of(pods))
        _databases(stack, env, pods)
        provision(env, pods)
        env.users["admin"] = ("testing", "testing")
        data = _client(env, Pod("admin", [], {}, "", pods.materialize.config, {}, {}), "data", env.bucket)
        assert data.returncode == 0, env.log[-1]
        # From here on, every S3 call is authorized against the caller's planned policy.
        urllib.request.urlopen(urllib.request.Request(f"{env.s3}/moto-api/reset-auth", data=b"0", method="POST",
                                                      headers={"Content-Type": "text/plain"}), timeout=30)
        for job in pods.before_server:
            run(env, job)
        with serve(env, pods.server) as fresh:
            fresh_health = health(fresh, 120)
        repo = work / "repo"
        shutil.copytree(REPO / "repo", repo)
        # `feast apply` of the sample repo as the materializer's identity, with the file the writers mount.
        _, penv = command_of(env, pods.materialize)
        apply = subprocess.run(["feast", "-f", str(work / pods.materialize.name / "feature_store.yaml"), "apply"],
                               env=penv, cwd=repo, capture_output=True, text=True, timeout=600)
        env.log.append(f"$ feast apply as {pods.materialize.name}: rc={apply.returncode}\n{apply.stderr[-4000:]}")
        materialize = run(env, pods.materialize)
        server = stack.enter_context(serve(env, pods.server))
        health(server, 120)
        yield Outcome(env, pods, fresh_health, apply, materialize, server)
    (work / "log.txt").write_text("\n".join(env.log))


def test_the_server_is_healthy_on_a_fresh_stack_after_the_jobs_it_waits_for(deployed: Outcome) -> None:
    """Issue 14 #2: the read-only server on a fresh stack needs a registry someone with write access created."""
    jobs = [p.name for p in deployed.pods.before_server]
    assert deployed.fresh_health == 200, (
        f"{deployed.env.label}: /health {deployed.fresh_health} after the Jobs the server waits for: {jobs}\n"
        f"{deployed.log()}")


def test_the_server_and_the_jobs_it_waits_for_run_the_stock_image(deployed: Outcome) -> None:
    """Review-apps #1: nothing the server waits for needs an image the stack does not build, and they ran above
    without s3fs (the Jobs then the server answered /health 200 on the fresh stack)."""
    pods = deployed.pods
    images = {p.name: p.image for p in (*pods.before_server, pods.server)}
    assert pods.before_server and all(i == pods.server.image for i in images.values()), images
    assert pods.server.image.startswith(NO_S3FS_IMAGES), images


def test_the_reader_password_never_enters_a_logged_statement(deployed: Outcome) -> None:
    """Review-apps #9: the bootstrap sends a SCRAM verifier, not the password; the reader still logs in with it
    (the server reads the SQL registry as the reader: the fresh /health and the online reads above)."""
    if deployed.env.pg_log is None:  # an S3 registry: no database, so no reader password exists to leak
        assert yaml.safe_load(deployed.pods.server.config)["registry"]["registry_type"] != "sql"
        return
    log = deployed.env.pg_log.read_text(errors="replace")
    assert "ALTER ROLE feast_reader WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:" in log, log[-3000:]
    assert READER_PASSWORD not in log
    assert deployed.fresh_health == 200, deployed.log()


def test_the_server_cannot_write_the_registry(deployed: Outcome) -> None:
    """Issue 14 #22: the feature server only reads the registry. With its own file, Secret and identity, Feast's
    registry write is refused: by moto IAM (S3 registry) or by PostgreSQL (the SQL registry's read-only user).
    Also proves moto enforces the planned policy (otherwise every check here would pass vacuously)."""
    server = deployed.pods.server
    done = _client(deployed.env, server, "intrude", str(deployed.env.work / server.name / "feature_store.yaml"))
    assert done.stdout.startswith("refused"), f"{deployed.env.label}: {done.stdout}\n{deployed.log()}"


def test_a_consumer_reads_the_registry_with_its_delivered_login_and_cannot_write(deployed: Outcome) -> None:
    """Issue 27 #7: a consumer namespace loads the exported feature_store.yaml with the read-only login its
    `feast-credentials` Secret holds (the role the bootstrap Job created): it lists the applied feature views and
    Feast's registry write is refused by PostgreSQL. The owner's password is nowhere in its environment."""
    exported = str(plan(deployed.env.label).outputs["featureStoreFeatureStoreYaml"])
    if deployed.env.pg_log is None:  # an S3 registry: consumers read it with their IAM role's managed read policy
        assert yaml.safe_load(exported)["registry"]["registry_type"] == "file"
        return
    [job] = [p for p in deployed.pods.before_server if CONSUMERS_ENV in p.env]
    logins = json.loads(job.env[CONSUMERS_ENV])
    assert logins, "the SQL-registry variant has feature-store consumers (its team namespace)"
    assert deployed.apply.returncode == 0, deployed.log()
    doc = yaml.safe_load(exported)
    assert doc["registry"]["path"].startswith(f"postgresql+psycopg://${{{REGISTRY_USER_ENV}}}:${{FEAST_REGISTRY_PASSWORD}}@")
    assert doc["registry"]["schema_mode"] == "verify"
    path = deployed.env.work / "consumer.yaml"
    path.write_text(local_yaml(exported, deployed.env))
    for role in logins:
        env = {"PATH": os.environ["PATH"], "HOME": str(deployed.env.work / "home"),
               REGISTRY_USER_ENV: role, "FEAST_REGISTRY_PASSWORD": consumer_password(role)}
        read = _consumer(deployed.env, env, "registry", str(path))
        assert read.returncode == 0 and "driver_hourly_stats" in json.loads(read.stdout.strip().splitlines()[-1]), \
            f"{role}: {read.stderr[-3000:]}"
        if role not in json.loads(job.env.get(WRITERS_ENV) or "[]"):  # a writer's writes: the apply test below
            write = _consumer(deployed.env, env, "intrude", str(path))
            assert write.stdout.startswith("refused"), f"{role}: {write.stdout}{write.stderr[-2000:]}"
        assert OWNER_PASSWORD not in env.values()
    wrong = {**env, "FEAST_REGISTRY_PASSWORD": OWNER_PASSWORD}  # the role does not take the owner's password
    assert _consumer(deployed.env, wrong, "registry", str(path)).returncode != 0


def _consumers(deployed: Outcome) -> list[tuple[str, bool, dict[str, str]]]:
    """Each consumer namespace of the plan's Redis user group: (namespace, writer?, the env its feast-credentials
    Secret delivers, with stand-in passwords)."""
    users = [name for name, _, _ in redis_users(deployed.env.label) if name.startswith("feast-")]
    out = []
    for name in users:
        kind, ns = name.removeprefix("feast-").split("-", 1)
        role = reader_role(ns, write=kind == "writer")
        out.append((ns, kind == "writer", {
            "PATH": os.environ["PATH"], "HOME": str(deployed.env.work / "home"), REDIS_USER_ENV: name,
            "FEAST_REDIS_PASSWORD": consumer_password(name), REGISTRY_USER_ENV: role,
            "FEAST_REGISTRY_PASSWORD": consumer_password(role)}))
    return out


def _exported(deployed: Outcome) -> Path:
    path = deployed.env.work / "consumer.yaml"
    path.write_text(local_yaml(str(plan(deployed.env.label).outputs["featureStoreFeatureStoreYaml"]), deployed.env))
    return path


def test_redis_consumers_read_online_features_with_their_own_user_and_only_writers_write(deployed: Outcome) -> None:
    """Issue 27 #7 (Redis): with the exported file and only its Secret's variables, every consumer reads the
    materialized online features as its own ElastiCache user; a reader's online write is refused by the ACL, a
    writer's succeeds. The owner's password is in no consumer's environment, and a consumer's user does not take it."""
    if deployed.env.redis_port == 0:  # DynamoDB: consumers read it with their IAM role's managed read policy
        assert yaml.safe_load(deployed.pods.server.config)["online_store"]["type"] == "dynamodb"
        return
    consumers = _consumers(deployed)
    assert {w for _, w, _ in consumers} == {True, False}, "the variant has a reader and a writer namespace"
    assert deployed.materialize.returncode == 0, deployed.log()
    path = _exported(deployed)
    for ns, writer, env in consumers:
        assert REDIS_TOKEN not in env.values()
        read = _consumer(deployed.env, env, "online", str(path))
        assert read.returncode == 0, f"{ns}: {read.stderr[-3000:]}"
        got = json.loads(read.stdout.strip().splitlines()[-1])
        assert got["drivers"]["avg_daily_trips"] == [v[1] for v in DRIVERS.values()], f"{ns}: {got}"
        write = _consumer(deployed.env, env, "write", str(path))
        assert write.stdout.startswith("written" if writer else "refused"), f"{ns}: {write.stdout}{write.stderr[-2000:]}"
        if not writer:
            assert "NoPermission" in write.stdout, write.stdout
        owner = _consumer(deployed.env, {**env, "FEAST_REDIS_PASSWORD": REDIS_TOKEN}, "online", str(path))
        assert owner.returncode != 0, f"{ns}: its user took the owner's password"


def test_a_writer_consumer_applies_feature_definitions_and_a_reader_cannot(deployed: Outcome) -> None:
    """Issue 27 #7 (SQL registry): `feast apply` of a repo with a new feature view, with the exported file and the
    consumer's own login: the writer's role may write Feast's registry tables, the reader's is refused."""
    if deployed.env.pg_log is None:
        assert yaml.safe_load(deployed.pods.server.config)["registry"]["registry_type"] == "file"
        return
    consumers = _consumers(deployed)
    assert {w for _, w, _ in consumers} == {True, False}, "the variant has a reader and a writer namespace"
    path = _exported(deployed)
    _, pod_env = command_of(deployed.env, deployed.pods.materialize)  # S3 access for the sources (IAM is not tested)
    aws = {k: v for k, v in pod_env.items() if k.startswith(("AWS_", "FEAST_S3", "FEAST_IT"))}
    for ns, writer, env in sorted(consumers, key=lambda c: c[1]):  # the reader first: the view is still new
        repo = deployed.env.work / f"repo-{ns}"
        shutil.copytree(REPO / "repo", repo, dirs_exist_ok=True)
        (repo / "extra.py").write_text(EXTRA_VIEW)
        feast = str(consumer_python("feast").parent / "feast")
        done = subprocess.run([feast, "-f", str(path), "apply"], env={**env, **aws}, cwd=repo, capture_output=True,
                              text=True, timeout=600)
        deployed.env.log.append(f"$ feast apply as {ns}: rc={done.returncode}\n{done.stderr[-3000:]}")
        if writer:
            assert done.returncode == 0, deployed.log()
            listed = _consumer(deployed.env, env, "registry", str(path))
            assert "ranking_stats" in json.loads(listed.stdout.strip().splitlines()[-1]), listed.stderr[-2000:]
        else:
            assert done.returncode != 0 and "permission denied" in done.stderr.lower(), done.stderr[-3000:]


EXTRA_VIEW = '''
from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Int64

from features import driver, driver_hourly_stats

ranking_stats = FeatureView(name="ranking_stats", entities=[driver], ttl=timedelta(days=1),
                            schema=[Field(name="avg_daily_trips", dtype=Int64)],
                            source=driver_hourly_stats.batch_source)
'''


def _consumer(env: Env, process_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """feast_repo/client.py as a consumer's pod runs it: only the variables its Secret delivers."""
    return subprocess.run([str(consumer_python("feast")), str(REPO / "client.py"), *args], env=process_env,
                          cwd=env.work, capture_output=True, text=True, timeout=300)


def test_apply_and_materialize_incremental_succeed(deployed: Outcome) -> None:
    assert deployed.apply.returncode == 0, deployed.log()
    assert deployed.materialize.returncode == 0, deployed.log()


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))


def test_get_online_features_returns_the_written_values(deployed: Outcome) -> None:
    """As the server's identity: through the SDK, and through the running feature server's HTTP API."""
    done = _client(deployed.env, deployed.pods.server, "online",
                   str(deployed.env.work / deployed.pods.server.name / "feature_store.yaml"))
    assert done.returncode == 0, deployed.log()
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["drivers"]["driver_id"] == list(DRIVERS)
    assert _close(got["drivers"]["conv_rate"], [v[0] for v in DRIVERS.values()])
    assert got["drivers"]["avg_daily_trips"] == [v[1] for v in DRIVERS.values()]
    assert all(_close(a, b) for a, b in zip(got["users"]["embedding"], USERS.values(), strict=True)), got

    http = post(deployed.server, "/get-online-features", {
        "features": ["driver_hourly_stats:conv_rate", "user_embeddings:embedding"],
        "entities": {"driver_id": list(DRIVERS), "user_id": list(USERS)}})
    names = http["metadata"]["feature_names"]
    values = {name: result["values"] for name, result in zip(names, http["results"], strict=True)}
    assert _close(values["conv_rate"], [v[0] for v in DRIVERS.values()]), http
    assert all(_close(a, b) for a, b in zip(values["embedding"], USERS.values(), strict=True)), http


def _read_by_alerts_and_panels() -> set[str]:
    """Every `feast` metric a FeatureStore's rule or dashboard panel reads (with a scraped server)."""
    from mlops_infra.features.observability import feature_rules, feature_store_dashboard
    from mlops_infra.observability.config import ThresholdsConfig
    from mlops_infra.observability.monitoring_rules import CronJobTarget, ScrapeTarget

    server, cron = ScrapeTarget("feast", "server"), CronJobTarget("feast", "materialize")
    uses = [*(m for r in feature_rules(ThresholdsConfig(), cron, server).rules for m in r.metrics),
            *(m for p in feature_store_dashboard(cron, server).panels for m in p.metrics)]
    return {metric for metric, exporter in uses if exporter == "feast"}


def test_every_feast_metric_an_alert_or_panel_reads_is_served(deployed: Outcome) -> None:
    """Issue 27: the server runs with `--metrics` (its pod's command) and serves on 8000 (feature_server.METRICS_PORT)
    every metric the FeatureServer alerts and the dashboard read, once it has answered a request."""
    from mlops_infra.features.feature_server import METRICS_PORT

    wanted = _read_by_alerts_and_panels()
    assert wanted, "the rules and panels read feast metrics"
    post(deployed.server, "/get-online-features", {"features": ["driver_hourly_stats:conv_rate"],
                                                   "entities": {"driver_id": list(DRIVERS)}})
    deadline, served = time.monotonic() + 90, set()
    while time.monotonic() < deadline and not wanted <= served:  # the freshness gauge updates every 30 s
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as response:
            served = {line.split("{")[0].split(" ")[0] for line in response.read().decode().splitlines()
                      if line and not line.startswith("#")}
        time.sleep(2)
    assert sorted(wanted - served) == [], f"{deployed.env.label}: not served\n{deployed.log()}"


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


def _tree_rss_mib(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 2**20


def test_the_feature_server_answers_health_within_its_memory_limit(deployed: Outcome) -> None:
    server = deployed.server
    assert health(server, 5) == 200, deployed.log()
    idle = _tree_rss_mib(server.proc.pid)
    peak = idle
    body = {"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips",
                         "user_embeddings:embedding"], "entities": {"driver_id": list(DRIVERS), "user_id": list(USERS)}}
    for _ in range(50):
        post(server, "/get-online-features", body)
        peak = max(peak, _tree_rss_mib(server.proc.pid))
    limit = _mib(deployed.pods.server.resources["limits"]["memory"])
    print(f"feast serve ({deployed.env.label}) RSS idle {idle:.0f} MiB, peak {peak:.0f} MiB, limit {limit:.0f} MiB")
    assert peak * MARGIN < limit, f"peak RSS {peak:.0f} MiB x {MARGIN} exceeds the limit {limit:.0f} MiB"


@pytest.mark.parametrize("label", ["dev", "variant-redis-sql"])
def test_the_feast_under_test_is_the_version_the_image_pins(label: str) -> None:
    """.ci/run installs the config default's version; the planned feature-server and Job images must carry it."""
    images = {c["image"] for r in plan(label) for c in _containers(r) if c["name"] in
              ("feature-server", "registry-init", "materialize")}
    pinned = {image.rsplit(":", 1)[1] for image in images}
    assert len(pinned) == 1, images
    done = subprocess.run([str(consumer_python("feast")), "-c", "import feast; print(feast.__version__)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == pinned.pop()


def test_the_feast_under_test_sends_no_usage_telemetry() -> None:
    """Why no pod sets FEAST_USAGE: Feast removed usage tracking in 0.38.0 (feast-dev/feast#4214), so 0.66.0 has no
    `feast.usage` module and no code reads the variable (issue 27 minor "FEAST_USAGE unused")."""
    done = subprocess.run([str(consumer_python("feast")), "-c", (
        "import importlib.util, pathlib, feast; root = pathlib.Path(feast.__file__).parent; "
        "print(importlib.util.find_spec('feast.usage') is None, sum(1 for f in root.rglob('*.py') "
        "if 'FEAST_USAGE' in f.read_text(errors='replace')), len(list(root.rglob('*.py'))))")],
        capture_output=True, text=True, check=True)
    no_module, readers, files = done.stdout.split()
    assert int(files) > 100, "the installed feast package was not found"
    assert no_module == "True" and readers == "0", done.stdout


def _containers(record: Any) -> list[dict[str, Any]]:
    spec = record.inputs.get("spec") or {}
    template = (spec.get("jobTemplate") or {}).get("spec", spec).get("template") if isinstance(spec, dict) else None
    return list(((template or {}).get("spec") or {}).get("containers") or [])
