"""SecretsDelivery in the security-baseline program: the External Secrets release, its operator role, the
Secrets Manager secrets, one SecretStore (and role) per granted namespace and one ExternalSecret per grant, and the
secret scan. Issue 27 item 12: a namespace's store role reads that namespace's secrets and no other's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.plan import SECRET, Inventory, PlanError
from tests import iam_eval
from tests.conftest import planned
from tests.nonempty import each
from tests.security.conftest import EXTERNAL_SECRET, PROGRAM, key

SECRET_STORE = "kubernetes:external-secrets.io/v1:SecretStore"

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
        "sec-secrets-identity-role", "sec-secrets-identity-sa"]


ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sec-secrets/{}-AbCdEf"


def test_the_operator_role_reads_no_secret(prod: Inventory) -> None:
    operator = prod.named("sec-secrets-identity-role")
    assert role_documents(prod, operator) == []  # IRSA: each store has its own role; the operator's reads nothing
    trust = json.loads(operator.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {
        f"{ISSUER}:sub": "system:serviceaccount:external-secrets:external-secrets", f"{ISSUER}:aud": "sts.amazonaws.com"}


def role_documents(inv: Inventory, role: Any) -> list[Any]:
    return iam_eval.role_documents(list(inv), role)


def store_role(inv: Inventory, store: Any) -> Any:
    """The role a namespace's SecretStore authenticates as: the IRSA role trusting the ServiceAccount it names, or
    (Pod Identity) the role it names."""
    aws_provider = store.inputs["spec"]["provider"]["aws"]
    roles = inv.of_type("aws:iam/role:Role")
    if "role" in aws_provider:
        (role,) = [r for r in roles if aws_provider["role"].endswith(f":role/{r.id}")]
        return role
    ns, sa = store.inputs["metadata"]["namespace"], aws_provider["auth"]["jwt"]["serviceAccountRef"]["name"]
    assert "namespace" not in aws_provider["auth"]["jwt"]["serviceAccountRef"]  # a SecretStore's own namespace
    wanted = f"system:serviceaccount:{ns}:{sa}"
    (role,) = [r for r in roles if wanted in r.inputs["assumeRolePolicy"]]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"][f"{ISSUER}:sub"] == wanted
    return role


GRANTS = {"prod": {"research": ["wandb"], "ranking": ["wandb"], "monitoring": ["slack-webhook"]},
          "dev": {"research": ["comet"]}}


@pytest.mark.parametrize("stack", ["prod", "dev"])  # prod: IRSA; dev: Pod Identity
def test_a_namespaces_store_role_reads_its_secrets_and_no_other_namespaces(stack: str) -> None:
    inv = planned(stack, PROGRAM)
    stores = {r.inputs["metadata"]["namespace"]: r for r in inv.of_type(SECRET_STORE)}
    assert sorted(stores) == sorted(GRANTS[stack])
    every = {name for names in GRANTS[stack].values() for name in names} | {"someone-else"}
    for ns, store in each(stores.items()):
        docs = role_documents(inv, store_role(inv, store))
        for name in every:
            allowed = iam_eval.allows(docs, "secretsmanager:GetSecretValue", SECRET_ARN.format(name))
            assert allowed == (name in GRANTS[stack][ns]), (stack, ns, name)


def test_pod_identity_store_roles_trust_only_the_operator(dev: Inventory) -> None:
    (store,) = dev.of_type(SECRET_STORE)
    role = store_role(dev, store)
    operator = dev.named("sec-secrets-identity-role")
    operator_arn = f"arn:aws:iam::123456789012:role/{operator.id}"
    assert iam_eval.trusts(role.inputs["assumeRolePolicy"], {"AWS": operator_arn}, "sts:AssumeRole")
    assert not iam_eval.trusts(role.inputs["assumeRolePolicy"], {"AWS": "arn:aws:iam::123456789012:role/x"},
                               "sts:AssumeRole")
    # ...and the operator may assume exactly the store roles.
    assert iam_eval.allows(role_documents(dev, operator), "sts:AssumeRole", store.inputs["spec"]["provider"]["aws"]["role"])


def test_secrets_manager_secrets_use_the_customer_key_and_secret_values(prod: Inventory) -> None:
    secret = prod.named("sec-secrets-wandb")
    assert secret.inputs["name"] == "sec-secrets/wandb"
    assert secret.property_dependencies["kmsKeyId"] == [key(prod, "sec-secrets-key").urn]
    assert secret.options["protect"] is True
    assert prod.named("sec-secrets-wandb-value").inputs["secretString"] == SECRET


def test_the_released_cluster_secret_store_serves_only_the_operators_namespace(prod: Inventory) -> None:
    store = prod.named("sec-secrets-secrets-manager")
    assert (store.inputs["apiVersion"], store.inputs["kind"]) == ("external-secrets.io/v1", "ClusterSecretStore")
    assert store.inputs["spec"] == {
        "provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1", "auth": {"jwt": {
            "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}},
        "conditions": [{"namespaces": ["external-secrets"]}]}
    assert store.options["dependsOn"] == [prod.named("sec-secrets-operator").urn]
    assert store.options["provider"] == prod.named("k8s").urn  # inherited from the caller's providers


def test_external_secrets_per_granted_namespace(prod: Inventory) -> None:
    synced = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r for r in prod.of_type(EXTERNAL_SECRET)}
    assert sorted(synced) == [("monitoring", "slack-webhook"), ("ranking", "wandb"), ("research", "wandb")]
    wandb = synced[("research", "wandb")]
    assert wandb.inputs["spec"] == {
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "SecretStore", "name": "sec-secrets-secrets-manager"},
        "target": {"name": "wandb", "creationPolicy": "Owner"},
        "data": [{"secretKey": "WANDB_API_KEY", "remoteRef": {"key": "sec-secrets/wandb"}}]}
    assert set(wandb.options["dependsOn"]) == {prod.named("sec-secrets-operator").urn,
                                                prod.named("sec-secrets-research-store").urn}


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
