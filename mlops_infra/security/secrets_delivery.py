"""SecretsDelivery: integration secrets (experiment-tracker API keys, webhooks) stored in Secrets Manager from Pulumi
secrets, and synced into the namespaces config grants them to by the External Secrets operator.

A value only ever travels as a Pulumi secret (config -> `SecretVersion.secret_string`, secret in state) and then
inside AWS and the cluster; it is never a Helm value, a ConfigMap or a plain input.

Each granted namespace gets its own SecretStore and its own role that reads only the secrets granted to that
namespace, so whoever may create an ExternalSecret (or a SecretStore) in one namespace reads nothing of another's:
- IRSA: the store authenticates as a ServiceAccount of its own namespace (`auth.jwt.serviceAccountRef`; for a
  namespaced SecretStore External Secrets takes the ServiceAccount from the store's namespace), whose role trusts
  exactly that ServiceAccount;
- Pod Identity: External Secrets cannot act as another ServiceAccount (external-secrets/external-secrets#2951), so the
  store names its namespace's role (`role`), which the operator assumes with its own credentials. The ExternalSecrets
  of a namespace reach only its store; but a user who may create a SecretStore could name another namespace's role,
  so namespaces whose members may create SecretStores need IRSA for full isolation (README, "Integration secrets").
The ClusterSecretStore of earlier releases stays, usable only from the operator's own namespace, with no secret
behind it (its role reads nothing), so upgrading deletes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ..blocks import iam, pod_security
from ..blocks.cluster_add_ons import claim
from ..blocks.helm import PinnedChart, release
from ..blocks.identity import WorkloadIdentity, WorkloadIdentityArgs
from ..blocks.kms import KmsKey, KmsKeyArgs
from ..blocks.namespace import namespace
from ..blocks.naming import child, child_options
from ..blocks.refs import ClusterRefs
from .config import SecurityBaselineConfig

ESO_API_VERSION = "external-secrets.io/v1"  # served since 0.16; v1beta1 is unserved from 0.17 (see security/config.py)
ESO_CHART = "external-secrets"
ESO_REPO = "https://charts.external-secrets.io"
ESO_SERVICE_ACCOUNT = "external-secrets"
STORE_SERVICE_ACCOUNT = "external-secrets-store"  # IRSA: the identity of a namespace's SecretStore
REFRESH_INTERVAL = "1h"


@dataclass(frozen=True)
class SecretsDeliveryArgs:
    config: SecurityBaselineConfig
    cluster: ClusterRefs
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
    """Secrets delivery: Secrets Manager secrets and the External Secrets operator with its store."""
    secret_arns: dict[str, pulumi.Output[str]]
    store_name: str | None

    # long: the secrets, the operator's identity, release and store in dependency order; each needs the previous
    #   one's name
    def __init__(self, name: str, args: SecretsDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        claim(args.cluster, "externalSecrets", name)  # a cluster runs one: refused when it already does
        super().__init__("mlops:security:SecretsDelivery", name, None, args.cluster.bind(opts))
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
        identity = WorkloadIdentity(child(name, "identity"), WorkloadIdentityArgs(
            cluster=args.cluster.identity, namespace=ns_name, service_account=ESO_SERVICE_ACCOUNT, tags=args.tags,
            automount_token=True),  # the controller reads and writes Kubernetes Secrets through the API
            pulumi.ResourceOptions(parent=self))
        granted = sorted({ns for sec in cfg.integration_secrets for ns in sec.namespaces})
        readers = {ns: self._reader(name, args, ns, [secrets[s.name] for s in cfg.integration_secrets
                                                    if ns in s.namespaces], key, identity.role) for ns in granted}
        ready: list[pulumi.Resource] = [identity]
        if args.cluster.identity.mode != "irsa" and readers:  # Pod Identity: the operator assumes each store's role
            ready.append(aws.iam.RolePolicy(child(name, "identity-assume-stores"), role=identity.role.id,
                                            policy=iam.document([iam.statement(
                                                "AssumeStoreRoles", ["sts:AssumeRole", "sts:TagSession"],
                                                [r.arn for r in readers.values()])]), opts=child_options(self)))
        operator = release(
            child(name, "operator"), PinnedChart(ESO_CHART, ESO_REPO, cfg.external_secrets_version), parent=self,
            namespace=ns_name, values=operator_values(ESO_SERVICE_ACCOUNT), depends_on=ready)

        store_name = child(name, "secrets-manager")
        provider: dict[str, Any] = {"service": "SecretsManager", "region": args.region}
        if args.cluster.identity.mode == "irsa":
            provider["auth"] = {"jwt": {"serviceAccountRef": {"name": ESO_SERVICE_ACCOUNT, "namespace": ns_name}}}
        # The earlier releases' ClusterSecretStore: the operator's own namespace only, and its role reads nothing.
        k8s.apiextensions.CustomResource(
            store_name, api_version=ESO_API_VERSION, kind="ClusterSecretStore", metadata={"name": store_name},
            spec={"provider": {"aws": provider}, "conditions": [{"namespaces": [cfg.external_secrets_namespace]}]},
            opts=child_options(self, depends_on=[operator]))
        self.store_name = store_name
        stores = {ns: self._store(name, args, ns, store_name, reader, operator) for ns, reader in readers.items()}
        for sec in cfg.integration_secrets:
            for ns in sec.namespaces:
                k8s.apiextensions.CustomResource(
                    child(name, f"{sec.name}-{ns}"), api_version=ESO_API_VERSION, kind="ExternalSecret",
                    metadata={"name": sec.name, "namespace": args.namespaces.get(ns, ns)},
                    spec={
                        "refreshInterval": REFRESH_INTERVAL,
                        "secretStoreRef": {"kind": "SecretStore", "name": store_name},
                        "target": {"name": sec.name, "creationPolicy": "Owner"},
                        "data": [{"secretKey": sec.secret_key, "remoteRef": {"key": secrets[sec.name].name}}],
                    },
                    opts=child_options(self, depends_on=[operator, stores[ns]]))
        self.register_outputs({"secretArns": self.secret_arns, "storeName": self.store_name})

    def _reader(self, name: str, args: SecretsDeliveryArgs, ns: str, secrets: list[aws.secretsmanager.Secret],
                key: KmsKey, operator_role: aws.iam.Role) -> aws.iam.Role:
        """The role `ns`'s SecretStore uses: it reads exactly the secrets granted to `ns`."""
        statements: list[iam.Statement | pulumi.Output[iam.Statement]] = [
            iam.statement("ReadNamespaceSecrets", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                          [s.arn for s in secrets]),
            key.use_statement("DecryptIntegrationSecrets", decrypt_only=True)]
        if args.cluster.identity.mode == "irsa":
            return WorkloadIdentity(child(name, f"{ns}-reader"), WorkloadIdentityArgs(
                cluster=args.cluster.identity, namespace=args.namespaces.get(ns, ns), service_account=STORE_SERVICE_ACCOUNT,
                tags=args.tags, statements=statements), pulumi.ResourceOptions(parent=self)).role
        # Pod Identity: the operator's role assumes this one (External Secrets' `role`).
        trust = iam.trust_document([operator_role.arn.apply(lambda arn: iam.statement(
            "ExternalSecretsOperator", ["sts:AssumeRole", "sts:TagSession"], [], principals={"AWS": arn}))])
        role = aws.iam.Role(child(name, f"{ns}-reader-role"), assume_role_policy=trust, tags=args.tags,
                            opts=child_options(self))
        aws.iam.RolePolicy(child(name, f"{ns}-reader-policy"), role=role.id, policy=iam.document(statements),
                           opts=child_options(self))
        return role

    def _store(self, name: str, args: SecretsDeliveryArgs, ns: str, store_name: str, reader: aws.iam.Role,
               operator: pulumi.Resource) -> pulumi.Resource:
        provider: dict[str, Any] = {"service": "SecretsManager", "region": args.region}
        if args.cluster.identity.mode == "irsa":
            provider["auth"] = {"jwt": {"serviceAccountRef": {"name": STORE_SERVICE_ACCOUNT}}}
        else:
            provider["role"] = reader.arn
        return k8s.apiextensions.CustomResource(
            child(name, f"{ns}-store"), api_version=ESO_API_VERSION, kind="SecretStore",
            metadata={"name": store_name, "namespace": args.namespaces.get(ns, ns)},
            spec={"provider": {"aws": provider}}, opts=child_options(self, depends_on=[operator, reader]))
