"""Read-only SQL-registry logins for the feature store's consumers (issue 27, item 7).

The exported `feature_store.yaml` is what a consumer (a team's job, an orchestrator's task) loads. It must never
carry the registry owner's login: each consumer namespace gets its own PostgreSQL role that may only read the
registry (the bootstrap Job creates it like the feature server's: LOGIN, CONNECT, USAGE and SELECT on the registry
tables, now and by default privileges later), and the Secret `feast-credentials` in its namespace holds that role's
name and password under the variables the exported file references (`${FEAST_REGISTRY_USER}`,
`${FEAST_REGISTRY_PASSWORD}`; Feast expands them on load, repo_config.py `load_repo_config`). The exported file
sets `schema_mode: verify`, so Feast issues no DDL with it (feast/infra/registry/sql.py, 0.66.0).

A team namespace exists before the feature store, so the store creates its Secret; an orchestrator's namespace is
created later by its add-on, which creates the Secret (`credentials_secret`) from `FeatureStore.registry_logins`.
Not covered: the Redis online store still has one AUTH token (the owner's), so no read-only Redis login is delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from ..blocks.naming import child, child_options
from .feast_config import REGISTRY_PASSWORD_ENV

REGISTRY_USER_ENV = "FEAST_REGISTRY_USER"
CONSUMERS_ENV = "FEAST_REGISTRY_CONSUMERS"
"""The bootstrap Job's env: JSON {role: name of the env var holding its password}."""
CREDENTIALS_SECRET = "feast-credentials"
CREDENTIALS_LABELS = {"app.kubernetes.io/name": "feast-credentials", "app.kubernetes.io/part-of": "mlops-platform"}


@dataclass(frozen=True)
class RegistryLogin:
    user: str
    """A PostgreSQL role that may only read the registry."""
    password: pulumi.Output[str]
    """A Pulumi secret."""
    password_env: str
    """The variable the bootstrap Job reads the password from."""


def reader_role(namespace: str) -> str:
    """`feast_reader_<namespace>`: a plain lower-case identifier (the bootstrap refuses anything else)."""
    return "feast_reader_" + namespace.replace("-", "_")


def consumer_logins(name: str, parent: pulumi.Resource, namespaces: Sequence[str]) -> dict[str, RegistryLogin]:
    """One role and random password (`<name>-registry-login-<namespace>`) per consumer namespace."""
    logins: dict[str, RegistryLogin] = {}
    for ns in sorted(set(namespaces)):
        password = random.RandomPassword(child(name, f"registry-login-{ns}"), length=40, special=False,
                                         opts=child_options(parent))
        logins[ns] = RegistryLogin(user=reader_role(ns), password=pulumi.Output.secret(password.result),
                                   password_env="FEAST_REGISTRY_READER_PASSWORD_" + ns.replace("-", "_").upper())
    return logins


def credentials_secret(resource_name: str, opts: pulumi.ResourceOptions, *, namespace: pulumi.Input[str],
                       login: RegistryLogin) -> k8s.core.v1.Secret:
    """The Secret `feast-credentials` in a consumer's namespace: the variables the exported file references."""
    return k8s.core.v1.Secret(resource_name, type="Opaque", opts=opts, metadata={
        "name": CREDENTIALS_SECRET, "namespace": namespace, "labels": CREDENTIALS_LABELS},
        string_data={REGISTRY_USER_ENV: login.user, REGISTRY_PASSWORD_ENV: login.password})
