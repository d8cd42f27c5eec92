"""Prefect Cloud's API key, as the worker reads it: the prefect-worker chart (PrefectHQ/prefect-helm 2026.8.18172642,
templates/deployment.yaml) sets `PREFECT_API_KEY` from `secretKeyRef` `worker.cloudApiConfig.apiKeySecret` (name and
key) in the worker and in its `sync-base-job-template` init container, and with `jobApiKeyPropagation: secretRef`
hands the same Secret name and key to flow-run Jobs. The Secret must exist in the namespace; where it comes from is
said, never assumed (`PrefectCloudKey`):
- `from_secrets_manager`: a Secrets Manager secret the component syncs itself, as the other add-ons do (a reader
  ServiceAccount whose IRSA role reads that secret only, a SecretStore of the namespace, an ExternalSecret);
- `delivered`: what already delivers it (the platform's SecretsDelivery, from `securityBaseline.integrationSecrets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from ..blocks import iam
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.naming import child, child_options
from ..security.secrets_delivery import ESO_API_VERSION, REFRESH_INTERVAL
from .refs import EngineRefs
from .wiring_common import secret_delivery_problems

READER = "prefect-cloud-key-reader"
"""The ServiceAccount (and IRSA role) the namespace's SecretStore reads the key as."""


@dataclass(frozen=True)
class PrefectCloudKey:
    """Where Prefect Cloud's API key comes from (`api.mode: cloud`): the namespace's Secret `api.apiKeySecret`, key
    `secret_key`. Build it with `from_secrets_manager` or `delivered`."""

    secret_key: str
    """The key of the API key in that Secret."""
    secrets_manager_secret: pulumi.Input[str] | None = None
    """A Secrets Manager secret (ARN) whose SecretString is the key: the component syncs it (ExternalSecret)."""
    kms_key_arn: pulumi.Input[str] | None = None
    """The customer-managed KMS key that secret is encrypted with (the reader may decrypt with it); None: the
    AWS-managed `aws/secretsmanager` key, which needs no grant."""
    delivered_by: pulumi.Resource | None = None
    """What already delivers the Secret into the namespace: the component creates nothing for it."""

    def __post_init__(self) -> None:
        if (self.secrets_manager_secret is None) == (self.delivered_by is None):
            raise ValueError("PrefectCloudKey: give exactly one of secrets_manager_secret (the component syncs it) "
                             "and delivered_by (already delivered): use from_secrets_manager or delivered")

    @classmethod
    def from_secrets_manager(cls, secret_arn: pulumi.Input[str], *, kms_key_arn: pulumi.Input[str] | None = None,
                             secret_key: str = "value") -> PrefectCloudKey:
        """The key in a Secrets Manager secret, synced into the namespace by the component (`secret_key`: the key
        in the Secret; default `value`)."""
        return cls(secret_key=secret_key, secrets_manager_secret=secret_arn, kms_key_arn=kms_key_arn)

    @classmethod
    def delivered(cls, by: pulumi.Resource, *, secret_key: str) -> PrefectCloudKey:
        """A Secret that `by` delivers (e.g. the platform's SecretsDelivery, the integration secret's `secretKey`)."""
        return cls(secret_key=secret_key, delivered_by=by)


def cloud_key_problems(key: PrefectCloudKey | None, refs: EngineRefs, api_key_secret: str) -> list[str]:
    """Why the worker would not find its API key (empty: none)."""
    if key is None:
        return [f"Prefect Cloud's API key: nothing delivers the Secret {api_key_secret!r} (api.apiKeySecret) the "
                "worker reads: pass `PrefectArgs.cloud_api_key`, e.g. `PrefectCloudKey.from_secrets_manager(<secret "
                "ARN>)` to sync it from Secrets Manager"]
    if key.delivered_by is not None:
        return []
    return secret_delivery_problems(refs, "Prefect Cloud's API key")


def sync_cloud_key(owner: pulumi.Resource, name: str, refs: EngineRefs, key: PrefectCloudKey, *,
                   namespace: pulumi.Input[str], secret_name: str) -> list[pulumi.Resource]:
    """The ExternalSecret that writes Secret `secret_name` (key `key.secret_key`) from the Secrets Manager secret,
    with its reader identity and SecretStore; returns what the worker waits for (nothing for a delivered key)."""
    if key.delivered_by is not None:
        return []
    assert key.secrets_manager_secret is not None
    statements: list[iam.Statement | pulumi.Output[iam.Statement]] = [iam.statement(
        "ReadPrefectCloudKey", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
        [key.secrets_manager_secret])]
    if key.kms_key_arn is not None:
        statements.append(iam.statement("DecryptPrefectCloudKey", ["kms:Decrypt"], [key.kms_key_arn]))
    reader = WorkloadIdentity(child(name, "reader"), WorkloadIdentityArgs(
        cluster=refs.cluster.identity, namespace=namespace, service_account=READER, tags=refs.tags,
        statements=statements), pulumi.ResourceOptions(parent=owner))
    eso = [refs.external_secrets] if refs.external_secrets is not None else []
    provider: dict[str, Any] = {"service": "SecretsManager", "region": refs.region,
                                "auth": {"jwt": {"serviceAccountRef": {"name": READER}}}}
    store = k8s.apiextensions.CustomResource(
        child(name, "store"), api_version=ESO_API_VERSION, kind="SecretStore",
        metadata={"name": f"{secret_name}-store", "namespace": namespace}, spec={"provider": {"aws": provider}},
        opts=child_options(owner, depends_on=[reader, *eso]))
    synced = k8s.apiextensions.CustomResource(
        child(name, "external-secret"), api_version=ESO_API_VERSION, kind="ExternalSecret",
        metadata={"name": secret_name, "namespace": namespace},
        spec={"refreshInterval": REFRESH_INTERVAL,
              "secretStoreRef": {"kind": "SecretStore", "name": f"{secret_name}-store"},
              "target": {"name": secret_name, "creationPolicy": "Owner"},
              "data": [{"secretKey": key.secret_key, "remoteRef": {"key": key.secrets_manager_secret}}]},
        opts=child_options(owner, depends_on=[store, *eso]))
    return [store, synced]
