"""Per-consumer Feast logins: the SQL registry and the Redis online store (issue 27, item 7).

The exported `feature_store.yaml` is what a consumer (a team's job, an orchestrator's task) loads. It must never
carry the owner's login: each consumer namespace gets its own PostgreSQL role and, with Redis `redisAuth: rbac`,
its own ElastiCache user, and the Secret `feast-credentials` in its namespace holds them under the variables the
exported file references (`${FEAST_REGISTRY_USER}`, `${FEAST_REGISTRY_PASSWORD}`, `${FEAST_REDIS_USER}`,
`${FEAST_REDIS_PASSWORD}`; Feast expands them on load, repo_config.py `load_repo_config`).

Read or write (`featureStore.writerNamespaces`): a reader's role (`feast_reader_<ns>`) may only SELECT the registry
tables; a writer's (`feast_writer_<ns>`) may also INSERT, UPDATE and DELETE exactly the tables Feast's SQL registry
defines (feast/infra/registry/sql.py `metadata`, 0.66.0: projects, entities, data_sources, feature_views,
stream_feature_views, on_demand_feature_views, label_views, feature_services, saved_datasets,
validation_references, managed_infra, permissions, feature_view_version_history, feast_metadata), never DDL: the
exported file sets `schema_mode: verify`. The bootstrap Job creates both kinds (feature_store_bootstrap.py).
In Redis, Feast keys are the serialized entity key followed by the project name (feast/infra/online_stores/helpers.py
`_redis_key`), so a consumer's ACL is limited to `~*<project>`: a reader gets `+@read`, a writer `+@read +@write`,
both without `@dangerous` (FLUSHALL, KEYS, ... ignore key patterns). Feast reads with HMGET only
(`online_read`), writes with HSET and EXPIRE (`online_write_batch`), and deletes with SCAN, HKEYS, DEL
(`delete_table`, `update` of a writer's `feast apply`).

Passwords are `random.RandomPassword` results: Pulumi secrets in state, written into the ElastiCache user and the
Kubernetes Secret, never a plain input. Rotation: replace the password resource (`pulumi up --replace <urn>` of
`<name>-redis-login-<ns>` or `-registry-login-<ns>`); the same update sets the ElastiCache user's password in place
(ModifyUser) or re-runs the bootstrap Job (its checksum covers every consumer password), and rewrites the Secret.
Pods read the Secret at start: a consumer restarts its pods after a rotation (the orchestrators' restarter does it
for theirs, pipelines/wiring_common.py).

A team namespace exists before the feature store, so the store creates its Secret; an orchestrator's namespace is
created later by its add-on, which creates the Secret (`credentials_secret`) from `FeatureStore.registry_logins`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks.naming import child, child_options
from .feast_config import REDIS_PASSWORD_ENV, REGISTRY_PASSWORD_ENV

REGISTRY_USER_ENV = "FEAST_REGISTRY_USER"
REDIS_USER_ENV = "FEAST_REDIS_USER"
CONSUMERS_ENV = "FEAST_REGISTRY_CONSUMERS"
"""The bootstrap Job's env: JSON {role: name of the env var holding its password}."""
WRITERS_ENV = "FEAST_REGISTRY_WRITERS"
"""The bootstrap Job's env: JSON list of the consumer roles that may also write the registry tables."""
CREDENTIALS_SECRET = "feast-credentials"
"""The platform feature store's Secret in its consumer namespaces: platform/ passes it as
`FeastFeatureStoreArgs.credentials_secret_name`, the orchestrators' pods read it. A store alone names its own
(`<name>-feast-credentials`), so it never writes the platform's Secret a second time."""
CREDENTIALS_LABELS = {"app.kubernetes.io/name": "feast-credentials", "app.kubernetes.io/part-of": "mlops-platform"}


@dataclass(frozen=True)
class RegistryLogin:
    """A consumer namespace's Feast logins (the name stays: the platform context and the wiring carry it)."""

    user: str | None
    """A PostgreSQL role (SQL registry), or None (S3 registry: the IAM policy grants the registry)."""
    password: pulumi.Output[str] | None
    """A Pulumi secret."""
    password_env: str
    """The variable the bootstrap Job reads the password from."""
    write: bool = False
    """A writer (`featureStore.writerNamespaces`): may write the registry tables and Feast's Redis keys."""
    redis_user: str | None = None
    """The ElastiCache user (`redisAuth: rbac`), or None."""
    redis_password: pulumi.Output[str] | None = None
    """A Pulumi secret."""

    def env(self) -> dict[str, pulumi.Input[str]]:
        """The variables the exported file references, with this consumer's values (passwords stay secrets)."""
        out: dict[str, pulumi.Input[str]] = {}
        if self.user is not None and self.password is not None:
            out |= {REGISTRY_USER_ENV: self.user, REGISTRY_PASSWORD_ENV: self.password}
        if self.redis_user is not None and self.redis_password is not None:
            out |= {REDIS_USER_ENV: self.redis_user, REDIS_PASSWORD_ENV: self.redis_password}
        return out


def reader_role(namespace: str, write: bool = False) -> str:
    """`feast_reader_<namespace>` (`feast_writer_` for a writer): a plain lower-case identifier (the bootstrap
    refuses anything else)."""
    return ("feast_writer_" if write else "feast_reader_") + namespace.replace("-", "_")


def redis_user(namespace: str, write: bool = False) -> str:
    """The consumer's ElastiCache user name (`feast-reader-<ns>` or `feast-writer-<ns>`)."""
    return ("feast-writer-" if write else "feast-reader-") + namespace


def redis_access_string(project: str, write: bool) -> str:
    """Feast's keys of `project` only (`~*<project>`), read (or read and write), never a `@dangerous` command."""
    return f"on ~*{project} -@all +@read{' +@write' if write else ''} -@dangerous"


def _password(resource_name: str, parent: pulumi.Resource, *, letters: bool = False,
              role: str = "") -> pulumi.Output[str]:
    """`role` (the login's user name) is a keeper: a reader<->writer change rotates the password, so a login handed
    out under the old role does not carry over to the new one."""
    least = 1 if letters else None
    result: pulumi.Output[str] = random.RandomPassword(resource_name, length=40, special=False, min_lower=least,
                                                       min_upper=least, keepers={"role": role} if role else None,
                                                       opts=child_options(parent)).result
    return pulumi.Output.secret(result)


def consumer_logins(name: str, parent: pulumi.Resource, namespaces: Sequence[str], *, writers: Sequence[str] = (),
                    sql: bool = True, redis: bool = False) -> dict[str, RegistryLogin]:
    """Per consumer namespace: a registry role and random password (`<name>-registry-login-<namespace>`) with a
    SQL registry, a Redis user's random password (`<name>-redis-login-<namespace>`) with `redis`."""
    unknown = sorted(set(writers) - set(namespaces))
    if unknown:
        raise ValueError(f"{name}: writerNamespaces {unknown} are not consumers of the feature store {sorted(namespaces)}")
    logins: dict[str, RegistryLogin] = {}
    for ns in sorted(set(namespaces)):
        write = ns in writers
        password = _password(child(name, f"registry-login-{ns}"), parent, role=reader_role(ns, write)) if sql else None
        # At least one letter: Feast parses each connection-string value as JSON first (redis.py
        # `_parse_connection_string`), so an all-digit password would become a number.
        redis_password = (_password(child(name, f"redis-login-{ns}"), parent, letters=True,
                                    role=redis_user(ns, write)) if redis else None)
        logins[ns] = RegistryLogin(
            user=reader_role(ns, write) if sql else None, password=password, write=write,
            password_env="FEAST_REGISTRY_READER_PASSWORD_" + ns.replace("-", "_").upper(),
            redis_user=redis_user(ns, write) if redis else None, redis_password=redis_password)
    return logins


def credentials_secret(resource_name: str, opts: pulumi.ResourceOptions, *, namespace: pulumi.Input[str],
                       login: RegistryLogin, secret_name: str) -> k8s.core.v1.Secret:
    """The Secret `secret_name` in a consumer's namespace: the variables the exported file references."""
    return k8s.core.v1.Secret(resource_name, type="Opaque", opts=opts, metadata={
        "name": secret_name, "namespace": namespace, "labels": CREDENTIALS_LABELS},
        string_data=login.env())
