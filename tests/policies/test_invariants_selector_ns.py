"""Family `selector`: the namespace an object lands in when its metadata names none (Kubernetes' "default", or the
namespace of the `k8s.Provider` it was created with), for workloads, Services, HPAs and Ingresses alike."""

from __future__ import annotations

from .helpers import R, messages
from .test_invariants_selector import HPAT, INGB, SEL, STS, hpa, ingress, service, workload

PROVIDER, JOB = "pulumi:providers:kubernetes", "kubernetes:batch/v1:Job"


def bare(res: R, provider: str | None = None) -> R:
    """`res` without metadata.namespace, created with `provider` (a resource name) if given."""
    del res.inputs["metadata"]["namespace"]
    res.provider = provider
    return res


def test_objects_without_namespace_meet_in_default() -> None:
    objects = [bare(workload()), bare(service({"app": "api"})), bare(hpa()), bare(ingress())]
    assert messages(HPAT, objects) == [] and messages(INGB, objects) == [] and messages(SEL, objects) == []
    broken = [bare(workload()), bare(hpa(name="apx")), bare(ingress("apj")), bare(service({"app": "api"}))]
    found = messages(HPAT, broken) + messages(INGB, broken)
    assert len(found) == 2 and "scales Deployment default/apx" in found[0] and "Service default/apj" in found[1]


def test_explicit_default_namespace_meets_an_object_without_one() -> None:
    assert messages(HPAT, [bare(workload()), hpa()]) != []  # hpa() is in "app": the twin that must fail
    in_default = hpa()
    in_default.inputs["metadata"]["namespace"] = "default"
    assert messages(HPAT, [bare(workload()), in_default]) == []


def test_objects_take_their_providers_namespace() -> None:
    provider = R(PROVIDER, "k8s", {"namespace": "app"})
    objects = [provider, bare(workload(), "k8s"), service({"app": "api"}), bare(hpa(), "k8s"), bare(ingress(), "k8s")]
    assert messages(SEL, objects) == [] and messages(HPAT, objects) == [] and messages(INGB, objects) == []
    unscoped = R(PROVIDER, "k8s", {})
    found = messages(SEL, [unscoped, bare(workload(), "k8s"), service({"app": "api"})])
    assert len(found) == 1 and "Service app/api (resource svc) selects no pods" in found[0]
    explicit = workload(ns="app")
    assert messages(SEL, [R(PROVIDER, "k8s", {"namespace": "other"}), explicit, service({"app": "api"})]) == []


def test_alb_action_backend_is_no_service() -> None:
    svc, action = service({"app": "api"}), ingress("ssl-redirect", {"name": "use-annotation"})
    action.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.ssl-redirect"] = (
        '{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}')
    assert messages(INGB, [workload(), svc, action]) == []
    named_port = ingress("ssl-redirect", {"name": "https"})
    assert len(messages(INGB, [workload(), svc, named_port])) == 1  # a real port name: the Service must exist


def test_selectors_on_controller_added_pod_labels() -> None:
    sts = workload(STS, name="kafka")
    sts.inputs["spec"]["replicas"] = 3
    for ordinal, ok in ((0, True), (2, True), (3, False)):
        per_pod = {"app": "api", "statefulset.kubernetes.io/pod-name": f"kafka-{ordinal}"}
        assert (messages(SEL, [sts, service(per_pod)]) == []) is ok
        index_sel = {"app": "api", "apps.kubernetes.io/pod-index": str(ordinal)}
        assert (messages(SEL, [sts, service(index_sel)]) == []) is ok
    job = workload(JOB, name="migrate")
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        assert messages(SEL, [job, service({key: "migrate"})]) == []
        found = messages(SEL, [job, service({key: "migrat"})])
        assert len(found) == 1 and "Job app/migrate {'app': 'api'}" in found[0]  # controller labels not shown
    assert messages(SEL, [job, service({"controller-uid": "0b5c2f9e"})]) == []
    assert len(messages(SEL, [workload(), service({"job-name": "api"})])) == 1  # a Deployment's pods have none
