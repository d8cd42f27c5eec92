"""Family `placement` (#30 family 2): every pod can be placed and can start.

- `mlops-inv-pod-fits-node`: some node type of the cluster's pools admits the pod (nodeSelector, required node
  affinity, the pools' NoSchedule/NoExecute taints tolerated) and has the allocatable for its requests (node_model:
  instance catalogue minus the EKS AMI reservation); each extended resource it requests (`nvidia.com/gpu`,
  `vpc.amazonaws.com/efa`) is advertised there by a device plugin DaemonSet that itself can run on that node type
  (or a gpu-operator / device-plugin release, or Bottlerocket's NVIDIA variant, which runs the plugin itself).
  Judged only in the stack that owns the cluster and knows its pools: a consumer stack, self-managed groups and EKS
  Auto Mode leave node facts unknown, and nothing is judged there. DaemonSets are not judged for fit (they run on
  the nodes that admit them); pods a Fargate profile selects are not judged.
- `mlops-inv-pod-reference`: every Secret, ConfigMap, ServiceAccount and PersistentVolumeClaim a pod names exists
  or is produced in its namespace (Secret/ExternalSecret target/cert-manager Certificate/SecretProviderClass,
  chart-created ServiceAccounts, `default` ServiceAccount and `kube-root-ca.crt` everywhere); chart values
  `existingSecret`/`configSecret` too (this folds in the former `mlops-inv-secret-reference`). Optional references
  are not judged, nor namespaces where an unrendered chart or an operator may create the object (pod_model).
- Pod Security of the namespace is `mlops-k8s-pod-security-admission` (psa_checks.py), listed in the family.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, Resource, Stack, as_list, stack_policy
from .invariants_cluster import PACK
from .invariants_index import (
    CLUSTER_CONFIG,
    Index,
    index,
    meta,
    produced_secrets,
    release_namespace,
    release_values,
    walk,
)
from .invariants_workloads import ALLOWLIST, CHART_SECRET_KEYS, allowed, secret_refs, service_accounts
from .node_model import EBS_ZONE, NodeType, may_carry, node_types, tolerated, unknown_nodes
from .pod_model import INSTALLERS, Pods, PodTemplate, others, pods

GPU, EFA = "nvidia.com/gpu", "vpc.amazonaws.com/efa"
PLUGIN_IMAGES = {GPU: ("k8s-device-plugin", "nvidia-device-plugin", "gpu-operator"), EFA: ("aws-efa-k8s-device-plugin",)}
PLUGIN_WORDS = {GPU: ("nvidia-device-plugin", "k8s-device-plugin", "gpu-operator"), EFA: ("efa-k8s-device-plugin",)}
Finding = tuple[Resource, str]
_QTY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
          "Ti": 2**40}


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity as a number (cores, bytes, count); None when unknown."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _QTY.match(value) if isinstance(value, str) else None
    if match is None or match.group(2) not in _UNITS:
        return None
    return float(match.group(1)) * _UNITS[match.group(2)]


def pod_requests(spec: Mapping[str, Any]) -> dict[str, float]:
    """Effective requests: the sum over app containers and native sidecars, or the largest init container (requests
    default to limits when unset)."""
    def of(c: Mapping[str, Any]) -> dict[str, float]:
        res = c.get("resources") if isinstance(c.get("resources"), Mapping) else {}
        out: dict[str, float] = {}
        for block in ("limits", "requests"):  # requests override limits
            for key, val in ((res or {}).get(block) or {}).items() if isinstance((res or {}).get(block), Mapping) \
                    else []:
                q = quantity(val)
                if q is not None:
                    out[str(key)] = q
        return out

    total: dict[str, float] = {}
    inits: list[dict[str, float]] = []
    for c in as_list(spec.get("initContainers")):
        if isinstance(c, Mapping) and c.get("restartPolicy") != "Always":
            inits.append(of(c))
    running = [c for c in as_list(spec.get("initContainers")) if isinstance(c, Mapping)
               and c.get("restartPolicy") == "Always"]
    for c in [*running, *as_list(spec.get("containers"))]:
        if isinstance(c, Mapping):
            for k, v in of(c).items():
                total[k] = total.get(k, 0) + v
    for init in inits:
        for k, v in init.items():
            total[k] = max(total.get(k, 0), v)
    return total


def _label_ok(nt: NodeType, key: str, test: Any) -> bool:
    """Whether a node of this type may carry a label satisfying `test(value or None)`."""
    return may_carry(nt.labels, nt.requirements if nt.pool.startswith("NodePool ") else None, key, test)


def _expr_ok(nt: NodeType, expr: Mapping[str, Any]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in as_list(expr.get("values"))]
    if not isinstance(key, str):
        return True
    tests = {"In": lambda v: v is not None and str(v) in values, "NotIn": lambda v: v is None or str(v) not in values,
             "Exists": lambda v: v is not None, "DoesNotExist": lambda v: v is None}
    return _label_ok(nt, key, tests[op]) if op in tests else True


def why_not(spec: Mapping[str, Any], nt: NodeType) -> str | None:
    """Why pods of `spec` cannot go to nodes of `nt` (None: they can)."""
    selector = spec.get("nodeSelector")
    for key, value in (selector.items() if isinstance(selector, Mapping) else []):
        if value is not UNKNOWN and not _label_ok(nt, str(key), lambda v, want=value: v == want):
            hint = (" (the EBS CSI driver's node plugin sets it; the stack installs no driver that runs on these "
                    "nodes)") if key == EBS_ZONE else ""
            return f"it lacks label {key}={value}{hint}"
    terms = spec.get("affinity", {}).get("nodeAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution", {}
                                                                 ).get("nodeSelectorTerms") if isinstance(
        spec.get("affinity"), Mapping) and isinstance(spec["affinity"].get("nodeAffinity"), Mapping) and isinstance(
        spec["affinity"]["nodeAffinity"].get("requiredDuringSchedulingIgnoredDuringExecution"), Mapping) else None
    if isinstance(terms, list) and terms and not any(
            all(_expr_ok(nt, e) for e in as_list(t.get("matchExpressions")) if isinstance(e, Mapping))
            for t in terms if isinstance(t, Mapping)):
        return "its labels match no required node affinity term"
    for taint in nt.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(taint, as_list(
                spec.get("tolerations"))):
            return f"the pod does not tolerate its taint {taint.get('key')}={taint.get('value') or ''}:{taint.get('effect')}"
    return None


def advertisers(idx: Index, pm: Pods, types: list[NodeType], consumer: bool = False) -> tuple[
        dict[str, set[str]], dict[tuple[str, str], str]]:
    """Extended resource -> node types (their `what`) where a device plugin can run and advertise it; and, for a node
    type where the stack's plugin DaemonSets cannot run, why (both ends: the plugin and the node's taint or label).
    In a `consumer` stack (the cluster is made elsewhere) a resource none of whose plugins the stack carries is taken
    to be advertised everywhere (the cluster's stack may install the plugin)."""
    found: dict[str, set[str]] = {GPU: set(), EFA: set()}
    why: dict[tuple[str, str], str] = {}
    # A device plugin installed by something `check` did not render (a release, a v4 Chart, a manifest URL such as
    # NVIDIA's static nvidia-device-plugin.yml): its DaemonSet is unseen, taken to run on every node type.
    parents = {r.parent for r in idx.stack.resources if r.parent}
    unrendered = [str(dict(r.props)).lower() for r in idx.of_type(*INSTALLERS) if r.urn not in parents]
    everywhere = {r: any(any(w in text for w in PLUGIN_WORDS[r]) for text in unrendered) for r in PLUGIN_WORDS}
    for group in idx.of_type("aws:eks/nodeGroup:NodeGroup"):
        if "BOTTLEROCKET" in str(group.get("amiType") or "") and "NVIDIA" in str(group.get("amiType") or ""):
            found[GPU] |= {nt.what for nt in types if nt.pool == f"node group {group.get('nodeGroupName') or group.name}"}
    for resource, images in PLUGIN_IMAGES.items():
        plugins = [t for t in pm.templates if t.kind == "DaemonSet" and any(
            any(i in str(c.get("image") or "") for i in images)
            for c in as_list(t.spec.get("containers")) if isinstance(c, Mapping))]
        for nt in types:
            if everywhere[resource] or (consumer and not plugins) or any(why_not(p.spec, nt) is None for p in plugins):
                found[resource].add(nt.what)
            elif plugins:
                why[(resource, nt.what)] = "; ".join(f"{p.what} does not run there: {why_not(p.spec, nt)}"
                                                     for p in plugins[:2])
    return found, why


def _fits(req: dict[str, float], nt: NodeType, ads: tuple[dict[str, set[str]], dict[tuple[str, str], str]]) -> \
        str | None:
    for ext in (GPU, EFA):
        if req.get(ext) and nt.what not in ads[0][ext]:
            because = ads[1].get((ext, nt.what))
            return f"no device plugin advertises {ext} there" + (f" ({because})" if because else "")
    inst = nt.instance
    if inst is None:
        return None
    if req.get(GPU, 0) > inst.gpus:
        return f"it has {inst.gpus} GPUs"
    if req.get(EFA) and not inst.efa:
        return "it has no EFA"
    alloc = nt.allocatable
    if req.get("cpu", 0) * 1000 > alloc["cpu"]:
        return f"allocatable cpu is {alloc['cpu']:.0f}m"
    if req.get("memory", 0) / 2**20 > alloc["memory"]:
        return f"allocatable memory is {alloc['memory']:.0f}Mi"
    return None


def fargate(idx: Index, tpl: PodTemplate) -> bool:
    for profile in idx.of_type("aws:eks/fargateProfile:FargateProfile"):
        for sel in as_list(profile.get("selectors")):
            if isinstance(sel, Mapping) and sel.get("namespace") in (tpl.namespace, UNKNOWN) and all(
                    tpl.labels.get(k) == v for k, v in (sel.get("labels") or {}).items()):
                return True
    return False


def pinned(tpl: PodTemplate, types: list[NodeType]) -> bool:
    """The pod's nodeSelector names one of the stack's pools (a NodePool or managed node group name is unique in
    its cluster): whatever other pools the cluster has, only that pool's nodes can take it."""
    sel = tpl.spec.get("nodeSelector")
    return isinstance(sel, Mapping) and any(
        nt.labels.get(key) == sel.get(key) for nt in types
        for key in ("karpenter.sh/nodepool", "eks.amazonaws.com/nodegroup") if isinstance(sel.get(key), str))


def placement_findings(idx: Index, pm: Pods, consumer: bool = False) -> Iterator[Finding]:
    """`consumer`: the cluster is made elsewhere; only pods pinned to a pool of this stack are judged."""
    types = list(node_types(idx))
    if not types or unknown_nodes(idx):
        return
    ads = advertisers(idx, pm, types, consumer)
    for tpl in pm.templates:
        if tpl.kind == "DaemonSet" or fargate(idx, tpl) or (consumer and not pinned(tpl, types)):
            continue
        reasons = {nt.what: why_not(tpl.spec, nt) for nt in types}
        admitted = [nt for nt in types if reasons[nt.what] is None]
        if not admitted:
            shown = "; ".join(f"{w}: {r}" for w, r in sorted(reasons.items())[:3])
            yield tpl.res, (f"{tpl.what} can be placed on no node: no pool admits it ({shown}); give it the pool's "
                            "nodeSelector/affinity and tolerate the pool's taints, or add a pool that admits it")
            continue
        req = pod_requests(tpl.spec)
        misfit = {nt.what: _fits(req, nt, ads) for nt in admitted}
        if all(misfit.values()):
            units = {"cpu": lambda v: f"{v * 1000:.0f}m", "memory": lambda v: f"{v / 2**20:.0f}Mi"}
            wanted = ", ".join(f"{k}={units.get(k, lambda v: f'{v:g}')(v)}" for k, v in sorted(req.items())
                               if k in ("cpu", "memory", GPU, EFA))
            shown = "; ".join(f"{w}: {r}" for w, r in sorted(misfit.items())[:3])
            yield tpl.res, (f"{tpl.what} requests {wanted}, which no node it may run on can give ({shown}): it stays "
                            "Pending; lower the requests, or add a pool (instance type, device plugin) that fits")


@stack_policy(
    "mlops-inv-pod-fits-node",
    description="Every pod can be placed: a node type of the cluster's pools (managed node groups, Karpenter "
                "NodePools, pulumi-eks groups) admits it (nodeSelector, required node affinity, taints tolerated), "
                "has the allocatable for its requests (instance catalogue minus the EKS AMI reservation), and "
                "advertises each extended resource it requests through a device plugin that runs there. Outside the "
                "stack that owns the cluster only pods whose nodeSelector pins a pool of the stack are judged.",
    severity="high", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Match the pod to a pool (nodeSelector/affinity, tolerations of its taints), lower its requests "
                "to the pool's allocatable, or add the pool / the device plugin DaemonSet it needs.",
    config=CLUSTER_CONFIG,
)
def pod_fits_node(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    idx = index(stack)
    owns = idx.owns_cluster(config) or bool(idx.of_type("eks:index:Cluster"))  # pulumi-eks makes the cluster too
    return placement_findings(idx, pods(stack), consumer=not owns)


def _refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(kind, where, name) of every non-optional ConfigMap, ServiceAccount and PVC a pod spec names."""
    for c in [*as_list(spec.get("initContainers")), *as_list(spec.get("containers"))]:
        if not isinstance(c, Mapping):
            continue
        for env in as_list(c.get("env")):
            ref = ((env or {}).get("valueFrom") or {}).get("configMapKeyRef") if isinstance(env, Mapping) else None
            if isinstance(ref, Mapping) and not ref.get("optional"):
                yield "ConfigMap", f"{c.get('name')} env {env.get('name')}", ref.get("name")
        for src in as_list(c.get("envFrom")):
            ref = src.get("configMapRef") if isinstance(src, Mapping) else None
            if isinstance(ref, Mapping) and not ref.get("optional"):
                yield "ConfigMap", f"{c.get('name')} envFrom", ref.get("name")
    for vol in as_list(spec.get("volumes")):
        if not isinstance(vol, Mapping):
            continue
        cm = vol.get("configMap")
        if isinstance(cm, Mapping) and not cm.get("optional"):
            yield "ConfigMap", f"volume {vol.get('name')}", cm.get("name")
        for source in as_list((vol.get("projected") or {}).get("sources")):
            cm = source.get("configMap") if isinstance(source, Mapping) else None
            if isinstance(cm, Mapping) and not cm.get("optional"):
                yield "ConfigMap", f"volume {vol.get('name')}", cm.get("name")
        claim = vol.get("persistentVolumeClaim")
        if isinstance(claim, Mapping):
            yield "PersistentVolumeClaim", f"volume {vol.get('name')}", claim.get("claimName")
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account is not None:
        yield "ServiceAccount", "serviceAccountName", account


def produced(idx: Index) -> dict[str, set[str]]:
    """Kind -> `ns/name` of every object of it the stack creates or makes something create."""
    out: dict[str, set[str]] = {"Secret": produced_secrets(idx), "ConfigMap": set(), "PersistentVolumeClaim": set(),
                                "ServiceAccount": set(service_accounts(idx))}
    for (kind, ns, name), _ in idx.k8s.items():
        if kind in ("ConfigMap", "PersistentVolumeClaim"):
            out[kind].add(f"{ns or 'default'}/{name}")
    for spc in idx.of_type("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass"):
        for obj in as_list(spc.get("spec", "secretObjects")):
            if isinstance(obj, Mapping):
                out["Secret"].add(f"{meta(spc)[0] or 'default'}/{obj.get('secretName')}")
    return out


def reference_findings(idx: Index, pm: Pods, config: Mapping[str, Any]) -> Iterator[Finding]:
    made = produced(idx)
    keys = {"Secret": "externalSecrets", "ConfigMap": "externalConfigMaps", "ServiceAccount": "externalServiceAccounts",
            "PersistentVolumeClaim": "externalClaims"}
    for release in idx.of_type("kubernetes:helm.sh/v3:Release"):
        ns = release_namespace(release)
        for path, key, name in walk(release_values(release)):
            if key in CHART_SECRET_KEYS and isinstance(name, str) and name and f"{ns}/{name}" not in made["Secret"] \
                    and not allowed(config, "externalSecrets", ns, name):
                yield release, (f"release {release.name} value {path} names Secret {ns}/{name}, which nothing in the "
                                "stack produces: create it (a Secret or an ExternalSecret target) in that namespace")
    for tpl in pm.templates:
        ns = tpl.namespace
        if pm.blind(ns):
            continue
        sts_claims = tuple(f"{t.get('metadata', {}).get('name')}-{tpl.name}-" for t in as_list(
            tpl.res.get("spec", "volumeClaimTemplates")) if isinstance(t, Mapping))
        refs = [("Secret", where, name) for where, name in secret_refs(tpl.spec)] + list(_refs(tpl.spec))
        for kind, where, name in refs:
            if not isinstance(name, str) or name is UNKNOWN or not name:
                continue
            if f"{ns}/{name}" in made[kind] or allowed(config, keys[kind], ns, name):
                continue
            if (kind, name) in (("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")) or (
                    kind == "PersistentVolumeClaim" and name.startswith(sts_claims or ("\0",))):
                continue
            there = [r for (k, n, _), r in idx.k8s.items() if k == kind and (n or "default") == ns]
            yield tpl.res, (f"{tpl.what} {where} names {kind} {ns}/{name}, which nothing in the stack creates in {ns}"
                            f"{others(there)}: the pod never starts; create the {kind} in {ns} (or an "
                            "ExternalSecret/chart that produces it), fix the name, or mark the reference optional")


@stack_policy(
    "mlops-inv-pod-reference",
    description="Every Secret, ConfigMap, ServiceAccount and PersistentVolumeClaim a pod names (env, envFrom, "
                "volumes, projected sources, serviceAccountName), and every Secret a chart value "
                "names (existingSecret, configSecret), exists or is produced in its namespace (an ExternalSecret "
                "target, a cert-manager Certificate, a chart's ServiceAccount); otherwise the pod never starts.",
    severity="high", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Create the object in the pod's namespace (an ExternalSecret from AWS Secrets Manager for a Secret), "
                "fix the name, mark the reference optional, or list objects made outside the stack in "
                "externalSecrets / externalConfigMaps / externalServiceAccounts / externalClaims (namespace/name "
                "globs).",
    config={"externalSecrets": ALLOWLIST, "externalConfigMaps": ALLOWLIST, "externalServiceAccounts": ALLOWLIST,
            "externalClaims": ALLOWLIST},
)
def pod_reference(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return reference_findings(index(stack), pods(stack), config)
