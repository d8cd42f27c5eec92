"""Family `selector` (#30 family 1): every selector selects something it is meant to, over the whole inventory
(objects the program writes and objects `check` rendered from charts and kustomize bases alike).

- Service -> pods: its selector matches a pod template in its namespace, and each targetPort (a name, or a number;
  the port itself when unset) is a port those pods declare. kube-proxy/EndpointSlice controller
  (kubernetes pkg/controller/endpointslice, `podutil.FindPort`): a named targetPort resolves per pod to the
  container port of that name and protocol; a pod without it gets no endpoint. A number is used as is, declared
  or not (declaring is informational), so a numeric targetPort is not judged.
- PodMonitor -> pods (prometheus-operator API `PodMetricsEndpoint.port`: the name of a Pod port; `portNumber`: a
  port the Pod must declare, else the target is dropped; deprecated `targetPort`), in the namespaces its
  namespaceSelector watches (default: its own).
- PDB -> pods (policy/v1: the selector picks the pods the budget guards; one that picks none guards nothing).
- HPA -> scale target: `scaleTargetRef` names an object of that kind in its namespace, and for a Resource metric
  with a Utilization target every container of the target's pods requests that resource (kubernetes
  pkg/controller/podautoscaler replica_calculator/metrics utilization: "missing request for <resource>").
- Ingress -> Service and port: each backend Service exists in the Ingress's namespace and the backend's port
  (number or name) is one of the Service's ports (the Ingress controllers resolve `port.number` against the Service's
  `port`, not its targetPort); an ALB backend in instance mode (the controller's default) is a NodePort or
  LoadBalancer Service.
ServiceMonitor -> Service is `mlops-inv-servicemonitor-target`, NetworkPolicy -> pod ports is
`mlops-inv-netpol-pod-port` and HPA -> metrics API is `mlops-inv-hpa-metrics-source`; POLICIES_BY_FAMILY joins them.

Not judged: a selector that matches nothing in a namespace where pods the inventory cannot see may run (an
unrendered chart or an operator's custom resources: see pod_model), and selector values unknown at preview.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import UNKNOWN, Resource, Stack, as_list, stack_policy
from .invariants_cluster import PACK
from .invariants_index import HPA, INGRESS, PDB, SERVICE, Index, PerPod, index, labels_match, meta, namespace_of, release_values
from .pod_model import Pods, PodTemplate, others, pods, selects, shown

POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
USE_ANNOTATION = "use-annotation"
"""aws-load-balancer-controller (pkg/ingress/enhanced_backend_builder.go, magicServicePortUseAnnotation): a backend
whose port name is this builds its action from the Ingress annotation `alb.ingress.kubernetes.io/actions.<service
name>`; the service name is no Service."""
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")
Finding = tuple[Resource, str]


def _few(templates: Iterable[PodTemplate], limit: int = 3) -> str:
    items = sorted({t.what for t in templates})
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _own(labels: Mapping[str, Any]) -> dict[str, Any]:
    """The template's labels, without those the controllers add."""
    return {k: v for k, v in labels.items() if not isinstance(v, PerPod)}


def _labels(templates: list[PodTemplate]) -> str:
    if not templates:
        return "the namespace runs no pods"
    shown = [f"{t.what} {_own(t.labels)}" for t in sorted(templates, key=lambda t: t.what)[:2]]
    return "pods there: " + "; ".join(shown)


def port_declared(target: Any, proto: str, matched: list[PodTemplate]) -> bool | None:
    """Whether some matched template declares the port (None: not judged)."""
    if isinstance(target, str) and target and target is not UNKNOWN:
        return any((proto, target) in t.named for t in matched)
    return None  # a number is used as is (kubernetes FindPort: intstr.Int returns it), declared or not: containerPort
    # is informational ("Not specifying a port here DOES NOT prevent that port from being exposed", core/v1)


def service_findings(idx: Index, pm: Pods) -> Iterator[Finding]:
    for svc in idx.of_type(SERVICE):
        name = shown(svc, meta(svc)[1])
        ns = namespace_of(svc)
        spec = svc.get("spec")
        selector = spec.get("selector") if isinstance(spec, Mapping) else None
        if not isinstance(selector, Mapping) or not selector or spec.get("type") == "ExternalName":
            continue  # no selector: endpoints managed by hand (or ExternalName)
        candidates = pm.in_namespace(ns)
        matched = [t for t in candidates if selects(selector, t.labels) is not False]
        if not matched:
            if not pm.blind(ns):
                yield svc, (f"Service {ns}/{name} selects no pods: selector {dict(selector)} matches no pod "
                            f"template in namespace {ns} ({_labels(candidates)}); set the selector to the pod "
                            "template's labels (or the labels to the selector)")
            continue
        for sp in as_list(spec.get("ports")):
            if not isinstance(sp, Mapping):
                continue
            proto = str(sp.get("protocol") or "TCP")
            target = sp.get("targetPort") if sp.get("targetPort") is not None else sp.get("port")
            if port_declared(target, proto, matched) is False:
                declared = sorted({f"{p}" for t in matched for _, p in t.ports} |
                                  {n for t in matched for _, n in t.named})
                yield svc, (f"Service {ns}/{name} port {sp.get('port')} targets {proto} port {target!r}, which "
                            f"its pods ({_few(matched)}) do not declare (they declare {', '.join(declared) or 'none'}):"
                            " no endpoint; set targetPort to the container port (its name or number)")


def _watched(obj: Resource, own_ns: str) -> set[str] | None:
    ns_sel = obj.get("spec", "namespaceSelector")
    if isinstance(ns_sel, Mapping) and ns_sel.get("any") is True:
        return None
    names_ = ns_sel.get("matchNames") if isinstance(ns_sel, Mapping) else None
    return set(names_) if isinstance(names_, list) and names_ else {own_ns}


def podmonitor_findings(idx: Index, pm: Pods) -> Iterator[Finding]:
    for mon in idx.of_type(POD_MONITOR):
        name = shown(mon, meta(mon)[1])
        own_ns = namespace_of(mon)
        selector = mon.get("spec", "selector")
        if not isinstance(selector, Mapping):
            continue
        watched = _watched(mon, own_ns)
        pool = pm.templates if watched is None else [t for ns in sorted(watched) for t in pm.in_namespace(ns)]
        matched = [t for t in pool if labels_match(selector, t.labels) is not False]
        blind = (watched is None and bool(pm.unseen)) or (watched is not None and any(pm.blind(ns) for ns in watched))
        where = "any namespace" if watched is None else f"namespaces {sorted(watched)}"
        if not matched:
            if not blind:
                yield mon, (f"PodMonitor {own_ns}/{name} selects no pods: selector "
                            f"{dict(selector.get('matchLabels') or {})} matches no pod template in {where} "
                            f"({_labels(pool)}); select the pod template's labels and set "
                            "namespaceSelector.matchNames to the pods' namespace")
            continue
        for ep in as_list(mon.get("spec", "podMetricsEndpoints")):
            if not isinstance(ep, Mapping):
                continue
            port = ep.get("port") or ep.get("portNumber") or ep.get("targetPort")
            if port is None:
                continue
            found = any(port in {n for _, n in t.named} or port in {p for _, p in t.ports} for t in matched) \
                if isinstance(port, (str, int)) and port is not UNKNOWN else True
            # `port` names a Pod port; a `portNumber` must be declared too (else Prometheus drops the target).
            if not found and (isinstance(port, str) or ep.get("portNumber") is not None or all(
                    t.ports for t in matched)):
                yield mon, (f"PodMetricsEndpoint port {port!r} of PodMonitor {own_ns}/{name} is not a container port "
                            f"of its pods ({_few(matched)}); name the pod's metrics port (containers[].ports[].name)")


def pdb_findings(idx: Index, pm: Pods) -> Iterator[Finding]:
    for pdb in idx.of_type(PDB):
        name = shown(pdb, meta(pdb)[1])
        ns = namespace_of(pdb)
        selector = pdb.get("spec", "selector")
        if not isinstance(selector, Mapping) or pm.blind(ns):
            continue
        candidates = pm.in_namespace(ns)
        if not any(labels_match(selector, t.labels) is not False for t in candidates):
            yield pdb, (f"PodDisruptionBudget {ns}/{name} selects no pods: selector "
                        f"{dict(selector.get('matchLabels') or {})} matches no pod template in {ns} "
                        f"({_labels(candidates)}); select the labels of the pods it guards")


def _requests(container: Mapping[str, Any], resource: str, own: bool = False) -> bool:
    block = container if own else container.get("resources") or {}
    requests = block.get("requests") if isinstance(block, Mapping) else None
    limits = block.get("limits") if isinstance(block, Mapping) else None
    # The API server defaults requests to limits when only limits are set.
    return any(isinstance(m, Mapping) and m.get(resource) is not None for m in (requests, limits))


def hpa_findings(idx: Index, pm: Pods) -> Iterator[Finding]:
    for hpa in idx.of_type(HPA):
        name = shown(hpa, meta(hpa)[1])
        ns = namespace_of(hpa)
        ref = hpa.get("spec", "scaleTargetRef")
        if not isinstance(ref, Mapping) or not isinstance(ref.get("kind"), str) or not isinstance(ref.get("name"), str):
            continue
        kind, target_name = ref["kind"], ref["name"]
        target = idx.k8s.get((kind, ns, target_name))
        if target is None:
            if not pm.blind(ns) and kind in SCALABLE:  # a custom kind may be made by its operator
                there = [t.res for t in pm.in_namespace(ns) if t.kind in SCALABLE]
                yield hpa, (f"HPA {ns}/{name} scales {kind} {ns}/{target_name}, which the stack does not create "
                            f"in {ns}{others(there)}; point scaleTargetRef at the workload (kind, name, same "
                            "namespace)")
            continue
        tpl = next((t for t in pm.templates if t.res is target), None)
        if tpl is None:
            continue
        metrics = hpa.get("spec", "metrics")
        wanted: list[tuple[str, str | None]] = [("cpu", None)] if metrics is None else []
        for m in as_list(metrics):
            if not isinstance(m, Mapping):
                continue
            kind_ = m.get("type")
            block = m.get("resource") if kind_ == "Resource" else m.get("containerResource") \
                if kind_ == "ContainerResource" else None
            if isinstance(block, Mapping) and (block.get("target") or {}).get("type") == "Utilization":
                cname = block.get("container") if kind_ == "ContainerResource" else None
                wanted.append((str(block.get("name")), cname if isinstance(cname, str) else None))
        # kubernetes pkg/controller/podautoscaler replica_calculator.go calculatePodRequests: app containers and
        # restartable init containers (native sidecars) each need the request, unless the pod sets pod-level ones.
        containers = [c for c in [*as_list(tpl.spec.get("initContainers")), *as_list(tpl.spec.get("containers"))]
                      if isinstance(c, Mapping) and (c in as_list(tpl.spec.get("containers"))
                                                     or c.get("restartPolicy") == "Always")]
        pod_level = tpl.spec.get("resources")
        for resource, only in wanted:
            if isinstance(pod_level, Mapping) and _requests(pod_level, resource, own=True):
                continue
            lacking = [str(c.get("name")) for c in containers
                       if (only is None or c.get("name") == only) and not _requests(c, resource)]
            if lacking:
                yield hpa, (f"HPA {ns}/{name} scales {tpl.what} on {resource} utilization, but container "
                            f"{', '.join(lacking)} of {tpl.what} requests no {resource}: the HPA reports "
                            f"'missing request for {resource}' and never scales; set resources.requests.{resource}")


def _backends(ingress: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    default = ingress.get("spec", "defaultBackend", "service")
    if isinstance(default, Mapping):
        yield "defaultBackend", default
    for i, rule in enumerate(as_list(ingress.get("spec", "rules"))):
        paths = ((rule.get("http") or {}).get("paths") if isinstance(rule, Mapping) else None) or []
        for j, path in enumerate(as_list(paths)):
            svc = (path.get("backend") or {}).get("service") if isinstance(path, Mapping) else None
            if isinstance(svc, Mapping):
                yield f"rules[{i}].paths[{j}]", svc


TARGET_TYPE = "alb.ingress.kubernetes.io/target-type"


def alb_default_target(idx: Index, ingress: Resource) -> str | None:
    """The target type an AWS Load Balancer Controller gives this Ingress's backends unless a Service or the Ingress
    annotates one (aws-load-balancer-controller v2.17.1 pkg/ingress/model_build_target_group.go
    buildTargetGroupTargetType; chart value `defaultTargetType`, default "instance"); None: not an ALB Ingress, or
    its IngressClass has parameters (IngressClassParams may set targetType)."""
    cls = ingress.get("spec", "ingressClassName")
    cls = cls if isinstance(cls, str) else ingress.get("metadata", "annotations", "kubernetes.io/ingress.class")
    klass = idx.unnamespaced.get(("IngressClass", str(cls)))
    if (klass is not None and (klass.get("spec", "controller") != "ingress.k8s.aws/alb" or klass.get(
            "spec", "parameters") is not None)) or (klass is None and cls != "alb"):
        return None
    defaults = {str(release_values(r).get("defaultTargetType") or "instance")
                for r in idx.releases("aws-load-balancer-controller")}
    return defaults.pop() if len(defaults) == 1 else "instance" if not defaults else None


def ingress_findings(idx: Index, pm: Pods) -> Iterator[Finding]:
    for ingress in idx.of_type(INGRESS):
        name = shown(ingress, meta(ingress)[1])
        ns = namespace_of(ingress)
        default_target = alb_default_target(idx, ingress)
        for where, backend in _backends(ingress):
            svc_name, port = backend.get("name"), backend.get("port")
            if not isinstance(svc_name, str) or svc_name is UNKNOWN:
                continue
            if isinstance(port, Mapping) and port.get("name") == USE_ANNOTATION:
                continue  # an ALB action (redirect, fixed response, forward) from the `actions.<name>` annotation
            svc = idx.k8s.get(("Service", ns, svc_name))
            if svc is None:
                if not pm.blind(ns):
                    there = [r for r in idx.of_type(SERVICE) if namespace_of(r) == ns]
                    yield ingress, (f"Ingress {ns}/{name} {where} routes to Service {ns}/{svc_name}, which the stack "
                                    f"does not create in {ns}{others(there)}; name a Service of the Ingress's "
                                    "namespace")
                continue
            target = svc.get("metadata", "annotations", TARGET_TYPE) or ingress.get(
                "metadata", "annotations", TARGET_TYPE) or default_target
            if target == "instance" and svc.get("spec", "type") not in ("NodePort", "LoadBalancer", UNKNOWN):
                yield ingress, (f"ALB Ingress {ns}/{name} {where} sends instance-mode targets to Service "
                                f"{ns}/{svc_name} of type {svc.get('spec', 'type') or 'ClusterIP'}: the controller "
                                "fails ('When using Instance targets, your service must be of type NodePort or "
                                f"LoadBalancer'); annotate {TARGET_TYPE}: ip or make the Service a NodePort")
            ports = [p for p in as_list(svc.get("spec", "ports")) if isinstance(p, Mapping)]
            svc_name = shown(svc, svc_name)
            if not isinstance(port, Mapping) or not ports:
                continue
            number, pname = port.get("number"), port.get("name")
            if isinstance(number, int) and number not in {p.get("port") for p in ports}:
                yield ingress, (f"Ingress {ns}/{name} {where} routes to port {number} of Service {ns}/{svc_name}, "
                                f"which serves ports {sorted(str(p.get('port')) for p in ports)}; use the Service's "
                                "port (not the container's targetPort)")
            elif isinstance(pname, str) and pname is not UNKNOWN and pname not in {p.get("name") for p in ports}:
                yield ingress, (f"Ingress {ns}/{name} {where} routes to port name {pname!r} of Service "
                                f"{ns}/{svc_name}, whose ports are named {sorted(str(p.get('name')) for p in ports)}; "
                                "use one of the Service's port names")




@stack_policy(
    "mlops-inv-service-selects-pods",
    description="Every Service with a selector selects pods in its namespace (Deployments, StatefulSets, "
                "DaemonSets, ReplicaSets, Jobs, CronJobs, Pods; chart-rendered ones included), and each targetPort "
                "is a port those pods declare; otherwise the Service has no endpoints.",
    severity="high", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Make the Service's selector the pod template's labels and its targetPort the container port "
                "(name or number).",
)
def service_selects_pods(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return service_findings(index(stack), pods(stack))


@stack_policy(
    "mlops-inv-podmonitor-target",
    description="Every PodMonitor selects pods in a namespace it watches, and each endpoint port is a container "
                "port of those pods; otherwise Prometheus scrapes nothing.",
    severity="medium", pack=PACK, controls=("SOC2 CC7.2",),
    remediation="Select the pod template's labels, watch its namespace (namespaceSelector.matchNames) and name the "
                "pod's metrics port.",
)
def podmonitor_target(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return podmonitor_findings(index(stack), pods(stack))


@stack_policy(
    "mlops-inv-pdb-selects-pods",
    description="Every PodDisruptionBudget selects pods in its namespace; one that selects none protects nothing.",
    severity="medium", pack=PACK, controls=("SOC2 A1.2",),
    remediation="Select the labels of the pods the budget is for (the workload's pod template labels).",
)
def pdb_selects_pods(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return pdb_findings(index(stack), pods(stack))


@stack_policy(
    "mlops-inv-hpa-scale-target",
    description="Every HorizontalPodAutoscaler's scaleTargetRef names a workload of the stack in its namespace, "
                "and for Resource/ContainerResource Utilization metrics the target's containers request that "
                "resource; otherwise the HPA never scales.",
    severity="medium", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Point scaleTargetRef at the workload (kind, name, same namespace) and give every container a "
                "request for the resource the HPA measures.",
)
def hpa_scale_target(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return hpa_findings(index(stack), pods(stack))


@stack_policy(
    "mlops-inv-ingress-backend",
    description="Every Ingress backend names a Service in the Ingress's namespace and one of that Service's ports "
                "(number or name); otherwise the controller serves 503s for the path.",
    severity="high", pack=PACK, controls=("SOC2 A1.1",),
    remediation="Name a Service of the Ingress's namespace and its `port` (not the pod's targetPort).",
)
def ingress_backend(stack: Stack, config: Mapping[str, Any]) -> Iterable[Finding]:
    return ingress_findings(index(stack), pods(stack))
