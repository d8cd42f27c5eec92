"""Cluster-side invariants: what a workload needs the cluster to run for it, in the stack that owns the cluster.

Each names both ends of the broken relation: the object that needs something and the thing that is missing or
misconfigured. The chart and add-on tables below say which release or add-on provides what; they were read from
the charts' values.yaml at the versions in mlops_infra/config/versions.py where the platform installs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .core import PackName, Resource, Stack, stack_policy
from .invariants_index import (
    CLUSTER_CONFIG,
    HPA,
    INGRESS,
    NETWORK_POLICY,
    NODE_GROUP,
    POD_IDENTITY,
    WORKLOADS,
    Index,
    cluster_scoped,
    doc,
    names,
    pod_spec,
    release_namespace,
    release_values,
    stack_level,
    walk,
)
from .node_model import ebs_csi_installed

PACK: PackName = "mlops-invariants"

# Charts whose CNI enforces NetworkPolicy without further settings (Calico via the Tigera operator, Cilium).
ENFORCING_CNI_CHARTS = ("tigera-operator", "calico", "cilium")
AUTOSCALER_CHARTS = ("cluster-autoscaler", "karpenter")
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def vpc_cni_enforces(addon: Resource) -> bool | None:
    """amazon-vpc-cni-k8s add-on schema (v1.14+): `enableNetworkPolicy: "true"` in configurationValues."""
    values = doc(addon.get("configurationValues"))
    if values is None:
        return False
    if not isinstance(values, Mapping):
        return None
    flag = values.get("enableNetworkPolicy")
    return str(flag).lower() == "true" if flag is not None else False


@stack_policy(
    "mlops-inv-networkpolicy-enforced",
    description="A stack that creates NetworkPolicies has a CNI that enforces them: the vpc-cni add-on with "
                "enableNetworkPolicy \"true\", or Calico/Cilium.",
    severity="high", pack=PACK,
    controls=("CIS-EKS 4.3.2", "SOC2 CC6.6", "ISO27001 A.8.22"),
    remediation="Set configurationValues '{\"enableNetworkPolicy\": \"true\"}' on the aws.eks.Addon vpc-cni "
                "(EksClusterConfig addon config), or install an enforcing CNI.",
    config=CLUSTER_CONFIG,
)
def networkpolicy_enforced(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = cluster_scoped(stack, config)
    policies = idx.of_type(NETWORK_POLICY)
    if not policies or idx.releases(*ENFORCING_CNI_CHARTS):
        return
    addon = idx.addons.get("vpc-cni")
    if addon is None:
        yield stack_level(), (f"NetworkPolicies {names(policies)} are not enforced: the stack has no vpc-cni add-on "
                              "and no other enforcing CNI")
    elif vpc_cni_enforces(addon) is False:
        yield addon, (f"vpc-cni add-on does not enforce NetworkPolicies (configurationValues has no "
                      f"enableNetworkPolicy \"true\"), but the stack creates {len(policies)}: {names(policies)}")


def _has_identity(idx: Index, release: Resource) -> bool:
    """The release's pods get AWS credentials: an IRSA role annotation in its values, a ServiceAccount it names
    (`serviceAccount.name`, `rbac.serviceAccount.name`) that the stack annotates with a role, or a Pod Identity
    association in its namespace."""
    ns = release_namespace(release)
    for _, key, item in walk(release_values(release)):
        if key == ROLE_ANNOTATION and item:
            return True
        if key == "serviceAccount" and isinstance(item, Mapping) and isinstance(item.get("name"), str):
            account = idx.k8s.get(("ServiceAccount", ns, item["name"]))
            if account is not None and account.get("metadata", "annotations", ROLE_ANNOTATION):
                return True
    return any(a.get("namespace") == ns for a in idx.of_type(POD_IDENTITY))


@stack_policy(
    "mlops-inv-scale-from-zero-autoscaler",
    description="A managed node group that starts at zero nodes (minSize 0) has an autoscaler in the stack "
                "(cluster-autoscaler or Karpenter, with AWS credentials) that can add its first node.",
    severity="high", pack=PACK,
    controls=("SOC2 A1.1", "ISO27001 A.8.6"),
    remediation="Install cluster-autoscaler (auto-discovery by cluster tag, IRSA or Pod Identity) or Karpenter, "
                "or give the pool minSize >= 1.",
    config=CLUSTER_CONFIG,
)
def scale_from_zero(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = cluster_scoped(stack, config)
    autoscalers = idx.releases(*AUTOSCALER_CHARTS)
    with_iam = [r for r in autoscalers if _has_identity(idx, r)]
    for group in idx.of_type(NODE_GROUP):
        low, high = group.get("scalingConfig", "minSize"), group.get("scalingConfig", "maxSize")
        if low != 0 or not isinstance(high, int) or high <= 0:
            continue
        if not autoscalers:
            yield group, (f"node group scales from zero (minSize 0, maxSize {high}) but the stack has no "
                          "cluster-autoscaler or Karpenter release to add its first node")
        elif not with_iam:
            yield group, (f"node group scales from zero (minSize 0) but autoscaler release {names(autoscalers)} has "
                          "no AWS identity (no eks.amazonaws.com/role-arn in its values, no Pod Identity association "
                          "in its namespace)")


# Ingress class -> charts whose controller serves it, and how a release names its class.
def _alb_class(values: Mapping[str, Any]) -> str:
    # aws-load-balancer-controller chart values.yaml (v2.x): ingressClass default "alb".
    cls = values.get("ingressClass")
    return cls if isinstance(cls, str) and cls else "alb"


def _nginx_class(values: Mapping[str, Any]) -> str:
    # ingress-nginx chart values.yaml: controller.ingressClassResource.name default "nginx".
    cls = (values.get("controller") or {}).get("ingressClassResource", {}).get("name") if isinstance(
        values.get("controller"), Mapping) else None
    return cls if isinstance(cls, str) and cls else "nginx"


def _traefik_class(values: Mapping[str, Any]) -> str:
    return "traefik"


INGRESS_CONTROLLERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "aws-load-balancer-controller": _alb_class, "ingress-nginx": _nginx_class, "traefik": _traefik_class}


def ingress_class(ingress: Resource) -> str | None:
    cls = ingress.get("spec", "ingressClassName")
    if isinstance(cls, str):
        return cls
    annotated = ingress.get("metadata", "annotations", "kubernetes.io/ingress.class")
    return annotated if isinstance(annotated, str) else None


@stack_policy(
    "mlops-inv-ingress-controller",
    description="Every Ingress names a class whose controller is in the stack (alb -> AWS Load Balancer "
                "Controller, nginx -> ingress-nginx); otherwise it never gets an address and Pulumi's await times out.",
    severity="high", pack=PACK,
    controls=("SOC2 A1.1",),
    remediation="Install the controller for the class (aws-load-balancer-controller with its IAM policy for alb), "
                "or turn the Ingress off.",
    config=CLUSTER_CONFIG,
)
def ingress_controller(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = cluster_scoped(stack, config)
    served: dict[str, Resource] = {}
    for chart, class_of in INGRESS_CONTROLLERS.items():
        for release in idx.releases(chart):
            served.setdefault(class_of(release_values(release)), release)
    for ingress in idx.of_type(INGRESS):
        cls = ingress_class(ingress)
        if cls is None or cls in served:
            continue
        wanted = "aws-load-balancer-controller" if cls == "alb" else f"a controller for class {cls!r}"
        yield ingress, f"Ingress class {cls!r} has no controller in the stack: install {wanted}"


METRICS_SERVER = ("metrics-server",)
CUSTOM_ADAPTERS = ("prometheus-adapter", "keda", "k8s-cloudwatch-adapter")
EXTERNAL_ADAPTERS = ("keda", "prometheus-adapter", "k8s-cloudwatch-adapter")
API_GROUPS = {"Resource": "metrics.k8s.io", "ContainerResource": "metrics.k8s.io",
              "Pods": "custom.metrics.k8s.io", "Object": "custom.metrics.k8s.io", "External": "external.metrics.k8s.io"}


def _metric_sources(idx: Index) -> dict[str, str]:
    """API group -> what serves it in the stack."""
    found: dict[str, str] = {}
    if "metrics-server" in idx.addons:
        found["metrics.k8s.io"] = f"add-on {idx.addons['metrics-server'].name}"
    for group, charts in (("metrics.k8s.io", METRICS_SERVER), ("custom.metrics.k8s.io", CUSTOM_ADAPTERS),
                          ("external.metrics.k8s.io", EXTERNAL_ADAPTERS)):
        for release in idx.releases(*charts):
            found.setdefault(group, f"release {release.name}")
    for api in idx.of_type("kubernetes:apiregistration.k8s.io/v1:APIService"):
        group = api.get("spec", "group")
        if isinstance(group, str):
            found.setdefault(group, f"APIService {api.name}")
    return found


@stack_policy(
    "mlops-inv-hpa-metrics-source",
    description="Every HorizontalPodAutoscaler has a metrics source for its metric types: metrics-server for "
                "Resource metrics, an adapter (prometheus-adapter, KEDA) for Pods/Object/External metrics.",
    severity="medium", pack=PACK,
    controls=("SOC2 A1.1",),
    remediation="Install metrics-server (the EKS add-on metrics-server or the pinned chart); for custom or "
                "external metrics, install prometheus-adapter or KEDA.",
    config=CLUSTER_CONFIG,
)
def hpa_metrics(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = cluster_scoped(stack, config)
    sources = _metric_sources(idx)
    for hpa in idx.of_type(HPA):
        metrics = hpa.get("spec", "metrics")
        kinds = sorted({str(m.get("type")) for m in metrics if isinstance(m, Mapping)} if isinstance(metrics, list)
                       else {"Resource"})  # no metrics: the default is CPU utilisation (a Resource metric)
        target = hpa.get("spec", "scaleTargetRef", "name")
        for kind in kinds:
            group = API_GROUPS.get(str(kind))
            if group is not None and group not in sources:
                what = "metrics-server" if group == "metrics.k8s.io" else f"adapter serving {group}"
                yield hpa, (f"HPA for {target} uses {kind} metrics but the stack has no {what}: "
                            "it never scales")


# --- storage classes ---------------------------------------------------------------------------------------------

EBS_PROVISIONERS = ("ebs.csi.aws.com", "kubernetes.io/aws-ebs")  # the in-tree one migrates to the CSI driver (1.23+)
STORAGE_KEYS = ("storageClassName", "storageClass")


def storage_class_uses(idx: Index) -> Iterable[tuple[Resource, str, Any]]:
    """(resource, where, class name) for every PVC, volumeClaimTemplate and chart value that names a class."""
    for pvc in idx.of_type("kubernetes:core/v1:PersistentVolumeClaim"):
        yield pvc, "PVC", pvc.get("spec", "storageClassName")
    for sts in idx.of_type("kubernetes:apps/v1:StatefulSet"):
        for i, tpl in enumerate(sts.get("spec", "volumeClaimTemplates") or []):
            if isinstance(tpl, Mapping):
                yield sts, f"volumeClaimTemplates[{i}]", (tpl.get("spec") or {}).get("storageClassName")
    for workload in idx.of_type(*WORKLOADS):  # generic ephemeral volumes (core/v1 EphemeralVolumeSource)
        for vol in pod_spec(workload).get("volumes") or []:
            claim = (vol.get("ephemeral") or {}).get("volumeClaimTemplate") if isinstance(vol, Mapping) else None
            if isinstance(claim, Mapping) and isinstance(claim.get("spec"), Mapping):
                yield workload, f"ephemeral volume {vol.get('name')}", claim["spec"].get("storageClassName")
    for release in idx.of_type("kubernetes:helm.sh/v3:Release"):
        for path, key, item in walk(release_values(release)):
            if key in STORAGE_KEYS and isinstance(item, str):
                yield release, f"value {path}", item


def _created_classes(idx: Index) -> dict[str, Resource]:
    created = {}
    for sc in idx.of_type("kubernetes:storage.k8s.io/v1:StorageClass"):
        name = sc.get("metadata", "name")
        if isinstance(name, str):
            created[name] = sc
    ebs = idx.addons.get("aws-ebs-csi-driver")
    values = doc(ebs.get("configurationValues")) if ebs is not None else None
    if ebs is not None and isinstance(values, Mapping) and (values.get("defaultStorageClass") or {}).get("enabled"):
        created["ebs-csi-default-sc"] = ebs  # aws-ebs-csi-driver add-on schema: defaultStorageClass.enabled
    return created


@stack_policy(
    "mlops-inv-storage-class-exists",
    description="Every StorageClass a PVC, a volumeClaimTemplate or a chart value names is created by the stack "
                "(EKS's gp2 counts unless the stack removes it), and EBS-backed classes have the EBS CSI driver.",
    severity="high", pack=PACK,
    controls=("SOC2 A1.1",),
    remediation="Create the StorageClass (encrypted gp3 on ebs.csi.aws.com, WaitForFirstConsumer) in the cluster "
                "stack, or name one that exists; install the aws-ebs-csi-driver add-on for EBS classes.",
    config={**CLUSTER_CONFIG, "eksDefaultStorageClasses": {
        "type": "array", "items": {"type": "string"}, "default": ["gp2"],
        "description": "Classes EKS creates itself; set [] when the stack removes gp2."}},
)
def storage_class_exists(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    idx = cluster_scoped(stack, config)
    created = _created_classes(idx)
    builtin = set(config.get("eksDefaultStorageClasses") or [])
    ebs_driver = ebs_csi_installed(idx)
    for pv in idx.of_type("kubernetes:core/v1:PersistentVolume"):  # static volumes: the driver attaches them too
        if not ebs_driver and (pv.get("spec", "csi", "driver") == "ebs.csi.aws.com"
                               or pv.get("spec", "awsElasticBlockStore") is not None):  # in-tree: migrated to CSI
            yield pv, (f"PersistentVolume {pv.get('metadata', 'name') or pv.name} is an EBS volume of the CSI driver "
                       "ebs.csi.aws.com but the stack has no aws-ebs-csi-driver add-on to attach it: pods that mount "
                       "it stay in ContainerCreating")
    for res, where, cls in storage_class_uses(idx):
        if not isinstance(cls, str) or cls in ("", "-"):
            continue  # unset or "": the default class / no dynamic provisioning
        if cls not in created and cls not in builtin:
            yield res, f"{where} names StorageClass {cls!r}, which the stack does not create: the claim stays Pending"
        elif not ebs_driver and (cls in builtin or created[cls].get("provisioner") in EBS_PROVISIONERS):
            yield res, (f"{where} names EBS StorageClass {cls!r} but the stack has no aws-ebs-csi-driver add-on "
                        "to provision it")
