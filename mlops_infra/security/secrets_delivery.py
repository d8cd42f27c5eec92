"""SecretsDelivery: integration secrets (experiment-tracker API keys, webhooks) stored in Secrets Manager from Pulumi
secrets, and synced into the namespaces config grants them to by the External Secrets operator.

A value only ever travels as a Pulumi secret (config -> `SecretVersion.secret_string`, secret in state) and then
inside AWS and the cluster; it is never a Helm value, a ConfigMap or a plain input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam, pod_security
from ..blocks.helm import PinnedChart, release
from ..blocks.identity import ClusterIdentity, WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options
from .config import SecurityBaselineConfig

ESO_API_VERSION = "external-secrets.io/v1"  # served since 0.16; v1beta1 is unserved from 0.17 (see security/config.py)
ESO_CHART = "external-secrets"
ESO_REPO = "https://charts.external-secrets.io"
ESO_SERVICE_ACCOUNT = "external-secrets"
REFRESH_INTERVAL = "1h"


@dataclass(frozen=True)
class SecretsDeliveryArgs:
    config: SecurityBaselineConfig
    cluster: ClusterIdentity
    region: str
    tags: dict[str, str]
    secret_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Value of each integration secret by its config key (read with `mlops_infra.stack.secret_config`)."""
    namespaces: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Namespaces created elsewhere, by name: ExternalSecrets use these outputs so they wait for them. Default: none
    (plain names)."""
    protect: bool = True
    """Pulumi `protect` + `retain_on_delete` on the key and the Secrets Manager secrets. Default: true."""


def _helm_pod_defaults(cpu: str, memory: str) -> dict[str, Any]:
    """The chart's per-deployment security and resource values (it toggles contexts with `enabled`)."""
    return {
        "podSecurityContext": {"enabled": True, **pod_security.helm_pod_security_context()},
        "securityContext": {"enabled": True, **pod_security.helm_container_security_context()},
        "resources": pod_security.helm_resources(cpu, memory),
    }


def operator_values(service_account: str) -> dict[str, Any]:
    """Helm values: our ServiceAccount (bound to the workload identity), pod security, requests and limits."""
    return {
        "installCRDs": True,
        "serviceAccount": {"create": False, "name": service_account},
        # PushSecret writes cluster secrets to the provider; nothing here needs it and the role cannot write.
        "processPushSecret": False,
        "processClusterPushSecret": False,
        **_helm_pod_defaults("100m", "256Mi"),
        "webhook": _helm_pod_defaults("50m", "128Mi"),
        "certController": _helm_pod_defaults("50m", "128Mi"),
    }


class SecretsDelivery(pulumi.ComponentResource):
    secret_arns: dict[str, pulumi.Output[str]]
    store_name: str | None

    # long: the secrets, the operator's identity, release and store in dependency order; each needs the previous
    #   one's name
    def __init__(self, name: str, args: SecretsDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops:security:SecretsDelivery", name, None, opts)
        cfg = args.config
        missing = [s.config_key for s in cfg.integration_secrets if s.config_key not in args.secret_values]
        if missing:
            raise ValueError(f"{name}: no value passed for integration secret config key(s) {', '.join(missing)}")
        key = KmsKey(child(name, "key"), KmsKeyArgs(
            description=f"{name} integration secrets", tags=args.tags, protect=args.protect),
            pulumi.ResourceOptions(parent=self))
        secrets: dict[str, aws.secretsmanager.Secret] = {}
        for sec in cfg.integration_secrets:
            secret = aws.secretsmanager.Secret(
                child(name, sec.name), name=f"{name}/{sec.name}", kms_key_id=key.arn,
                description=f"Integration secret {sec.name}, synced by External Secrets",
                recovery_window_in_days=cfg.secret_recovery_window_days, tags=args.tags,
                opts=child_options(self, stateful=True, protect=args.protect))
            aws.secretsmanager.SecretVersion(
                child(name, f"{sec.name}-value"), secret_id=secret.id,
                # Wrapped again so that a caller passing a plain string still gets a secret in state.
                secret_string=pulumi.Output.secret(args.secret_values[sec.config_key]), opts=child_options(self))
            secrets[sec.name] = secret
        self.secret_arns = {n: s.arn for n, s in secrets.items()}
        self.store_name = None

        ns_name = namespace(child(name, "namespace"), self, cfg.external_secrets_namespace, level="restricted")
        statements: list[iam.Statement] = []
        if secrets:
            statements = [
                iam.statement("ReadIntegrationSecrets", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                              [s.arn for s in secrets.values()]),
                key.use_statement("DecryptIntegrationSecrets", decrypt_only=True),
            ]
        identity = WorkloadIdentity(child(name, "identity"), WorkloadIdentityArgs(
            cluster=args.cluster, namespace=ns_name, service_account=ESO_SERVICE_ACCOUNT, tags=args.tags,
            statements=statements,
            automount_token=True),  # the controller reads and writes Kubernetes Secrets through the API
            pulumi.ResourceOptions(parent=self))
        operator = release(
            child(name, "operator"), PinnedChart(ESO_CHART, ESO_REPO, cfg.external_secrets_version), parent=self,
            namespace=ns_name, values=operator_values(ESO_SERVICE_ACCOUNT), depends_on=[identity])

        store_name = child(name, "secrets-manager")
        # Only the namespaces some secret is granted to may use the store (none granted: only the operator's own).
        granted = sorted({ns for sec in cfg.integration_secrets for ns in sec.namespaces}) or [
            cfg.external_secrets_namespace]
        provider: dict[str, Any] = {"service": "SecretsManager", "region": args.region}
        if args.cluster.mode == "irsa":
            # IRSA: the store assumes the role annotated on the operator's ServiceAccount.
            provider["auth"] = {"jwt": {"serviceAccountRef": {"name": ESO_SERVICE_ACCOUNT, "namespace": ns_name}}}
        # Pod Identity: no `auth` block; the operator's pod credentials come from the Pod Identity agent.
        store = k8s.apiextensions.CustomResource(
            store_name, api_version=ESO_API_VERSION, kind="ClusterSecretStore", metadata={"name": store_name},
            spec={"provider": {"aws": provider}, "conditions": [{"namespaces": granted}]},
            opts=child_options(self, depends_on=[operator]))
        self.store_name = store_name
        for sec in cfg.integration_secrets:
            for ns in sec.namespaces:
                k8s.apiextensions.CustomResource(
                    child(name, f"{sec.name}-{ns}"), api_version=ESO_API_VERSION, kind="ExternalSecret",
                    metadata={"name": sec.name, "namespace": args.namespaces.get(ns, ns)},
                    spec={
                        "refreshInterval": REFRESH_INTERVAL,
                        "secretStoreRef": {"kind": "ClusterSecretStore", "name": store_name},
                        "target": {"name": sec.name, "creationPolicy": "Owner"},
                        "data": [{"secretKey": sec.secret_key, "remoteRef": {"key": secrets[sec.name].name}}],
                    },
                    opts=child_options(self, depends_on=[operator, store]))
        self.register_outputs({"secretArns": self.secret_arns, "storeName": self.store_name})
