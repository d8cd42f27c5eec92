"""Relations judged on what the cluster receives: the shipped stacks with every chart rendered at its pin.

- every Helm release is sent with an explicit name within Helm's 53 characters, and every release renders;
- every ServiceMonitor (ours or a chart's) selects a Service in a namespace it watches, on a port that Service has;
- every PodMonitor selects a pod template with the port it names;
- every in-cluster URL the stack exports names a Service that exists, in its namespace, on a port it exposes;
- the chart lock holds exactly the charts some shipped or variant stack pins.

The relations need every chart of the stack in this machine's chart store (upstream chart sources are not
redistributed in this repository: `tools/vendor_charts_*.sh` fill it from the charts' repositories). Where a chart is
missing, those tests are skipped with the list of missing charts; the lock and name tests always run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mlops_infra import charts
from mlops_infra.plan.inventory import Inventory, ResourceRecord
from tests.conftest import planned

STACKS = ("dev", "staging", "prod")
VARIANTS = Path(__file__).resolve().parents[1] / "integration" / "variants"
RELEASE = "kubernetes:helm.sh/v3:Release"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
URL = re.compile(r"^https?://([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?(?::(\d+))?(?:/.*)?$")


def kube_objects(inv: Inventory) -> list[dict[str, Any]]:
    return [r.inputs for r in inv.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind")]


def labels_match(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    if not isinstance(labels, Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values):
            return False
        if (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def watched(monitor: Mapping[str, Any]) -> set[str] | None:
    sel = monitor.get("spec", {}).get("namespaceSelector") or {}
    return None if sel.get("any") else set(sel.get("matchNames") or [monitor["metadata"].get("namespace")])


def pod_templates(objs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for obj in objs:
        kind = obj.get("kind")
        if kind in POD_KINDS:
            template = obj.get("spec", {}).get("template") or {}
        elif kind == "CronJob":
            template = obj.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template") or {}
        elif kind == "Pod":
            template = obj
        else:
            continue
        yield obj["metadata"].get("namespace", "default"), template.get("metadata") or {}, template.get("spec") or {}


@pytest.fixture(scope="module", params=STACKS)
def any_store(request: pytest.FixtureRequest) -> Inventory:
    return planned(request.param, render=True)


UNVENDORABLE = {"airflow 1.19.0", "external-secrets 2.11.0"}


@pytest.fixture(scope="module", params=STACKS)
def rendered(request: pytest.FixtureRequest) -> Inventory:
    """The stack rendered with every chart that can be vendored; skipped where this machine's store lacks one."""
    inv = planned(request.param, render=True)
    missing = sorted({r["chart"] for r in inv.rendering if r["status"] == "unrendered"} - UNVENDORABLE)
    if missing:
        pytest.skip(f"chart store on this machine lacks {len(missing)} charts of {request.param} "
                    f"(tools/vendor_charts_*.sh): {', '.join(missing)}")
    return inv


def unjudged_namespaces(inv: Inventory) -> set[str]:
    """Namespaces whose objects are partly made where the plan cannot see: a release that is not rendered (its
    chart cannot be vendored here), or KServe's controller, which makes each InferenceService's predictor
    Deployment and Service at run time (tests/serving judge those against KServe's labels)."""
    found = {str(r.inputs.get("namespace")) for r in inv.of_type(RELEASE)
             if any(e["urn"] == r.urn and e["status"] != "rendered" for e in inv.rendering)}
    found |= {str(r.inputs["metadata"].get("namespace")) for r in inv.resources
              if r.type == "kubernetes:serving.kserve.io/v1beta1:InferenceService"}
    return found


def test_every_release_is_named_explicitly_within_helms_limit_and_none_fails_to_render(any_store: Inventory) -> None:
    releases = any_store.of_type(RELEASE)
    assert releases
    for release in releases:
        name = release.inputs.get("name")
        assert isinstance(name, str) and 0 < len(name) <= 53, f"{release.name}: release name {name!r}"
    failed = [f"{r['name']}: {r['detail']}" for r in any_store.rendering if r["status"] == "failed"]
    assert not failed, failed


def cluster_services(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Services the cluster keeps itself: the API server's `kubernetes` Service, and the kubelet Service that
    prometheus-operator maintains (`--kubelet-service=ns/name`; labels and ports from its syncNodeEndpoints)."""
    found = [{"metadata": {"name": "kubernetes", "namespace": "default",
                           "labels": {"component": "apiserver", "provider": "kubernetes"}},
              "spec": {"ports": [{"name": "https", "port": 443}]}}]
    for _, _, spec in pod_templates(objs):
        for container in spec.get("containers") or []:
            for arg in container.get("args") or []:
                if isinstance(arg, str) and arg.startswith("--kubelet-service="):
                    ns, _, name = arg.removeprefix("--kubelet-service=").partition("/")
                    found.append({"metadata": {"name": name, "namespace": ns, "labels": {
                        "k8s-app": "kubelet", "app.kubernetes.io/name": "kubelet"}}, "spec": {"ports": [
                            {"name": "https-metrics", "port": 10250}, {"name": "http-metrics", "port": 10255},
                            {"name": "cadvisor", "port": 4194}]}})
    return found


def test_every_service_monitor_selects_a_service_port(rendered: Inventory) -> None:
    objs = kube_objects(rendered)
    monitors = [o for o in objs if o["kind"] == "ServiceMonitor"]
    services = [o for o in objs if o["kind"] == "Service"] + cluster_services(objs)
    assert monitors and services
    problems = []
    skip = unjudged_namespaces(rendered)
    for monitor in monitors:
        namespaces = watched(monitor)
        if namespaces is not None and namespaces <= skip:
            continue
        selected = [s for s in services if (namespaces is None or s["metadata"].get("namespace") in namespaces)
                    and labels_match(monitor["spec"].get("selector") or {}, s["metadata"].get("labels") or {})]
        where = f"{monitor['metadata'].get('namespace')}/{monitor['metadata']['name']}"
        if not selected:
            problems.append(f"ServiceMonitor {where} selects no Service")
            continue
        ports = {p.get("name") for s in selected for p in s["spec"].get("ports") or []}
        for endpoint in monitor["spec"].get("endpoints") or []:
            if "port" in endpoint and endpoint["port"] not in ports:
                problems.append(f"ServiceMonitor {where}: port {endpoint['port']!r} not in {sorted(map(str, ports))}")
    assert not problems, problems


def test_every_pod_monitor_selects_a_pod_port(rendered: Inventory) -> None:
    objs = kube_objects(rendered)
    monitors = [o for o in objs if o["kind"] == "PodMonitor"]
    pods = list(pod_templates(objs))
    assert pods
    problems = []
    skip = unjudged_namespaces(rendered)
    for monitor in monitors:
        namespaces = watched(monitor)
        if namespaces is not None and namespaces <= skip:
            continue
        selected = [spec for ns, meta, spec in pods if (namespaces is None or ns in namespaces)
                    and labels_match(monitor["spec"].get("selector") or {}, meta.get("labels") or {})]
        ports = {p.get("name") for spec in selected for c in spec.get("containers") or [] for p in c.get("ports") or []}
        for endpoint in monitor["spec"].get("podMetricsEndpoints") or []:
            if not selected or ("port" in endpoint and endpoint["port"] not in ports):
                problems.append(f"PodMonitor {monitor['metadata']['name']}: selects {len(selected)} pods, port "
                                f"{endpoint.get('port')!r} among {sorted(map(str, ports))}")
    assert not problems, problems


def _urls(value: Any) -> Iterator[str]:
    if isinstance(value, str) and URL.match(value):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _urls(item)


def test_every_exported_in_cluster_url_names_a_service_and_port(rendered: Inventory) -> None:
    urls = sorted(set(_urls(rendered.outputs)))
    assert urls, "the stack exports no in-cluster URL"
    services = {(s["metadata"].get("namespace", "default"), s["metadata"]["name"]): s
                for s in kube_objects(rendered) if s["kind"] == "Service"}
    problems = []
    skip, judged = unjudged_namespaces(rendered), 0
    for url in urls:
        name, namespace, port = URL.match(url).groups()  # type: ignore[union-attr]
        if namespace in skip:
            continue
        judged += 1
        svc = services.get((namespace, name))
        if svc is None:
            problems.append(f"{url}: no Service {namespace}/{name}")
            continue
        wanted = int(port) if port else (443 if url.startswith("https") else 80)
        if svc["spec"].get("type") != "ExternalName" and wanted not in {p.get("port") for p in svc["spec"]["ports"]}:
            problems.append(f"{url}: Service {namespace}/{name} has no port {wanted}")
    assert judged and not problems, (judged, problems)


def _pinned(inv: Inventory) -> Iterator[tuple[str, str, str]]:
    for release in inv.of_type(RELEASE):
        repo = str((release.inputs.get("repositoryOpts") or {}).get("repo") or "")
        yield str(release.inputs["chart"]), repo.rstrip("/"), str(release.inputs["version"]).lstrip("v")


# Pinned charts that could not be vendored here (the reason on each).
NOT_YET_LOCKED = {
    # The mirror holds external-secrets only up to 2.9.0: no 2.11.0 tag, release commit or published package.
    ("external-secrets", "https://charts.external-secrets.io", "2.11.0"),
    # apache/airflow's snapshot is 1.27 GB, over the fetch limit; the code index cannot assemble chart/ at 1.19.0.
    ("airflow", "https://airflow.apache.org", "1.19.0"),
}


def test_the_lock_holds_exactly_the_charts_the_stacks_pin() -> None:
    variants = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in VARIANTS.glob("Pulumi.*.yaml"))
    assert variants
    pins = {pin for stack in STACKS for pin in _pinned(planned(stack))}
    pins |= {pin for variant in variants for pin in _pinned(planned(variant, VARIANTS))}
    locked = set(charts.lock())
    assert pins and locked
    assert sorted(pins - locked - NOT_YET_LOCKED) == [], "pinned but not locked (tools/vendor_charts_*.sh)"
    assert sorted(locked - pins) == [], "locked but pinned by no stack"
    assert sorted(NOT_YET_LOCKED & locked) == [], "locked now: remove from NOT_YET_LOCKED"


def _records(inv: Inventory, kind: str) -> list[ResourceRecord]:
    return [r for r in inv.resources if r.inputs.get("kind") == kind]


def test_prod_inventory_holds_the_charts_workloads_with_pod_specs() -> None:
    inv = planned("prod", render=True)
    if not inv.rendered():
        pytest.skip("chart store on this machine is empty (tools/vendor_charts_*.sh)")
    for kind in ("Deployment", "DaemonSet"):  # StatefulSets come from operators' custom resources or add-on charts
        found = [r for r in _records(inv, kind) if r.options.get("rendered")]
        assert found, f"no rendered {kind}"
        assert all(r.inputs["spec"]["template"]["spec"]["containers"] for r in found)
