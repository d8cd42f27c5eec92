"""Family `volume-zone` (#30, added from public EKS issues): a pod's zonal volume can be where its nodes are.

An EBS volume attaches only to an instance in its own Availability Zone (EBS user guide, "Attach an Amazon EBS
volume to an instance": https://docs.aws.amazon.com/ebs/latest/userguide/ebs-attaching-volume.html). A pod that
mounts one is placed only on a node of that zone; when no node the pod admits runs there it stays Pending
("volume node affinity conflict", "didn't find available persistent volumes to bind"). Public reports on EKS:
kubernetes/kubernetes#34583 (PersistentVolume on EBS created in zones with no nodes), kubernetes/kubernetes#39178,
kubeflow/kubeflow#7109 and awslabs/kubeflow-manifests#711 (notebooks on EKS), terraform-aws-modules/terraform-aws-eks
#1895 (StatefulSet pods on a multi-AZ group). `mlops-inv-volume-zone` follows each pod's PersistentVolumeClaims
(volumes and a StatefulSet's volumeClaimTemplates) to the zones its volume can be in, and compares them with the
zones of the node pools that admit the pod (its nodeSelector, required node affinity, tolerations: the placement
family's `why_not`, plus the pod's own zone selector):
- a StorageClass of the EBS CSI driver (`ebs.csi.aws.com`, in-tree `kubernetes.io/aws-ebs` migrated to it, or EKS
  Auto Mode's `ebs.csi.eks.amazonaws.com`) whose `allowedTopologies` names zones (keys `topology.ebs.csi.aws.com/zone`,
  `topology.kubernetes.io/zone`) none of which an admitted pool runs in (Kubernetes docs, Storage Classes, "Allowed topologies");
- the same class binding `Immediate` (the API default when `volumeBindingMode` is unset): the claim is provisioned
  before the scheduler picks a node, "without knowledge of the Pod's scheduling requirements" (Storage Classes,
  "Volume binding mode"), in any zone where a node runs the driver (external-provisioner without a selected node
  takes the topology of the nodes of the CSINodes the driver registered on: the pools where the stack's EBS CSI
  driver runs its node plugin, node_model.ebs_csi_runs; every pool when the stack installs none); a zone among those
  where no admitted pool runs is a finding.
  With `allowedTopologies` the provisioner asks for its zones as they are, checked against no node
  (kubernetes-csi/external-provisioner pkg/controller/topology.go GenerateAccessibilityRequirements, step 2:
  `requisiteTerms = flatten(allowedTopologies)`), so an allowed zone where no admitted pool runs is a finding even
  when the cluster has no node there. WaitForFirstConsumer provisions in the zone of the node picked for the pod;
- a static PersistentVolume bound by `volumeName`: its zone is its node affinity on a zone key, or the
  `availabilityZone` of the `aws:ebs/volume:Volume` its spec came from (aws-ebs-csi-driver
  examples/kubernetes/static-provisioning: `csi.volumeHandle` and node affinity on `topology.ebs.csi.aws.com/zone`);
  node affinity naming a zone other than the volume's is itself a finding (the attach fails: InvalidVolume.ZoneMismatch),
  judged without a node model (on EKS Auto Mode and self-managed nodes too). The zone labels
  `topology.kubernetes.io/zone` and `failure-domain.beta.kubernetes.io/zone` of a bound PersistentVolume constrain
  the scheduler like its node affinity (kubernetes pkg/scheduler/framework/plugins/volumezone/volume_zone.go
  getPVTopologies: the VolumeZone filter admits only nodes with matching labels), and a label naming a zone other than
  the volume's is a ZoneMismatch too. A PersistentVolume whose node affinity and labels allow a zone its volume is
  not in (none, or wider than the volume) lets the pod land where the volume cannot attach when a pool that admits
  the pod runs there (InvalidVolume.ZoneMismatch, kubernetes-sigs/aws-ebs-csi-driver#701), a finding. A claim without
  `volumeName` that a PersistentVolume pre-binds through `spec.claimRef` (name and namespace) is that volume's. A
  StatefulSet's ordinals are judged one by one, each with its own claims `<template>-<set>-<ordinal>` (a claim the
  stack pre-creates under that name, else the template's, pre-bound by claimRef or provisioned): volume_claims;
- a claim whose EBS volume the stack's EBS CSI driver serves (its class's provisioner, or a bound PersistentVolume of
  `ebs.csi.aws.com`) when the driver's node plugin runs on none of the pools that admit the pod (its node.nodeSelector
  or tolerations exclude them, node_model.ebs_csi_runs): no CSINode there names the driver, so the volume is never
  made or attached and the pod stays Pending, whatever the zones;
- all of a pod's claims together: the pod runs where every volume is, so the zones of its static volumes (and of its
  classes' allowedTopologies, WaitForFirstConsumer or Immediate: the volume is made in one of them) must meet in a
  zone of the pools that admit it.

Zone terms: the expressions of one node selector term (or StorageClass topology term) are ANDed, the terms ORed
(external-provisioner `flatten`; core/v1 NodeSelectorTerm), so two zone keys in one term allow the zones both allow;
so do two zone keys of one nodeSelector.

Pool zones: a managed node group's subnets (the `availabilityZone` of the `aws:ec2/subnet:Subnet` resources its
`subnetIds` holds, matched by ID: node_model.group_subnets; a value computed from more subnets than it holds, such as
`Output.all(*ids).apply(lambda ids: ids[:1])`, counts only the subnets it names); a Karpenter NodePool's
`topology.kubernetes.io/zone` In requirement. Not judged: a pool whose zones the stack does not know (subnets made
elsewhere, a NodePool without a zone requirement, pulumi-eks groups), a pod no pool admits (the placement family
reports it) or whose own zone selector excludes every zone of the pools it admits, claims of a class the stack does
not create, claims with `storageClassName: ""` that no PersistentVolume of the stack binds, non-EBS provisioners (EFS
is regional), and whether two Immediate claims of one pod, each made in a zone the pod can reach, land in the same
zone. A pod selecting `topology.ebs.csi.aws.com/zone` is admitted by the pools where the stack runs the EBS CSI driver
(node_model), its value read as a zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, Resource, Stack, as_list, stack_policy
from .invariants_cluster import PACK
from .invariants_index import NODE_GROUP, STORAGE_CLASS, Index, index, meta
from .invariants_placement import why_not
from .node_model import EBS_ZONE, NODE_POOLS, NodeType, ebs_csi_installed, ebs_csi_node_settings, group_subnets, node_types, unknown_nodes
from .pod_model import PodTemplate, pods
from .volume_claims import Claim, bound_pv, claim_sets

SUBNET = "aws:ec2/subnet:Subnet"
EBS_VOLUME = "aws:ebs/volume:Volume"
EBS_CSI_DRIVER = "ebs.csi.aws.com"
EBS_PROVISIONERS = (EBS_CSI_DRIVER, "kubernetes.io/aws-ebs", "ebs.csi.eks.amazonaws.com")
ZONE_KEYS = ("topology.kubernetes.io/zone", "topology.ebs.csi.aws.com/zone", "failure-domain.beta.kubernetes.io/zone")
LABEL_KEYS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
"""PersistentVolume labels the scheduler's VolumeZone filter enforces."""
Zones = frozenset[str]
Finding = tuple[Resource, str]


def subnet_zones(idx: Index, res: Resource, prop: str = "subnetIds") -> Zones | None:
    """The zones of the subnets `res.<prop>` holds (node_model.group_subnets); None when not known."""
    subnets = group_subnets(idx, res, prop)
    zones = [s.get("availabilityZone") for s in subnets or ()]
    return frozenset(zones) if subnets and all(isinstance(z, str) and z for z in zones) else None


def term_zones(terms: Any, key_field: str = "matchExpressions") -> Zones | None:
    """Zones a list of node selector terms (or StorageClass topology terms) allows; None: any zone. A term without
    a zone requirement allows every zone; the expressions of a term are ANDed (two zone keys: the zones both allow),
    the terms ORed."""
    found: set[str] = set()
    for term in as_list(terms):
        exprs = [e for e in as_list(term.get(key_field) if isinstance(term, Mapping) else None)
                 if isinstance(e, Mapping) and e.get("key") in ZONE_KEYS]
        zoned = [e for e in exprs if e.get("operator", "In") == "In"]
        if not zoned:
            return None
        sets = [as_list(e.get("values")) for e in zoned]
        if any(not values or any(not isinstance(v, str) for v in values) for values in sets):
            return None
        found.update(frozenset.intersection(*(frozenset(values) for values in sets)))
    return frozenset(found) if as_list(terms) else None


def pool_zones(idx: Index) -> dict[str, Zones | None]:
    """NodeType.pool -> the zones its nodes run in (None: not known here)."""
    zones: dict[str, Zones | None] = {}
    for group in idx.of_type(NODE_GROUP):
        zones[f"node group {group.get('nodeGroupName') or group.name}"] = subnet_zones(idx, group)
    for pool in idx.of_type(*NODE_POOLS):
        reqs = [r for r in as_list(pool.get("spec", "template", "spec", "requirements")) if isinstance(r, Mapping)]
        zones[f"NodePool {meta(pool)[1] or pool.name}"] = term_zones([{"matchExpressions": reqs}])
    return zones


def pod_zone_filter(spec: Mapping[str, Any]) -> Zones | None:
    """Zones the pod itself asks for (nodeSelector or required node affinity on a zone key); None: any."""
    selector = spec.get("nodeSelector")
    keyed = [frozenset({v}) for k, v in (selector.items() if isinstance(selector, Mapping) else []) if k in ZONE_KEYS
             and isinstance(v, str)]
    chosen = frozenset.intersection(*keyed) if keyed else None  # every zone key must hold: their values must agree
    affinity = spec.get("affinity")
    node_aff = affinity.get("nodeAffinity") if isinstance(affinity, Mapping) else None
    required = node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") if isinstance(node_aff, Mapping) \
        else None
    terms = required.get("nodeSelectorTerms") if isinstance(required, Mapping) else None
    from_terms = term_zones(terms) if terms else None
    if chosen is not None and from_terms is not None:
        return chosen & from_terms
    return chosen if chosen is not None else from_terms


def default_class(idx: Index) -> Resource | None:
    for sc in idx.of_type(STORAGE_CLASS):
        if str((sc.get("metadata", "annotations") or {}).get("storageclass.kubernetes.io/is-default-class")) == "true":
            return sc
    return None


def label_zones(pv: Resource) -> Zones | None:
    """Zones a PersistentVolume's zone labels allow (None: no zone label). The scheduler's VolumeZone filter enforces
    `topology.kubernetes.io/zone` and the beta `failure-domain.beta.kubernetes.io/zone` on a bound PV's node
    (kubernetes pkg/scheduler/framework/plugins/volumezone/volume_zone.go getPVTopologies; a value may list zones
    joined by `__`, volumehelpers.LabelZonesToSet); both keys must hold."""
    labels = pv.get("metadata", "labels")
    sets = [frozenset(v.split("__")) for k, v in (labels.items() if isinstance(labels, Mapping) else [])
            if k in LABEL_KEYS and isinstance(v, str) and v]
    return frozenset.intersection(*sets) if sets else None


def volume_zones(idx: Index, pv: Resource) -> tuple[Zones | None, Zones | None, str | None]:
    """(zones of a static PersistentVolume, the zones its node affinity and zone labels allow (None: no zone
    constraint), a ZoneMismatch message or None)."""
    affinity = term_zones(pv.get("spec", "nodeAffinity", "required", "nodeSelectorTerms"))
    labels = label_zones(pv)
    allowed = affinity & labels if affinity is not None and labels is not None else (
        affinity if affinity is not None else labels)
    volumes = [v for u in pv.property_dependencies.get("spec", ()) if (v := idx.get(u)) and v.type == EBS_VOLUME]
    az = {v.get("availabilityZone") for v in volumes}
    ebs = frozenset(z for z in az if isinstance(z, str)) if volumes and all(isinstance(z, str) for z in az) else None
    if allowed is not None and ebs is not None and not allowed & ebs:
        how, pinned = ("node affinity", affinity) if affinity is not None and not affinity & ebs else \
            ("zone label", labels)
        return ebs, allowed, (
            f"PersistentVolume {meta(pv)[1] or pv.name} pins {how} to {_zones(pinned or ())} but its EBS volume "
            f"{', '.join(v.name for v in volumes)} is in {_zones(ebs)}: the attach fails (InvalidVolume.ZoneMismatch); "
            f"take the {how} from the volume's availabilityZone")
    return (ebs if ebs is not None else allowed), allowed, None


def _zones(zs: Iterable[str]) -> str:
    return ", ".join(sorted(zs)) or "no zone"


def _pools(types: list[NodeType]) -> str:
    return ", ".join(sorted({nt.pool for nt in types}))


def ebs_class(idx: Index, spec: Mapping[str, Any]) -> Resource | None:
    """The EBS StorageClass that provisions a dynamic claim (its class, or the default class when unset)."""
    cls_name = spec.get("storageClassName")
    if cls_name == "" or cls_name is UNKNOWN:
        return None
    sc = idx.unnamespaced.get(("StorageClass", cls_name)) if isinstance(cls_name, str) else default_class(idx)
    return sc if sc is not None and sc.get("provisioner") in EBS_PROVISIONERS else None


def claim_pins(idx: Index, tpl: PodTemplate, claim: Claim) -> Zones | None:
    """The zones a claim confines its pod to, when known: a static volume's zone, or the allowedTopologies of its
    class (WaitForFirstConsumer: the scheduler picks a node they admit; Immediate: the provisioner makes the volume in
    one of them). None: not known, or not confining."""
    bound = bound_pv(idx, tpl.namespace, claim)
    if bound is not None:
        return volume_zones(idx, bound[1])[0] if bound[1] is not None else None
    sc = ebs_class(idx, claim.spec)  # WaitForFirstConsumer or Immediate: the volume is made in an allowed zone
    return term_zones(sc.get("allowedTopologies"), "matchLabelExpressions") if sc is not None else None


def claim_findings(idx: Index, tpl: PodTemplate, admitted: list[NodeType], where: Zones, cluster: Zones | None,
                   claim: Claim) -> Iterator[str]:
    """Why the claim's volume may be in a zone where no admitted pool runs (the pod's zones: `where`)."""
    pools, name = _pools(admitted), claim.name
    bound = bound_pv(idx, tpl.namespace, claim)
    if bound is not None:
        pv_name, pv = bound
        if pv is None:
            return
        zones, allowed, _ = volume_zones(idx, pv)  # a ZoneMismatch: mismatch_findings, whatever the nodes
        if zones is not None and not zones & where:
            yield (f"{tpl.what} mounts claim {name}, bound to PersistentVolume {pv_name} in {_zones(zones)}, but the "
                   f"node pools that admit the pod ({pools}) run only in {_zones(where)}: the pod stays Pending "
                   "(volume node affinity conflict); make the volume in a zone of those pools, or let a pool the pod "
                   "admits run in its zone")
        elif zones is not None and (allowed is None or allowed & zones) and (
                risky := (where & allowed if allowed is not None else where) - zones):
            why = ("has no node affinity on a zone key, nor a zone label" if allowed is None else
                   f"allows {_zones(allowed)} by its node affinity or zone labels")
            yield (f"{tpl.what} mounts claim {name}, bound to PersistentVolume {pv_name}, whose EBS volume is in "
                   f"{_zones(zones)}, but the PersistentVolume {why}: the scheduler may "
                   f"place the pod in {_zones(risky)} (the node pools that admit it, {pools}, run there), where "
                   "the volume cannot attach (InvalidVolume.ZoneMismatch, pod stuck in ContainerCreating); set "
                   f"spec.nodeAffinity on topology.ebs.csi.aws.com/zone In [{_zones(zones)}]")
        return
    sc = ebs_class(idx, claim.spec)
    if sc is None:
        return
    sc_name = meta(sc)[1] or sc.name
    allowed = term_zones(sc.get("allowedTopologies"), "matchLabelExpressions")
    if allowed is not None and not allowed & where:
        yield (f"{tpl.what} mounts claim {name} of StorageClass {sc_name}, whose allowedTopologies admit only "
               f"{_zones(allowed)}, but the node pools that admit the pod ({pools}) run only in {_zones(where)}: the "
               "EBS volume cannot be made where the pod can run (pod Pending); list the pools' zones in "
               "allowedTopologies, or run a pool the pod admits in those zones")
        return
    if sc.get("volumeBindingMode") not in (None, "Immediate"):
        return
    # Immediate: allowedTopologies are asked for as they are (external-provisioner flatten, no node check); without
    # them, the zones of the nodes that run the driver
    candidates = allowed if allowed is not None else cluster
    if candidates is not None and candidates - where:
        origin = "its allowedTopologies" if allowed is not None else "any zone with nodes"
        yield (f"{tpl.what} mounts claim {name} of StorageClass {sc_name}, which binds Immediate: the EBS volume "
               f"is made before the pod is scheduled, in {origin} ({_zones(candidates)}), but the node pools that "
               f"admit the pod ({pools}) run only in {_zones(where)}; a volume made in {_zones(candidates - where)} "
               "never attaches (pod Pending); set volumeBindingMode: WaitForFirstConsumer")


def mismatch_findings(idx: Index) -> Iterator[Finding]:
    """A bound PersistentVolume whose node affinity or zone labels exclude its EBS volume's zone: needs no node model
    (judged on EKS Auto Mode and self-managed nodes too)."""
    for tpl in pods(idx.stack).templates:
        seen = set()
        for claim in (c for claims in claim_sets(idx, tpl) for c in claims):
            bound = bound_pv(idx, tpl.namespace, claim)
            mismatch = volume_zones(idx, bound[1])[2] if bound is not None and bound[1] is not None else None
            if mismatch and (message := f"{tpl.what} mounts claim {claim.name}: {mismatch}") not in seen:
                seen.add(message)
                yield tpl.res, message


def driver_zones(idx: Index, types: list[NodeType], zones: dict[str, Zones | None]) -> Zones | None:
    """Zones where an Immediate claim without allowedTopologies may be provisioned: those of the pools where the
    stack's EBS CSI driver runs its node plugin (external-provisioner pkg/controller/topology.go
    aggregateTopologies: the nodes carrying the topology keys of a CSINode the driver registered on), every pool
    when the stack installs no driver; None: a pool's zones are not known."""
    runs = [nt for nt in types if EBS_ZONE in nt.labels] if ebs_csi_installed(idx) else types
    known = [zones.get(nt.pool) for nt in runs]
    return frozenset().union(*(z for z in known if z is not None)) if all(z is not None for z in known) else None


def driver_nowhere(idx: Index, tpl: PodTemplate, admitted: list[NodeType], mounted: list[Claim]) -> Iterator[str]:
    """Claims of a pod whose EBS volume the stack's EBS CSI driver serves (a class of `ebs.csi.aws.com` or the
    migrated in-tree provisioner, a bound PersistentVolume of that driver) when the driver's node plugin runs on none
    of the pools that admit the pod: no CSINode there names the driver, so external-provisioner has no topology to
    make the volume in (WaitForFirstConsumer) and nothing can attach and mount it (any mode): the pod stays Pending."""
    if not ebs_csi_installed(idx) or any(EBS_ZONE in nt.labels for nt in admitted):
        return
    for claim in mounted:
        bound = bound_pv(idx, tpl.namespace, claim)
        if bound is not None:
            pv = bound[1]
            if pv is None or pv.get("spec", "csi", "driver") != EBS_CSI_DRIVER:
                continue
            what = f"claim {claim.name}, bound to PersistentVolume {bound[0]} of {EBS_CSI_DRIVER}"
        else:
            sc = ebs_class(idx, claim.spec)
            if sc is None or sc.get("provisioner") not in (EBS_CSI_DRIVER, "kubernetes.io/aws-ebs"):
                continue  # EKS Auto Mode's provisioner: its own node plugin, not the stack's driver
            what = f"claim {claim.name} of StorageClass {meta(sc)[1] or sc.name}"
        yield (f"{tpl.what} mounts {what}, but the stack's EBS CSI driver runs its node plugin on none of the node "
               f"pools that admit the pod ({_pools(admitted)}): {_driver_placement(idx)}; with no CSINode naming the "
               "driver there, the EBS volume is never made or attached and the pod stays Pending; let the driver's "
               "node.nodeSelector and tolerations admit those pools")


def _driver_placement(idx: Index) -> str:
    """The EBS CSI driver's node placement settings, as the stack writes them (add-on configuration, chart values)."""
    parts = []
    for node in ebs_csi_node_settings(idx) or []:
        selector = node.get("nodeSelector") or {}
        text = (f"node.nodeSelector {{{', '.join(f'{k}: {v}' for k, v in selector.items())}}}"
                if isinstance(selector, Mapping) and selector else "no node.nodeSelector")
        if node.get("tolerateAllTaints", True) is False:
            text += f", tolerateAllTaints false, node.tolerations {node.get('tolerations', 'default')}"
        parts.append(text)
    return "; ".join(parts) or "its settings"


def volume_zone_findings(idx: Index) -> Iterator[Finding]:
    yield from mismatch_findings(idx)
    types = list(node_types(idx))
    if not types or unknown_nodes(idx):
        return
    zones = pool_zones(idx)
    cluster = driver_zones(idx, types, zones)
    for tpl in pods(idx.stack).templates:
        sets = list(claim_sets(idx, tpl))
        if not sets:
            continue
        admitted = [nt for nt in types if why_not(tpl.spec, nt) is None]
        if not admitted:
            continue
        nowhere = list(dict.fromkeys(m for mounted in sets for m in driver_nowhere(idx, tpl, admitted, mounted)))
        if nowhere:  # no volume is made or attached at all: its zone is moot
            yield from ((tpl.res, message) for message in nowhere)
            continue
        pool_sets = [zones.get(nt.pool) for nt in admitted]
        if any(z is None for z in pool_sets):
            continue
        where = frozenset().union(*(z for z in pool_sets if z is not None))
        wanted = pod_zone_filter(tpl.spec)
        where = where & wanted if wanted is not None else where
        if not where:  # the pod's own zone selector excludes every pool it admits: a placement problem, not a volume's
            continue
        seen: set[str] = set()  # a StatefulSet's ordinals share their dynamic claims: each finding once
        for mounted in sets:
            for message in pod_findings(idx, tpl, admitted, where, cluster, mounted):
                if message not in seen:
                    seen.add(message)
                    yield tpl.res, message


def pod_findings(idx: Index, tpl: PodTemplate, admitted: list[NodeType], where: Zones, cluster: Zones | None,
                 mounted: list[Claim]) -> Iterator[str]:
    """Findings of one pod's claims, alone, then together."""
    alone = False
    pinned: list[tuple[str, Zones]] = []
    for claim in mounted:
        for message in claim_findings(idx, tpl, admitted, where, cluster, claim):
            alone = True
            yield message
        pins = claim_pins(idx, tpl, claim)
        if pins is not None:
            pinned.append((claim.name, pins))
    # together: the pod runs where all its volumes are (each claim alone may be fine)
    if not alone and len(pinned) > 1 and not where.intersection(*(z for _, z in pinned)):
        each_zone = "; ".join(f"claim {n} in {_zones(z)}" for n, z in pinned)
        yield (f"{tpl.what} mounts volumes that share no zone where a node pool that admits the pod "
               f"({_pools(admitted)}, in {_zones(where)}) runs ({each_zone}): no node can attach them "
               "all and the pod stays Pending (volume node affinity conflict); put the volumes in one zone")


@stack_policy(
    "mlops-inv-volume-zone",
    description="Every zonal (EBS) volume a pod mounts can be in a zone where a node pool that admits the pod runs: "
                "the StorageClass's allowedTopologies meet the pools' zones, an Immediate-binding class cannot make "
                "the volume in a zone the pod cannot reach, a static PersistentVolume (its node affinity and zone "
                "labels, its aws:ebs/volume:Volume) is in one of those zones, its affinity and labels admit only its "
                "volume's zone where the pod can run, and all the volumes of one pod share such a zone.",
    severity="high", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Use volumeBindingMode: WaitForFirstConsumer, list the pools' zones in allowedTopologies, create the "
                "static volume in a zone of the pod's pools, or run a pool the pod admits in the volume's zone.",
)
def volume_zone(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return volume_zone_findings(index(stack))
