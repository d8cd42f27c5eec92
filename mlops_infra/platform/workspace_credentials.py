"""Credentials of the team workspaces the platform lists (`cluster.workspaces`): their MLflow users and Qdrant key,
delivered per namespace through External Secrets, as the teams' integration secrets are (security/secrets_delivery.py).

A workspace namespace is made later, by its own stack (platform/team_workspace.py), so nothing of this stack can
be written into it. Here, per workspace: its MLflow user (the registry's users Job creates it, with its password,
registry/mlflow_users.py), that password in a Secrets Manager secret under the data key, and an IAM role that
trusts only the ServiceAccount `external-secrets-store` of that namespace (IRSA) and reads only that secret and the
Qdrant key a team gets. The `teamWorkspace` output names the role and the secrets; the workspace stack makes the
ServiceAccount, a namespaced SecretStore and the ExternalSecrets `mlflow-credentials` and `qdrant-credentials`
(the keys a team's Secrets carry). Whoever reads this stack's outputs learns names, never a value; a workspace's
SecretStore can assume only its own namespace's role.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from ..blocks import iam
from ..blocks.identity import ClusterIdentity, irsa_trust
from ..blocks.kms import KmsKey
from ..blocks.naming import child, child_options

STORE_SERVICE_ACCOUNT = "external-secrets-store"  # as security/secrets_delivery.py: a namespace's store identity
SECRET_READ = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]


def _login(user: str) -> Callable[[str], str]:
    return lambda password: json.dumps({"username": user, "password": password})


def decrypt_through_secrets_manager(key: KmsKey, region: str, secrets: list[pulumi.Output[str]]) -> iam.Statement:
    """kms:Decrypt on the data key only as Secrets Manager's call for one of `secrets`: `kms:ViaService` is
    `secretsmanager.<region>.amazonaws.com`, and Secrets Manager's encryption context `SecretARN` (Secrets Manager
    user guide, "Secret encryption and decryption": the context of every KMS call for a secret) is one of theirs.
    The role cannot decrypt anything else under the key, directly or through another secret."""
    return iam.statement("DecryptWorkspaceSecrets", ["kms:Decrypt"], [key.arn], conditions={"StringEquals": {
        "kms:ViaService": f"secretsmanager.{region}.amazonaws.com", "kms:EncryptionContext:SecretARN": secrets}})


def workspace_credentials(name: str, parent: pulumi.Resource, *, workspaces: list[str], cluster: ClusterIdentity,
                          region: str, data_key: KmsKey, tags: dict[str, str],
                          mlflow_passwords: Mapping[str, pulumi.Output[str]],
                          qdrant_key: aws.secretsmanager.Secret | None, qdrant_url: pulumi.Input[str] | None,
                          recovery_window_days: int) -> dict[str, Any]:
    """Per workspace namespace, what its stack needs to deliver its credentials (the `credentials` entry of the
    `teamWorkspace` output): `roleArn`, `region`, and per service the secret to read (`mlflowSecret`,
    `qdrantSecret`, `qdrantUrl`; absent when the platform gives that workspace none). The MLflow secret is not
    protected (its value is regenerable: the users Job sets the password again) and is deleted after
    `recovery_window_days`, as the integration secrets are."""
    out: dict[str, Any] = {}
    for ws in workspaces:
        entry: dict[str, Any] = {"region": region, "serviceAccount": STORE_SERVICE_ACCOUNT}
        readable: list[pulumi.Output[str]] = []
        if ws in mlflow_passwords:
            secret = aws.secretsmanager.Secret(
                child(name, f"{ws}-mlflow"), name=f"{name}/workspaces/{ws}/mlflow", kms_key_id=data_key.arn,
                tags=tags, description=f"MLflow user {ws} (team workspace), synced by its External Secrets",
                recovery_window_in_days=recovery_window_days, opts=child_options(parent))
            aws.secretsmanager.SecretVersion(
                child(name, f"{ws}-mlflow-value"), secret_id=secret.id, opts=child_options(parent),
                secret_string=mlflow_passwords[ws].apply(_login(ws)))  # the password is a secret: so is this
            entry["mlflowSecret"] = secret.name
            readable.append(secret.arn)
        if qdrant_key is not None and qdrant_url is not None:
            entry |= {"qdrantSecret": qdrant_key.name, "qdrantUrl": qdrant_url}
            readable.append(qdrant_key.arn)
        if not readable:
            continue
        role = aws.iam.Role(child(name, f"{ws}-reader"), tags=tags, opts=child_options(parent),
                            assume_role_policy=irsa_trust(cluster, ws, STORE_SERVICE_ACCOUNT))
        aws.iam.RolePolicy(child(name, f"{ws}-reader-policy"), role=role.id, opts=child_options(parent),
                           policy=iam.document([iam.statement("ReadWorkspaceSecrets", SECRET_READ, readable),
                                                decrypt_through_secrets_manager(data_key, region, readable)]))
        out[ws] = {**entry, "roleArn": role.arn}
    return out
