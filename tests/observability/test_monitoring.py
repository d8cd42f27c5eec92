"""MonitoringCore and the concerns' contributions planned on the mock engine (tests/programs/monitoring): releases,
default rules against what is scraped, secrets, CRD order, rules, dashboards and Managed Prometheus. Scraping:
test_scraping.py; alert routing and CloudWatch alarms: test_alerting.py; who contributes what: test_contributions.py."""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from typing import Any

import pytest
import yaml

from mlops_infra.plan import SECRET, Inventory, PlanError
from tests.conftest import planned
from tests.nonempty import each
from tests.observability.conftest import ALARM, PROGRAM, PROMETHEUS_RULE, RELEASE, SERVICE_MONITOR, UPSTREAM, helm_merge, lookup, release

# --- Plan shape ----------------------------------------------------------------------------------------------------


def test_full_plan_has_every_piece(full: Inventory) -> None:
    counts = Counter(r.type for r in full if r.custom)
    assert counts == {
        RELEASE: 3, SERVICE_MONITOR: 2, PROMETHEUS_RULE: 4, "kubernetes:core/v1:ConfigMap": 4,
        "kubernetes:core/v1:Secret": 2, "kubernetes:core/v1:Namespace": 1, "kubernetes:core/v1:ServiceAccount": 2,
        "random:index/randomPassword:RandomPassword": 1, "aws:kms/key:Key": 1, "aws:sns/topic:Topic": 1,
        "aws:sns/topicPolicy:TopicPolicy": 1, "aws:sns/topicSubscription:TopicSubscription": 3,
        "aws:iam/role:Role": 2, "aws:iam/rolePolicy:RolePolicy": 2, ALARM: 11,
        "aws:amp/workspace:Workspace": 1, "pulumi:providers:kubernetes": 1,
    }
    assert sorted(r.inputs["chart"] for r in full.of_type(RELEASE)) == [
        "dcgm-exporter", "kube-prometheus-stack", "prometheus-pushgateway"]


def test_minimal_plan_omits_what_the_platform_lacks(minimal: Inventory) -> None:
    assert minimal.of_type(ALARM) == []  # no NAT and no Container Insights agent to alarm on; no data store
    assert minimal.of_type("kubernetes:core/v1:Namespace") == []  # the cluster's namespace is reused
    assert minimal.of_type("aws:amp/workspace:Workspace") == []
    assert minimal.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    # Only the cluster contributes, without GPUs: its node rules.
    assert sorted(r.inputs["metadata"]["name"] for r in minimal.of_type(PROMETHEUS_RULE)) == [
        "mlops-dev-cluster-observability-cluster-rules"]
    assert len(minimal.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")) == 1


CONTRIBUTORS = ("mlops:observability:MonitoringCore", "mlops:compute:ClusterObservability",
                "mlops:registry:ModelRegistryObservability", "mlops:features:FeatureStoreObservability")


def test_every_child_is_under_its_component_and_kubernetes_uses_the_callers_provider(full: Inventory) -> None:
    tops = {r.urn: r.name for r in full if r.type in CONTRIBUTORS and r.parent is None}
    assert len(tops) == len(CONTRIBUTORS)
    provider = full.named("k8s").urn
    for record in each(full):
        if record.custom and record.type != "pulumi:providers:kubernetes":
            ancestors, parent = [], record.parent
            while parent:
                ancestors.append(parent)
                parent = full.by_urn()[parent].parent if parent in full.by_urn() else None
            [top] = [tops[a] for a in ancestors if a in tops]
            assert record.name.startswith(f"{top}-"), record.name
        if record.type.startswith("kubernetes:") and record.custom and not record.type.startswith("pulumi:"):
            assert record.options["provider"] == provider, record.name


# --- kube-prometheus-stack ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "retention", "storage"), [("full", "30d", "200Gi"), ("minimal", "7d", "50Gi")])
def test_retention_and_gp3_storage_follow_the_environment(stack: str, retention: str, storage: str,
                                                          request: pytest.FixtureRequest) -> None:
    kps = release(request.getfixturevalue(stack), "kube-prometheus-stack")
    assert (kps.inputs["version"], kps.inputs["repositoryOpts"]) == (
        "82.1.0", {"repo": "https://prometheus-community.github.io/helm-charts"})
    spec = kps.inputs["values"]["prometheus"]["prometheusSpec"]
    assert spec["retention"] == retention
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"] == {
        "storageClassName": "gp3", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}


KPS_RULES = yaml.safe_load((UPSTREAM / "kube-prometheus-stack-82.1.0-rules.yaml").read_text())
# The chart component whose ServiceMonitor produces each `job` a default rule reads (_helpers.tpl `<component>.name`;
# the apiserver and node-exporter jobs are literal in the rules). `<fullname>-*` jobs are the chart's own pods.
JOB_COMPONENT = {"=kube-scheduler": "kubeScheduler", "=kube-controller-manager": "kubeControllerManager",
                 "=~.*etcd.*": "kubeEtcd", "=kube-proxy": "kubeProxy", "=kubelet": "kubelet",
                 "=apiserver": "kubeApiServer", "=kube-state-metrics": "kubeStateMetrics",
                 "=node-exporter": "nodeExporter", "=windows-exporter": "windowsMonitoring",
                 "=<fullname>-alertmanager": "alertmanager", "=<fullname>-prometheus": "prometheus",
                 "=<fullname>-operator": "prometheusOperator"}
# Jobs with no reachable target on EKS: the scheduler, controller manager and etcd run in the AWS-managed control
# plane (the chart's Services select no pod); kube-proxy's metrics listen on 127.0.0.1:10249 (EKS kube-proxy-config
# `metricsBindAddress`, the kube-proxy default; prometheus-community/helm-charts#977 "connection refused" on EKS).
EKS_NO_TARGET = {"=kube-scheduler", "=kube-controller-manager", "=~.*etcd.*", "=kube-proxy"}


def rendered_rule_jobs(values: dict[str, Any]) -> dict[str, list[str]]:
    """The default rule files kube-prometheus-stack 82.1.0 renders with these release values, and the jobs each reads."""
    effective = helm_merge(KPS_RULES["defaults"], values)
    return {name: spec["jobs"] for name, spec in KPS_RULES["ruleFiles"].items()
            if all(lookup(effective, gate) for gate in spec["gate"])}


def unscrapable_reads(values: dict[str, Any]) -> list[str]:
    """Rendered rules that read a job whose scrape is off in these values, or that EKS cannot scrape at all."""
    effective = helm_merge(KPS_RULES["defaults"], values)
    return sorted(f"{name}: {job}" for name, jobs in rendered_rule_jobs(values).items() for job in jobs
                  if job in EKS_NO_TARGET or not lookup(effective, f"{JOB_COMPONENT[job]}.enabled"))


@pytest.mark.parametrize("stack", ["full", "minimal"])
def test_no_default_rule_reads_a_job_the_stack_does_not_or_cannot_scrape(stack: str,
                                                                         request: pytest.FixtureRequest) -> None:
    values = release(request.getfixturevalue(stack), "kube-prometheus-stack").inputs["values"]
    effective = helm_merge(KPS_RULES["defaults"], values)
    assert unscrapable_reads(values) == []
    # ... while the rules EKS can serve stay on, and the hidden control plane is not scraped.
    assert {"kubelet.rules.yaml", "kube-state-metrics.yaml", "node-exporter.yaml", "kubernetes-system.yaml",
            "kube-apiserver-slos.yaml"} <= set(rendered_rule_jobs(values))
    assert {component: lookup(effective, f"{component}.enabled") for component in
            ("kubeScheduler", "kubeControllerManager", "kubeEtcd", "kubeProxy", "kubelet", "kubeApiServer")} == {
        "kubeScheduler": False, "kubeControllerManager": False, "kubeEtcd": False, "kubeProxy": False,
        "kubelet": True, "kubeApiServer": True}


def test_the_job_check_fails_on_the_chart_defaults() -> None:
    """What the stack installed before issue 14 #10 (no component values): KubeSchedulerDown and friends, forever."""
    assert unscrapable_reads({}) == [
        "etcd.yaml: =~.*etcd.*", "kube-scheduler.rules.yaml: =kube-scheduler",
        "kubernetes-system-controller-manager.yaml: =kube-controller-manager",
        "kubernetes-system-kube-proxy.yaml: =kube-proxy", "kubernetes-system-scheduler.yaml: =kube-scheduler"]
    assert set(KPS_RULES["defaults"]) >= {JOB_COMPONENT[j] for j in EKS_NO_TARGET}


def test_the_prod_prometheus_volume_names_a_storage_class_the_stack_creates(prod_plan: Inventory) -> None:
    """A PVC naming a class nobody creates stays Pending (issue 14 #7): the class must be in the same plan, on EBS."""
    spec = release(prod_plan, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    wanted = spec["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"]
    classes = {r.inputs["metadata"]["name"]: r.inputs for r in prod_plan.of_type("kubernetes:storage.k8s.io/v1:StorageClass")}
    assert wanted in classes
    assert classes[wanted]["provisioner"] == "ebs.csi.aws.com" and classes[wanted]["parameters"]["encrypted"] == "true"


def test_a_storage_class_the_cluster_lacks_is_refused() -> None:
    with pytest.raises(PlanError) as info:
        planned("nostorageclass", PROGRAM)
    # The component's line that raised, then the program's line that built it (tests/test_program_errors.py).
    assert re.fullmatch(re.escape("ValueError: mlops-dev-monitoring: monitoring.prometheus.storageClass 'gp3' is not a "
                                  "StorageClass of the cluster (standard)") + r" \(at \S*mlops_infra/observability/core\.py:\d+, "
                        r"called from \S*tests/programs/monitoring/__main__\.py:\d+\)", str(info.value)), str(info.value)


def test_other_components_monitors_and_rules_are_picked_up(full: Inventory) -> None:
    spec = release(full, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert {k: v for k, v in spec.items() if k.endswith("SelectorNilUsesHelmValues")} == {
        "serviceMonitorSelectorNilUsesHelmValues": False, "podMonitorSelectorNilUsesHelmValues": False,
        "ruleSelectorNilUsesHelmValues": False, "probeSelectorNilUsesHelmValues": False,
        "scrapeConfigSelectorNilUsesHelmValues": False}


def test_alertmanager_and_grafana_read_their_credentials_from_our_secrets(full: Inventory) -> None:
    kps = release(full, "kube-prometheus-stack")
    values = kps.inputs["values"]
    am_secret = full.named("mlops-prod-monitoring-alerts-alertmanager-config")
    grafana_secret = full.named("mlops-prod-monitoring-grafana-admin")
    assert values["alertmanager"]["enabled"] is True
    assert values["alertmanager"]["alertmanagerSpec"]["useExistingSecret"] is True
    assert values["alertmanager"]["alertmanagerSpec"]["configSecret"] == am_secret.inputs["metadata"]["name"]
    assert "config" not in values["alertmanager"]
    assert values["grafana"]["admin"] == {"existingSecret": grafana_secret.inputs["metadata"]["name"],
                                          "userKey": "admin-user", "passwordKey": "admin-password"}
    assert "adminPassword" not in values["grafana"]
    assert {am_secret.urn, grafana_secret.urn} <= set(kps.property_dependencies["values"])


# --- Secrets -------------------------------------------------------------------------------------------------------


def test_every_credential_is_a_pulumi_secret(full: Inventory) -> None:
    for name in ("mlops-prod-monitoring-alerts-alertmanager-config", "mlops-prod-monitoring-grafana-admin"):
        secret = full.named(name)
        assert secret.inputs["stringData"] == SECRET
        assert "stringData" in secret.options["additionalSecretOutputs"]
    grafana = full.named("mlops-prod-monitoring-grafana-admin")
    assert grafana.property_dependencies["stringData"] == [full.named("mlops-prod-monitoring-grafana-password").urn]
    text = full.dumps()
    assert "slackwebhookciphertext" not in text and "pagerdutyciphertext" not in text
    assert "mock-" not in text  # the mock RandomPassword result
    for rel in each(full.of_type(RELEASE)):  # no credential rides in Helm values
        values = json.dumps(rel.inputs["values"])
        assert SECRET not in values and "api_url" not in values and "routing_key" not in values


def test_bad_config_fails_with_path_qualified_errors() -> None:
    with pytest.raises(PlanError) as info:
        planned("badconfig", PROGRAM)
    assert info.value.kind == "input"
    assert str(info.value) == "\n".join([
        "mlops:platform: 3 problems",
        "  - monitoring.thresholds.gpuMemoryPercent: must be <= 100 (got 150)",
        "  - monitoring.thresholds.driftScore: must be <= 1 (got 1.5)",
        "  - monitoring.receivers.slackWebhookSecret: a Slack receiver needs its webhook secret",
    ])



def test_custom_resources_wait_for_the_crds(full: Inventory) -> None:
    kps = release(full, "kube-prometheus-stack").urn
    crs = full.of_type(SERVICE_MONITOR) + full.of_type(PROMETHEUS_RULE)
    assert len(crs) == 6
    for record in crs:
        assert kps in record.options["dependsOn"], record.name


# --- Rules and dashboards in the plan -------------------------------------------------------------------------------


def test_rules_carry_the_configured_thresholds(full: Inventory) -> None:
    rules = {rule["alert"]: rule for r in full.of_type(PROMETHEUS_RULE)
             for group in r.inputs["spec"]["groups"] for rule in group["rules"]}
    assert len(rules) == 12 and "MlPodCrashLooping" not in rules  # crash loops: the chart's KubePodCrashLooping
    assert rules["GpuIdle"]["for"] == "45m" and rules["GpuIdle"]["expr"].endswith("< 7")
    assert rules["FeatureDrift"]["expr"] == "max by (model, feature) (mlops_feature_drift_score) > 0.25"
    assert rules["FeatureMaterializationLate"]["expr"].endswith("> 5400")
    assert rules["GpuXidError"]["labels"] == {"severity": "critical"}
    assert rules["MlflowDown"]["expr"] == 'absent(up{namespace="mlflow",job="mlflow"} == 1)'


def test_dashboards_are_labelled_configmaps_with_grafana_json(full: Inventory) -> None:
    boards = full.of_type("kubernetes:core/v1:ConfigMap")
    titles = set()
    for cm in each(boards):
        assert cm.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"  # what the sidecar selects
        assert cm.inputs["metadata"]["namespace"] == full.outputs["namespace"]
        [(key, text)] = cm.inputs["data"].items()
        model = json.loads(text)
        assert key == f"{model['uid']}.json"
        titles.add(model["title"])
    assert titles == {"GPU cluster", "Training jobs", "Model registry (MLflow)", "Feature store"}


# --- Amazon Managed Prometheus --------------------------------------------------------------------------------------


def test_managed_prometheus_remote_write_through_irsa(full: Inventory) -> None:
    [workspace] = full.of_type("aws:amp/workspace:Workspace")
    [key] = full.of_type("aws:kms/key:Key")
    assert workspace.inputs["kmsKeyArn"].endswith(key.id)
    assert workspace.options["protect"] is True
    arn = full.outputs["managedPrometheusWorkspaceArn"]
    policy = json.loads(full.named("mlops-prod-monitoring-prometheus-policy").inputs["policy"])
    assert policy["Statement"] == [{"Sid": "RemoteWrite", "Effect": "Allow", "Action": ["aps:RemoteWrite"],
                                    "Resource": [arn]}]
    trust = json.loads(full.named("mlops-prod-monitoring-prometheus-role").inputs["assumeRolePolicy"])
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:monitoring:prometheus", f"{issuer}:aud": "sts.amazonaws.com"}
    prom = release(full, "kube-prometheus-stack").inputs["values"]["prometheus"]
    assert prom["serviceAccount"] == {"create": False, "name": "prometheus"}
    assert prom["prometheusSpec"]["remoteWrite"] == [{
        "url": f"https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-{workspace.id}/api/v1/remote_write",
        "sigv4": {"region": "us-east-1"}}]
    sa = full.named("mlops-prod-monitoring-prometheus-sa")
    assert sa.inputs["automountServiceAccountToken"] is True  # service discovery needs the API


def test_without_managed_prometheus_the_chart_keeps_its_own_service_account(minimal: Inventory) -> None:
    prom = release(minimal, "kube-prometheus-stack").inputs["values"]["prometheus"]
    assert "serviceAccount" not in prom and "remoteWrite" not in prom["prometheusSpec"]
    assert "managedPrometheusWorkspaceArn" not in minimal.outputs


def test_no_deprecated_resource_types(full: Inventory) -> None:
    from tests.test_no_deprecated_resources import sdk_class

    deprecated = [t for t in sorted({r.type for r in full})
                  if (cls := sdk_class(t)) is not None and "has been deprecated" in inspect.getsource(cls)]
    assert deprecated == []


UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30,
         "TiB": 2**40}
"""Prometheus's size units are powers of 2 (`--storage.tsdb.retention.size`); Kubernetes quantities: Gi, Ti."""


def _bytes(quantity: str, suffixes: dict[str, int]) -> int:
    number = quantity.rstrip("".join({c for s in suffixes for c in s}))
    return int(float(number) * suffixes[quantity[len(number):]])


@pytest.mark.charts("kube-prometheus-stack")
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_size_retention_frees_blocks_before_the_volume_fills(stack: str) -> None:
    """The Prometheus object the chart renders deletes blocks at a size under its volume's (issue #27: time retention
    alone lets a busy Prometheus fill the PVC and stop ingesting)."""
    prometheus = [r for r in planned(stack, render=True).of_type("kubernetes:monitoring.coreos.com/v1:Prometheus")
                  if r.options.get("rendered")]
    assert len(prometheus) == 1, f"{stack}: the chart renders one Prometheus"
    spec = prometheus[0].inputs["spec"]
    size = _bytes(spec["retentionSize"], UNITS)
    volume = _bytes(spec["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"],
                    {"Gi": 2**30, "Ti": 2**40})
    assert 0 < size <= 0.85 * volume, f"{stack}: retentionSize {spec['retentionSize']} for a {volume / 2**30:g}Gi volume"
