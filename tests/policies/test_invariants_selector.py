"""Family `selector`: each relation judged on small hand-built inventories, a broken twin next to its repaired one."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import R, messages

SVC, DEPLOY, STS = "kubernetes:core/v1:Service", "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"
POD, CRON, RS = "kubernetes:core/v1:Pod", "kubernetes:batch/v1:CronJob", "kubernetes:apps/v1:ReplicaSet"
PM = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
PDB, HPA = "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
ING, RELEASE = "kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:helm.sh/v3:Release"
SEL, PMON, PDBS, HPAT, INGB = ("mlops-inv-service-selects-pods", "mlops-inv-podmonitor-target",
                               "mlops-inv-pdb-selects-pods", "mlops-inv-hpa-scale-target", "mlops-inv-ingress-backend")

CONTAINER = {"name": "api", "image": "api:1", "ports": [{"name": "http", "containerPort": 8080}],
             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}


def workload(type_: str = DEPLOY, labels: dict[str, str] | None = None, container: dict[str, Any] | None = None,
             name: str = "api", ns: str = "app") -> R:
    pod = {"metadata": {"labels": labels or {"app": "api"}}, "spec": {"containers": [container or CONTAINER]}}
    if type_ == POD:
        return R(type_, name, {"metadata": {"name": name, "namespace": ns, **pod["metadata"]}, "spec": pod["spec"]})
    if type_ == CRON:
        return R(type_, name, {"metadata": {"name": name, "namespace": ns},
                               "spec": {"jobTemplate": {"spec": {"template": pod}}}})
    return R(type_, name, {"metadata": {"name": name, "namespace": ns}, "spec": {"template": pod}})


def service(selector: dict[str, str], target: Any = "http", ns: str = "app") -> R:
    return R(SVC, "svc", {"metadata": {"name": "api", "namespace": ns},
                          "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": target}]}})


@pytest.mark.parametrize("type_", [DEPLOY, STS, RS, POD, CRON])
def test_service_selects_pods_of_every_template_shape(type_: str) -> None:
    assert messages(SEL, [workload(type_), service({"app": "api"})]) == []
    found = messages(SEL, [workload(type_), service({"app": "apl"})])
    assert len(found) == 1 and "Service app/api (resource svc) selects no pods" in found[0] and "app/api {'app': 'api'}" in found[0]


# a number is used as is, declared or not (kubernetes FindPort returns an intstr.Int's value): never a finding
@pytest.mark.parametrize(("target", "ok"), [("http", True), (8080, True), ("metrics", False), (9090, True)])
def test_service_target_port_named_or_numeric_against_container_ports(target: Any, ok: bool) -> None:
    found = messages(SEL, [workload(), service({"app": "api"}, target)])
    assert (found == []) is ok
    if not ok:
        assert f"targets TCP port {target!r}" in found[0] and "Deployment app/api" in found[0]


def test_service_numeric_port_not_judged_when_pods_declare_none() -> None:
    bare = {"name": "api", "image": "api:1"}
    assert messages(SEL, [workload(container=bare), service({"app": "api"}, 9090)]) == []


def test_service_without_selector_or_in_a_namespace_an_unrendered_chart_fills_is_not_judged() -> None:
    manual = R(SVC, "svc", {"metadata": {"name": "ext", "namespace": "app"}, "spec": {"ports": [{"port": 80}]}})
    chart = R(RELEASE, "rel", {"chart": "something", "namespace": "app"})
    assert messages(SEL, [manual]) == []
    assert messages(SEL, [chart, service({"app": "from-chart"})]) == []
    assert messages(SEL, [service({"app": "from-chart"})]) != []


def test_chart_rendered_pods_count() -> None:
    release = R(RELEASE, "rel", {"chart": "x", "namespace": "app"})
    rendered = workload()
    rendered.parent = "rel"
    assert messages(SEL, [release, rendered, service({"app": "api"})]) == []
    assert messages(SEL, [release, rendered, service({"app": "other"})]) != []


def podmonitor(labels: dict[str, str], port: str = "http", ns: str = "app") -> R:
    return R(PM, "pm", {"metadata": {"name": "api", "namespace": "monitoring"}, "spec": {
        "selector": {"matchLabels": labels}, "namespaceSelector": {"matchNames": [ns]},
        "podMetricsEndpoints": [{"port": port}]}})


def test_podmonitor_selects_pods_and_names_their_port() -> None:
    assert messages(PMON, [workload(), podmonitor({"app": "api"})]) == []
    wrong_ns = messages(PMON, [workload(), podmonitor({"app": "api"}, ns="other")])
    assert len(wrong_ns) == 1 and "PodMonitor monitoring/api (resource pm) selects no pods" in wrong_ns[0]
    wrong_port = messages(PMON, [workload(), podmonitor({"app": "api"}, port="metrics")])
    assert len(wrong_port) == 1 and "'metrics'" in wrong_port[0] and "Deployment app/api" in wrong_port[0]


def pdb(labels: dict[str, str]) -> R:
    return R(PDB, "pdb", {"metadata": {"name": "api", "namespace": "app"},
                          "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}})


def test_pdb_selects_pods() -> None:
    assert messages(PDBS, [workload(), pdb({"app": "api"})]) == []
    found = messages(PDBS, [workload(), pdb({"app": "web"})])
    assert len(found) == 1 and "PodDisruptionBudget app/api (resource pdb) selects no pods" in found[0] and "app/api" in found[0]


def hpa(kind: str = "Deployment", name: str = "api", metrics: list[Any] | None = None) -> R:
    return R(HPA, "hpa", {"metadata": {"name": "api", "namespace": "app"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name}, "minReplicas": 1, "maxReplicas": 3,
        **({"metrics": metrics} if metrics is not None else {})}})


CPU = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
MEMORY = [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization",
                                                                         "averageUtilization": 70}}}]


def test_hpa_scale_target_exists_with_the_same_kind_and_name() -> None:
    assert messages(HPAT, [workload(), hpa(metrics=CPU)]) == []
    for ref in (hpa(name="apx"), hpa(kind="StatefulSet")):
        found = messages(HPAT, [workload(), ref])
        assert len(found) == 1 and "HPA app/api (resource hpa) scales" in found[0] and "does not create" in found[0]


def test_hpa_utilization_needs_the_request() -> None:
    no_requests = {"name": "api", "image": "api:1"}
    found = messages(HPAT, [workload(container=no_requests), hpa()])  # no metrics: CPU utilization (80%)
    assert len(found) == 1 and "container api of Deployment app/api requests no cpu" in found[0]
    assert messages(HPAT, [workload(), hpa(metrics=MEMORY)]) == []  # CONTAINER requests memory
    average = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue",
                                                                            "averageValue": "500m"}}}]
    assert messages(HPAT, [workload(container=no_requests), hpa(metrics=average)]) == []
    sidecar = workload()
    sidecar.inputs["spec"]["template"]["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always"}]
    found = messages(HPAT, [sidecar, hpa(metrics=CPU)])
    assert len(found) == 1 and "container proxy of Deployment app/api requests no cpu" in found[0]
    sidecar.inputs["spec"]["template"]["spec"]["resources"] = {"requests": {"cpu": "1"}}  # pod-level resources
    assert messages(HPAT, [sidecar, hpa(metrics=CPU)]) == []


def ingress(service_name: str = "api", port: dict[str, Any] | None = None) -> R:
    return R(ING, "ing", {"metadata": {"name": "web", "namespace": "app", "annotations": {
        "alb.ingress.kubernetes.io/target-type": "ip"}}, "spec": {
        "ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": service_name, "port": port or {"number": 80}}}}]}}]}})


def test_ingress_backend_service_and_port() -> None:
    svc = service({"app": "api"})
    assert messages(INGB, [workload(), svc, ingress()]) == []
    missing = messages(INGB, [workload(), svc, ingress("apj")])
    assert len(missing) == 1 and "Ingress app/web" in missing[0] and "Service app/apj" in missing[0]
    target_port = messages(INGB, [workload(), svc, ingress(port={"number": 8080})])
    assert len(target_port) == 1 and "port 8080 of Service app/api" in target_port[0]
    named = messages(INGB, [workload(), svc, ingress(port={"name": "web"})])
    assert len(named) == 1 and "'web'" in named[0]


def test_alb_instance_targets_need_a_node_port_service() -> None:
    svc, ing = service({"app": "api"}), ingress()
    ing.inputs["metadata"]["annotations"] = {}
    found = messages(INGB, [workload(), svc, ing])
    assert len(found) == 1 and "ALB Ingress app/web" in found[0] and "Service app/api of type ClusterIP" in found[0]
    svc.inputs["spec"]["type"] = "NodePort"
    assert messages(INGB, [workload(), svc, ing]) == []
    svc.inputs["spec"]["type"] = "ClusterIP"
    lbc = R(RELEASE, "lbc", {"chart": "aws-load-balancer-controller", "namespace": "kube-system",
                             "values": {"defaultTargetType": "ip"}})
    assert messages(INGB, [workload(), svc, ing, lbc]) == []


NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PEER = "mlops-inv-netpol-peer-selects-pods"


def netpol(own: dict[str, str], peer: dict[str, Any]) -> R:
    return R(NP, "np", {"metadata": {"name": "api-egress", "namespace": "app"}, "spec": {
        "podSelector": {"matchLabels": own}, "policyTypes": ["Egress"],
        "egress": [{"to": [peer], "ports": [{"port": 5432}]}]}})


def test_netpol_selector_and_peers_select_pods() -> None:
    db = workload(labels={"app": "db"}, container={"name": "db", "image": "pg", "ports": [{"containerPort": 5432}]},
                  name="db", ns="data")
    data_ns = R("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "data"}})
    to_db = {"podSelector": {"matchLabels": {"app": "db"}},
             "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}}}
    assert messages(PEER, [workload(), db, data_ns, netpol({"app": "api"}, to_db)]) == []
    wrong_peer = {**to_db, "podSelector": {"matchLabels": {"app": "postgres"}}}
    found = messages(PEER, [workload(), db, data_ns, netpol({"app": "api"}, wrong_peer)])
    assert len(found) == 1 and "NetworkPolicy app/api-egress (resource np) egress rule 0" in found[0]
    assert "in data; there: Deployment db" in found[0]
    found = messages(PEER, [workload(), db, data_ns, netpol({"app": "apx"}, to_db)])
    assert len(found) == 1 and "podSelector {'app': 'apx'} selects no pod in app" in found[0]
    elsewhere = {**to_db, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shared"}}}
    assert messages(PEER, [workload(), db, data_ns, netpol({"app": "api"}, elsewhere)]) == []


def test_podmonitor_port_number_must_be_declared() -> None:
    bare = workload(container={"name": "api", "image": "api:1"})
    mon = podmonitor({"app": "api"})
    mon.inputs["spec"]["podMetricsEndpoints"] = [{"portNumber": 9090}]
    found = messages(PMON, [bare, mon])
    assert len(found) == 1 and "port 9090" in found[0] and "Deployment app/api" in found[0]
    mon.inputs["spec"]["podMetricsEndpoints"] = [{"portNumber": 8080}]
    assert messages(PMON, [workload(), mon]) == []
