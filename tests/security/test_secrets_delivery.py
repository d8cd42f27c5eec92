"""SecretsDelivery in the security-baseline program: the External Secrets release, its operator role, the
Secrets Manager secrets, the ClusterSecretStore and one ExternalSecret per granted namespace, and the secret scan."""

from __future__ import annotations

import json

import pytest

from mlops_infra.plan import SECRET, Inventory, PlanError
from tests.conftest import planned
from tests.security.conftest import EXTERNAL_SECRET, PROGRAM, key, stmt

# --- secrets delivery ----------------------------------------------------------------------------------------------

def test_external_secrets_release_is_pinned_and_hardened(prod: Inventory) -> None:
    (release,) = prod.of_type("kubernetes:helm.sh/v3:Release")
    assert (release.inputs["chart"], release.inputs["version"], release.inputs["repositoryOpts"]) == (
        "external-secrets", "2.11.0", {"repo": "https://charts.external-secrets.io"})
    values = release.inputs["values"]
    assert values["serviceAccount"] == {"create": False, "name": "external-secrets"}
    for part in (values, values["webhook"], values["certController"]):
        assert part["securityContext"]["runAsNonRoot"] is True
        assert part["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert part["resources"]["limits"] == part["resources"]["requests"]
    # The release waits for the identity (role, its policy, the ServiceAccount) the chart's pods use.
    assert sorted(u.rsplit("::", 1)[1] for u in release.options["dependsOn"]) == [
        "sec-secrets-identity-policy", "sec-secrets-identity-role", "sec-secrets-identity-sa"]


def test_operator_role_reads_exactly_the_integration_secrets(prod: Inventory) -> None:
    policy = prod.named("sec-secrets-identity-policy")
    read = stmt(policy, "ReadIntegrationSecrets")
    assert read["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert read["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sec-secrets/wandb-AbCdEf",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sec-secrets/slack-webhook-AbCdEf"]
    decrypt = stmt(policy, "DecryptIntegrationSecrets")
    assert decrypt["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert key(prod, "sec-secrets-key").urn in policy.property_dependencies["policy"]
    trust = json.loads(prod.named("sec-secrets-identity-role").inputs["assumeRolePolicy"])
    cond = trust["Statement"][0]["Condition"]["StringEquals"]
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    assert cond == {f"{issuer}:sub": "system:serviceaccount:external-secrets:external-secrets",
                    f"{issuer}:aud": "sts.amazonaws.com"}


def test_secrets_manager_secrets_use_the_customer_key_and_secret_values(prod: Inventory) -> None:
    secret = prod.named("sec-secrets-wandb")
    assert secret.inputs["name"] == "sec-secrets/wandb"
    assert secret.property_dependencies["kmsKeyId"] == [key(prod, "sec-secrets-key").urn]
    assert secret.options["protect"] is True
    assert prod.named("sec-secrets-wandb-value").inputs["secretString"] == SECRET


def test_cluster_secret_store_uses_irsa_and_only_granted_namespaces(prod: Inventory) -> None:
    store = prod.named("sec-secrets-secrets-manager")
    assert (store.inputs["apiVersion"], store.inputs["kind"]) == ("external-secrets.io/v1", "ClusterSecretStore")
    assert store.inputs["spec"] == {
        "provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1", "auth": {"jwt": {
            "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}},
        "conditions": [{"namespaces": ["monitoring", "ranking", "research"]}]}
    assert store.options["dependsOn"] == [prod.named("sec-secrets-operator").urn]
    assert store.options["provider"] == prod.named("k8s").urn  # inherited from the caller's providers


def test_external_secrets_per_granted_namespace(prod: Inventory) -> None:
    synced = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r for r in prod.of_type(EXTERNAL_SECRET)}
    assert sorted(synced) == [("monitoring", "slack-webhook"), ("ranking", "wandb"), ("research", "wandb")]
    wandb = synced[("research", "wandb")]
    assert wandb.inputs["spec"] == {
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "sec-secrets-secrets-manager"},
        "target": {"name": "wandb", "creationPolicy": "Owner"},
        "data": [{"secretKey": "WANDB_API_KEY", "remoteRef": {"key": "sec-secrets/wandb"}}]}
    assert set(wandb.options["dependsOn"]) == {prod.named("sec-secrets-operator").urn,
                                                prod.named("sec-secrets-secrets-manager").urn}


def test_no_configured_secret_value_appears_anywhere_in_the_plan(prod: Inventory, dev: Inventory) -> None:
    for inv in (prod, dev):
        text = inv.dumps()
        # Offline, a secure value reads "plan-secret(<key>)"; neither it nor the ciphertext may leak anywhere.
        for needle in ("plan-secret", "wandbApiKey)", "ciphertext", "v1:AAAA"):
            assert needle not in text
    assert prod.outputs["integrationSecretArns"]["wandb"].endswith(":secret:sec-secrets/wandb-AbCdEf")


def test_plaintext_integration_secret_is_refused_before_anything_is_registered() -> None:
    with pytest.raises(PlanError) as info:
        planned("plaintext", PROGRAM)
    assert str(info.value) == (
        "mlops:platform: 1 problem\n  - securityBaseline.integrationSecrets[0].configKey: config key "
        "'mlops:wandbApiKey' is not set as a secret (pulumi config set --secret wandbApiKey ...)")
