"""Family identity: IRSA and Pod Identity roles assumable by exactly their workload (both ends named), and twins."""

from __future__ import annotations

import json
from typing import Any

from .cases import Case, check, params
from .helpers import R, messages

ID = "mlops-inv-workload-identity"
ROLE = "aws:iam/role:Role"
SA = "kubernetes:core/v1:ServiceAccount"
HOST = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
PROVIDER_ARN = f"arn:aws:iam::111122223333:oidc-provider/{HOST}"
PROVIDER = R("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc",
             {"url": f"https://{HOST}", "arn": PROVIDER_ARN, "clientIdLists": ["sts.amazonaws.com"]})


def provider(*client_ids: str) -> R:
    return R(PROVIDER.type, "oidc", {"url": f"https://{HOST}", "arn": PROVIDER_ARN, "clientIdLists": list(client_ids)})


OTHER = "oidc.eks.us-east-1.amazonaws.com/id/XYZ"
ROLE_ARN = "arn:aws:iam::111122223333:role/trainer"
ASSOC = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


def irsa(sub: Any = "system:serviceaccount:ml:trainer", *, aud: str | None = "sts.amazonaws.com",
         op: str = "StringEquals", host: str = HOST, federated: str = PROVIDER_ARN) -> R:
    conditions: dict[str, Any] = {op: {f"{host}:sub": sub}} if sub is not None else {op: {}}
    if aud is not None:
        conditions.setdefault("StringEquals", {})[f"{host}:aud"] = aud
    trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                            "Principal": {"Federated": federated}, "Condition": conditions}]}
    return R(ROLE, "trainer", {"name": "trainer", "arn": ROLE_ARN, "assumeRolePolicy": json.dumps(trust)})


def account(name: str = "trainer", ns: str = "ml", role_arn: str | None = ROLE_ARN) -> R:
    annotations = {"eks.amazonaws.com/role-arn": role_arn} if role_arn else {}
    return R(SA, f"sa-{name}", {"metadata": {"name": name, "namespace": ns, "annotations": annotations}},
             deps={"metadata": ["trainer"]} if role_arn else {})


def pod_identity_role(*actions: str, **tags: str) -> R:
    condition = {"StringEquals": {f"aws:RequestTag/{k.replace('_', '-')}": v for k, v in tags.items()}} if tags else {}
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                            "Action": list(actions), **({"Condition": condition} if condition else {})}]}
    return R(ROLE, "trainer", {"name": "trainer", "assumeRolePolicy": json.dumps(trust)})


def association(ns: str = "ml", sa: str = "trainer") -> R:
    return R(ASSOC, "trainer-assoc", {"clusterName": "prod", "namespace": ns, "serviceAccount": sa,
                                      "roleArn": ROLE_ARN}, deps={"roleArn": ["trainer"]})


BOTH = ("sts:AssumeRole", "sts:TagSession")
WHO = "trainer: IRSA role trainer is assumable by more or other than its workload: "
SERVING = "trainer: IRSA role trainer (serving ServiceAccount {}) is assumable by more or other than its workload: "
UNANNOTATED = ("sa-trainer: IRSA role trainer trusts ServiceAccount ml/trainer (sa-trainer), but the ServiceAccount "
               "does not carry eks.amazonaws.com/role-arn = the role's ARN, so its pods get no credentials: annotate it")
OTHER_SA = ("sa-notebook: ServiceAccount ml/notebook (sa-notebook) carries role trainer's ARN, but the role's trust "
            "allows only ml/trainer: point the trust's :sub at system:serviceaccount:ml:notebook")

CASES = [
    # IRSA: the provider of this stack's cluster, :aud, :sub = the annotated ServiceAccount.
    Case("irsa-exact", ID, [PROVIDER, irsa(), account()], []),
    # Without :aud, the provider's client ids decide which tokens STS accepts: sts.amazonaws.com alone is hardening.
    Case("irsa-missing-aud", ID, [PROVIDER, irsa(aud=None), account()],
         [SERVING.format("ml/trainer") + f"it does not pin {HOST}:aud to sts.amazonaws.com (hardening, not exposure: "
          "the provider's only client id is sts.amazonaws.com, but a client id added later would widen this trust)"]),
    Case("irsa-missing-aud-provider-admits-more", ID, [provider("sts.amazonaws.com", "kubectl"), irsa(aud=None),
                                                       account()],
         [SERVING.format("ml/trainer") + f"it does not pin {HOST}:aud to sts.amazonaws.com"]),
    Case("irsa-provider-without-sts-client-id", ID, [provider("https://kubernetes.default.svc"), irsa(), account()],
         ["oidc: IAM OIDC provider oidc lists client ids https://kubernetes.default.svc without sts.amazonaws.com, so "
          "STS rejects every IRSA token (aud sts.amazonaws.com) of the roles trusting it: add sts.amazonaws.com to "
          "clientIdLists"]),
    Case("irsa-unused-provider-without-sts-client-id", ID, [provider("other")], []),
    # StringEquals compares literally: a `*` in its :sub admits no ServiceAccount named otherwise.
    Case("irsa-string-equals-star-is-literal", ID, [PROVIDER, irsa("system:serviceaccount:ml:*"), account()],
         ["sa-trainer: ServiceAccount ml/trainer (sa-trainer) carries role trainer's ARN, but the role's trust allows "
          "only ml/*: point the trust's :sub at system:serviceaccount:ml:trainer"]),
    Case("irsa-wildcard-sub", ID, [PROVIDER, irsa("system:serviceaccount:ml:*", op="StringLike"), account()],
         [SERVING.format("ml/*") + f"its {HOST}:sub is a wildcard (system:serviceaccount:ml:*)"]),
    Case("irsa-no-sub", ID, [PROVIDER, irsa(None), account()],
         [WHO + f"it does not pin {HOST}:sub, so every ServiceAccount of the cluster can assume it",
          "sa-trainer: ServiceAccount ml/trainer (sa-trainer) carries role trainer's ARN, but the role's trust pins "
          "no ServiceAccount: point the trust's :sub at system:serviceaccount:ml:trainer"]),
    Case("irsa-condition-names-other-issuer", ID, [PROVIDER, irsa(host=OTHER),
                                                   account()],
         [SERVING.format("ml/trainer") + f"its condition key {OTHER}:{claim} names issuer {OTHER}, not the provider's {HOST}, so it never "
          "matches" for claim in ("aud", "sub")]),
    Case("irsa-sa-annotated-with-other-role", ID, [PROVIDER, irsa(), account(), account("notebook")], [OTHER_SA]),
    Case("irsa-sa-not-annotated", ID, [PROVIDER, irsa(), account(role_arn=None)], [UNANNOTATED]),
    Case("irsa-trusts-missing-account", ID, [PROVIDER, irsa("system:serviceaccount:ml:train")],
         ["trainer: IRSA role trainer trusts ServiceAccount ml/train, which the stack does not create: create it "
          "(annotated with the role's ARN) or fix the trust's :sub"]),
    Case("irsa-external-account-allowlisted", ID, [PROVIDER, irsa("system:serviceaccount:kube-system:aws-node")], [],
         config={"externalServiceAccounts": ["kube-system/*"]}),
    Case("irsa-addon-account", ID, [PROVIDER, irsa("system:serviceaccount:kube-system:ebs-csi-controller-sa"),
                                    R("aws:eks/addon:Addon", "ebs", {"addonName": "aws-ebs-csi-driver"})], []),
    # Any add-on given the role (serviceAccountRoleArn) creates the ServiceAccount the role trusts; without it, not.
    *(Case(f"irsa-addon-with-role-{given}", ID, [
        PROVIDER, irsa("system:serviceaccount:kube-system:fsx-csi-controller-sa"),
        R("aws:eks/addon:Addon", "fsx", {"addonName": "aws-fsx-csi-driver", "serviceAccountRoleArn": ROLE_ARN},
          deps={"serviceAccountRoleArn": ["trainer"]} if given else {})],
        [] if given else ["trainer: IRSA role trainer trusts ServiceAccount kube-system/fsx-csi-controller-sa, which "
                          "the stack does not create: create it (annotated with the role's ARN) or fix the trust's "
                          ":sub"]) for given in (True, False)),
    Case("irsa-chart-account", ID, [PROVIDER, irsa("system:serviceaccount:external-secrets:external-secrets"),
                                    R("kubernetes:helm.sh/v3:Release", "eso", {
                                        "chart": "external-secrets", "namespace": "external-secrets",
                                        "values": {"serviceAccount": {"name": "external-secrets"}}})], []),
    # A yaml/v2 ConfigFile rendered into the inventory (render_yaml: its objects are its children) hides nothing; one
    # that registered no objects may create any ServiceAccount, so "not created" is not judged.
    *(Case(f"irsa-missing-account-beside-{kind}-config-file", ID, [
        PROVIDER, irsa("system:serviceaccount:ml:train"), R("kubernetes:yaml/v2:ConfigFile", "extras", {"file": "x"}),
        *([R("kubernetes:core/v1:ConfigMap", "extras-cm", {"metadata": {"name": "c", "namespace": "ops"}},
             parent="extras")] if kind == "rendered" else [])],
        ["trainer: IRSA role trainer trusts ServiceAccount ml/train, which the stack does not create: create it "
         "(annotated with the role's ARN) or fix the trust's :sub"] if kind == "rendered" else [])
      for kind in ("rendered", "unrendered")),
    # A role trusting another cluster's provider is out of scope (the stack does not own that cluster).
    Case("irsa-other-cluster-out-of-scope", ID, [
        PROVIDER, irsa(None, federated="arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/Q")],
         []),
    Case("irsa-no-provider-in-stack", ID, [irsa(None)], []),
    # Pod Identity: the association's role trusts pods.eks.amazonaws.com with both actions and matching tags.
    Case("pod-identity-exact", ID, [pod_identity_role(*BOTH, kubernetes_namespace="ml",
                                                      kubernetes_service_account="trainer", eks_cluster_name="prod"),
                                    association(), account(role_arn=None)], []),
    Case("pod-identity-without-tag-session", ID, [pod_identity_role("sts:AssumeRole"), association(),
                                                  account(role_arn=None)],
         ["trainer-assoc: Pod Identity association trainer-assoc (ml/trainer) names role trainer, whose trust does not "
          "allow pods.eks.amazonaws.com sts:TagSession: add a statement for Service pods.eks.amazonaws.com with "
          "sts:AssumeRole and sts:TagSession"]),
    Case("pod-identity-role-trusts-irsa-only", ID, [PROVIDER, irsa(), association(), account()],
         ["trainer-assoc: Pod Identity association trainer-assoc (ml/trainer) names role trainer, whose trust does not "
          "allow pods.eks.amazonaws.com sts:AssumeRole, sts:TagSession: add a statement for Service "
          "pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession"]),
    Case("pod-identity-tags-name-other-account", ID, [
        pod_identity_role(*BOTH, kubernetes_namespace="ml", kubernetes_service_account="notebook"), association(),
        account(role_arn=None)],
         ["trainer-assoc: Pod Identity association trainer-assoc (ml/trainer) names role trainer, whose trust's "
          "conditions (aws:RequestTag/...) do not admit namespace ml, ServiceAccount trainer and cluster prod: fix "
          "the tags"]),
    # The agent: on a cluster the stack owns, without Auto Mode, an association needs the eks-pod-identity-agent.
    *(Case(f"pod-identity-agent-{name}", ID, [
        R("aws:eks/cluster:Cluster", "prod", {"name": "prod", **cluster}), *extra,
        pod_identity_role(*BOTH, kubernetes_namespace="ml", kubernetes_service_account="trainer",
                          eks_cluster_name="prod"), association(), account(role_arn=None)], expected)
      for name, cluster, extra, expected in (
          ("missing", {}, [], ["trainer-assoc: Pod Identity association trainer-assoc (ml/trainer) gives no "
                               "credentials: the cluster has no eks-pod-identity-agent (not Auto Mode): add the "
                               "eks-pod-identity-agent add-on"]),
          ("add-on", {}, [R("aws:eks/addon:Addon", "agent", {"addonName": "eks-pod-identity-agent"})], []),
          ("auto-mode", {"computeConfig": {"enabled": True}}, [], []))),
    Case("pod-identity-missing-account", ID, [pod_identity_role(*BOTH), association(sa="trainr")],
         ["trainer-assoc: Pod Identity association trainer-assoc names ServiceAccount ml/trainr, which the stack does "
          "not create: create it or fix the association"]),
]


@params(CASES)
def test_workload_identity(case: Case) -> None:
    check(case)


def test_two_clusters_the_trust_federates_the_cluster_the_service_account_is_applied_to() -> None:
    """Blue/green (#30 identity_two-clusters): each cluster has its own issuer; the annotated ServiceAccount is
    applied (through its Kubernetes provider's kubeconfig) to green, so a trust federating blue's provider fails."""
    cluster = "aws:eks/cluster:Cluster"
    blue, green = R(cluster, "blue", {"name": "ml-blue"}), R(cluster, "green", {"name": "ml-green"})
    blue_oidc = R(PROVIDER.type, "blue-oidc", PROVIDER.inputs, deps={"url": ["blue"]})
    green_oidc = R(PROVIDER.type, "green-oidc", {**PROVIDER.inputs, "url": f"https://{OTHER}",
                                                 "arn": f"arn:aws:iam::111122223333:oidc-provider/{OTHER}"},
                   deps={"url": ["green"]})
    kube = R("pulumi:providers:kubernetes", "green-k8s", {"kubeconfig": json.dumps(
        {"clusters": [{"name": "ml-green", "cluster": {"server": "https://x.eks.amazonaws.com"}}]})},
             deps={"kubeconfig": ["green"]})
    sa = account()
    sa.provider = "green-k8s"
    base = [blue, green, blue_oidc, green_oidc, kube, sa]
    found = messages(ID, [*base, irsa()])
    assert len(found) == 1
    assert "ServiceAccount ml/trainer (sa-trainer) is applied to cluster green (ml-green)" in found[0]
    assert "role trainer's ARN" in found[0] and "cluster blue (ml-blue)" in found[0]
    assert messages(ID, [*base, irsa(host=OTHER, federated=f"arn:aws:iam::111122223333:oidc-provider/{OTHER}")]) \
        == []
    sa.provider = None  # the ambient kubeconfig: which cluster is not known, not judged
    assert messages(ID, [*base, irsa()]) == []
