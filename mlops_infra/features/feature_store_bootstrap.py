"""Registry bootstrap: a Job that makes sure Feast's registry exists before any Feast pod reads it.

Why (Feast 0.66.0, read at that tag):
- `Registry.__init__` (feast/infra/registry/registry.py) reads `registry.db`; on `FileNotFoundError` it logs
  "Registry file not found. Creating new registry." and `commit()`s an empty registry: a PutObject. The feature
  server's role is read-only, so on a fresh stack its first registry refresh (`feature_server.py` lifespan
  `async_refresh`) fails and `/health` (`registry.list_projects`) answers 503 forever.
- `SqlRegistry.__init__` (feast/infra/registry/sql.py) creates the tables (`schema_mode: auto`) and inserts the
  project's metadata row; a second start copies that row into `projects` (`_sync_feast_metadata_to_projects_table`).

So this Job, with the materializer's write-capable identity, opens the registry (creating it only when missing)
and registers the project only when it is absent. It never modifies an existing registry's objects. For a SQL
registry it also creates (or re-passwords) the read-only database user the feature server connects as: SELECT on
the registry tables, now and for tables Feast creates later; the server runs `schema_mode: verify`, so it issues
no DDL, and with the project registered here its `SqlRegistry.__init__` only reads. The consumers' roles are made
the same way; a writer's (WRITERS_ENV) also gets SELECT, INSERT, UPDATE and DELETE on exactly the tables of the
installed Feast's `feast.infra.registry.sql.metadata`, which the owner's `schema_mode: auto` has just created. Not `feast apply` from a
repo holding only `feature_store.yaml`: `apply_total_with_repo_instance` (repo_operations.py) deletes every object
that is not in the repo (`partial=False`), so re-running it on a later `pulumi up` would wipe what teams applied.

pulumi-kubernetes awaits a `batch/v1` Job until its `Complete` condition (and fails on `Failed`), so whatever
`depends_on` this Job starts only after the registry exists. A Job that failed once (a transient RDS or IAM error
after its retries, the deadline) stays Failed, and Pulumi would re-await that same Job on every later `pulumi up`;
`pulumi.com/replaceUnready: "true"` (pulumi-kubernetes 4.x batch/v1 Job doc, PR #1575/#1578: the live Job is
read) makes the next update replace an unready Job instead, i.e. re-run it.

The image is the stock feature-server image (`feast[minimal]`, Feast 0.66.0 METADATA: the aws extra brings boto3
for the S3 registry, postgres-c brings psycopg for the SQL registry, SQLAlchemy is a core dependency): nothing to
build. The script opens the registry only, never the offline store, so it needs no s3fs.

The reader's password never enters the SQL text: the script sends a SCRAM-SHA-256 verifier (RFC 5803 format, as
PostgreSQL stores it in pg_authid) computed here, so a statement that errors, and is logged
(log_min_error_statement), exposes no password. PostgreSQL stores a verifier as given, whatever
`password_encryption` says, and both `scram-sha-256` and `md5` pg_hba methods accept it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import pod_security
from ..blocks.naming import child, child_options, renamed_type
from . import feast_config
from .feature_server import FEATURE_STORE_YAML, FeastPod
from .feature_store_consumers import CONSUMERS_ENV, WRITERS_ENV

READER_ENV = "FEAST_REGISTRY_READER"
# RFC 5802/5803, as PostgreSQL's scram_build_secret (src/common/scram-common.c) builds it: 4096 iterations, 16-byte
# salt. The password is alphanumeric, so SASLprep leaves it unchanged. Python source, part of INIT_SCRIPT.
SCRAM_VERIFIER = """\
def scram_verifier(password, iterations=4096):
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server = hmac.digest(salted, b"Server Key", "sha256")
    b64 = lambda raw: base64.b64encode(raw).decode()
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"
"""
# Converge: a consumer role no longer listed (a removed consumer, or the other-role name of one whose role changed:
# `feast_writer_<ns>` after a demotion) loses its login and every table privilege, so its old password opens nothing.
# Roles are kept (NOLOGIN, not DROP): the Job must never fail on objects a role might own.
CONVERGE = """\
if readers:  # a SQL registry (an S3 registry has no roles)
    from sqlalchemy import create_engine, text
    engine = create_engine(store.config.registry.path)
    with engine.begin() as conn:
        stale = [r for (r,) in conn.execute(text(
            "SELECT rolname FROM pg_roles WHERE rolcanlogin AND (starts_with(rolname, 'feast_reader_') "
            "OR starts_with(rolname, 'feast_writer_'))")) if r not in readers]
        for role in sorted(stale):
            if not (role.isidentifier() and role.islower()):
                sys.exit("refusing an unsafe stale role name")
            conn.execute(text(f"ALTER ROLE {role} NOLOGIN"))
            conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
            print("registry user", role, "disabled")
    engine.dispose()
"""
# Idempotent and non-destructive; prints no path (a SQL registry path carries the expanded password). The role name
# and password are checked to be a plain identifier and alphanumeric; DDL takes no bind parameters, so the role name
# enters the SQL text and the password only as its SCRAM verifier.
INIT_SCRIPT = f"""\
import base64, hashlib, hmac, json, os, sys
from pathlib import Path
from feast import FeatureStore, Project
{SCRAM_VERIFIER}store = FeatureStore(repo_path="/tmp", fs_yaml_file=Path(sys.argv[1]))
registry = store.registry
if store.project not in {{p.name for p in registry.list_projects(allow_cache=False)}}:
    registry.apply_project(Project(name=store.project), commit=True)
    print("registered project", store.project)
readers = {{os.environ["{READER_ENV}"]: "{feast_config.REGISTRY_READER_PASSWORD_ENV}"}} if os.environ.get("{READER_ENV}") else {{}}
readers.update(json.loads(os.environ.get("{CONSUMERS_ENV}") or "{{}}"))
writers = set(json.loads(os.environ.get("{WRITERS_ENV}") or "[]"))
if writers:
    from feast.infra.registry.sql import metadata
    registry_tables = sorted(metadata.tables)
for reader, password_env in sorted(readers.items()):
    from sqlalchemy import create_engine, text
    password = os.environ[password_env]
    if not (reader.isidentifier() and reader.islower() and password.isalnum()):
        sys.exit("refusing an unsafe reader name or password")
    engine = create_engine(store.config.registry.path)
    with engine.begin() as conn:
        database = conn.execute(text("SELECT current_database()")).scalar()
        conn.execute(text(f"DO $do$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{{reader}}') "
                          f"THEN CREATE ROLE {{reader}}; END IF; END $do$"))
        # Not text(): it would read the verifier's "=:..." as a bind parameter. No params: psycopg sends it as is.
        conn.exec_driver_sql(f"ALTER ROLE {{reader}} WITH LOGIN PASSWORD '{{scram_verifier(password)}}'")
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{{database}}" TO {{reader}}'))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {{reader}}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{reader}}"))
        conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {{reader}}"))
        if reader not in writers:  # a demoted writer (or a reader someone granted more) writes no longer
            conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM {{reader}}"))
        if reader in writers:  # exactly the tables this Feast's SQL registry defines (and writes): no DDL
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {{', '.join(registry_tables)}} TO {{reader}}"))
    engine.dispose()
    print("read-write" if reader in writers else "read-only", "registry user", reader, "ready")
{CONVERGE}print("feast registry ready for project", store.project)
"""
COMMAND = ["python", "-c", INIT_SCRIPT, FEATURE_STORE_YAML]
DEADLINE_SECONDS = 900
REPLACE_UNREADY = "pulumi.com/replaceUnready"


@dataclass(frozen=True)
class RegistryBootstrapArgs:
    image: str
    """The feature server's image: it has everything the script imports, and the stack need not build it."""
    pod: FeastPod
    """Must use a ServiceAccount whose role may write the registry (the materializer's)."""
    labels: dict[str, str]
    checksum: pulumi.Input[str] = ""
    """Hash of `feature_store.yaml`: a changed config replaces (re-runs) the Job. Default: none."""
    reader: str | None = None
    """SQL registry: the read-only database user to create; its password is the pod's
    `FEAST_REGISTRY_READER_PASSWORD` env var. Default: none (S3 registry)."""
    consumers: Mapping[str, str] = field(default_factory=dict)
    """SQL registry: further read-only users to create, each with the pod env var holding its password (the
    consumers' logins, features/feature_store_consumers.py). Default: none."""
    writers: Sequence[str] = ()
    """SQL registry: the `consumers` roles that may also write the registry tables. Default: none."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """What must exist before the pod starts: the identity (role policy, Pod Identity association). Default: none."""


class RegistryBootstrap(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: RegistryBootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:features:RegistryBootstrap", name, None,
                         renamed_type(opts, "mlops:feature_store_bootstrap:RegistryBootstrap"))
        pod = args.pod
        labels = {**args.labels, "app.kubernetes.io/name": "feast-registry-init", "app.kubernetes.io/instance": name}
        reader_env: list[k8s.core.v1.EnvVarArgsDict] = [{"name": READER_ENV, "value": args.reader}] if args.reader else []
        if args.consumers:
            reader_env.append({"name": CONSUMERS_ENV, "value": json.dumps(dict(args.consumers), sort_keys=True)})
        if args.writers:
            reader_env.append({"name": WRITERS_ENV, "value": json.dumps(sorted(args.writers))})
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "registry-init",
            "image": args.image,
            "command": COMMAND,
            "env": [*pod.env(), *reader_env],
            "env_from": pod.env_from(),
            "volume_mounts": pod.mounts(),
            # Importing Feast (pandas, pyarrow, dask) is the heaviest part of the run.
            "resources": pod_security.resources("500m", "1Gi"),
            "security_context": pod_security.container_security_context(),
        }
        # No TTL: a Job that Kubernetes garbage-collects would be recreated by the next refresh-and-up for nothing.
        # Awaited (no skipAwait): dependents start only after it completes; a Failed one is replaced next update.
        self.job = k8s.batch.v1.Job(
            child(name, "job"),
            metadata={"name": name, "namespace": pod.namespace, "labels": labels,
                      "annotations": {REPLACE_UNREADY: "true"}},
            spec={
                "backoff_limit": 4,
                "active_deadline_seconds": DEADLINE_SECONDS,
                "template": {"metadata": {"labels": labels, "annotations": {"mlops/config-checksum": args.checksum}},
                             "spec": {**pod.spec(container), "restart_policy": "Never"}},
            },
            # The pod template is immutable: a new config replaces the Job, and the fixed name needs delete first.
            # Pulumi's default Job await is 10 minutes; a fresh node pulling the ~1.5 GB Feast image can take longer.
            opts=pulumi.ResourceOptions.merge(
                child_options(self, depends_on=list(args.depends_on), delete_before_replace=True),
                pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m"))),
        )
        self.register_outputs({"jobName": self.job.metadata.apply(
            lambda m: str(m["name"] if isinstance(m, dict) else m.name))})


def config_checksum(text: pulumi.Output[str], secrets: dict[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    """16 hex digits of SHA-256 over the file and the secret env values it expands (a one-way digest of random
    40-character passwords: the annotation stays a Pulumi secret all the same)."""
    names = sorted(secrets)
    return pulumi.Output.all(text, *[secrets[n] for n in names]).apply(lambda values: hashlib.sha256("\n".join(
        [str(values[0]), *(f"{n}={v}" for n, v in zip(names, values[1:], strict=True))]).encode()).hexdigest()[:16])
