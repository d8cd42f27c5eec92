"""MonitoringStack planned on the mock engine (tests/programs/monitoring): releases, selectors, secrets, CRD order,
alerts, dashboards, CloudWatch alarms and Managed Prometheus."""

from __future__ import annotations

import inspect
import json
from collections import Counter
from typing import Any

import pytest

from mlops_infra.exporter_metrics import DCGM_COUNTERS
from mlops_infra.plan import SECRET, Inventory, PlanError, ResourceRecord, plan_program
from tests.conftest import PROGRAMS

PROGRAM = PROGRAMS / "monitoring"
RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def full() -> Inventory:
    return plan_program(PROGRAM, "full")


@pytest.fixture(scope="module")
def minimal() -> Inventory:
    return plan_program(PROGRAM, "minimal")


def release(inv: Inventory, chart: str) -> ResourceRecord:
    [found] = [r for r in inv.of_type(RELEASE) if r.inputs["chart"] == chart]
    return found


# --- What the charts really put on their Services (read from the chart sources, not from our component) --------


def dcgm_service(release_name: str, values: dict[str, Any]) -> tuple[dict[str, str], str]:
    """NVIDIA/dcgm-exporter deployment/templates/service.yaml at 4.5.1-4.8.0: labels `dcgm-exporter.labels`
    (_helpers.tpl: chart, selectorLabels = name/instance/component, version, managed-by); port name "metrics"."""
    name = (values.get("nameOverride") or "dcgm-exporter")[:63].rstrip("-")
    return {"helm.sh/chart": "dcgm-exporter-4.8.0", "app.kubernetes.io/name": name,
            "app.kubernetes.io/instance": release_name, "app.kubernetes.io/component": name,
            "app.kubernetes.io/version": "4.8.0", "app.kubernetes.io/managed-by": "Helm"}, "metrics"


def pushgateway_service(release_name: str, values: dict[str, Any]) -> tuple[dict[str, str], str]:
    """prometheus-community/helm-charts charts/prometheus-pushgateway 3.8.0 templates/service.yaml: labels
    `defaultLabels` (chart, selectorLabels = name/instance, version, managed-by) plus `serviceLabels`; port name
    `service.portName` (default "http")."""
    name = (values.get("nameOverride") or "prometheus-pushgateway")[:63].rstrip("-")
    labels = {"helm.sh/chart": "prometheus-pushgateway-3.8.0", "app.kubernetes.io/name": name,
              "app.kubernetes.io/instance": release_name, "app.kubernetes.io/version": "v1.11.3",
              "app.kubernetes.io/managed-by": "Helm", **values.get("serviceLabels", {})}
    return labels, values.get("service", {}).get("portName", "http")


CHART_SERVICES = {"dcgm-exporter": dcgm_service, "prometheus-pushgateway": pushgateway_service}


def selector_matches(monitor: ResourceRecord, target: ResourceRecord) -> bool:
    """Whether the ServiceMonitor selects the Service its target release renders, on the right port."""
    labels, port = CHART_SERVICES[target.inputs["chart"]](
        "any-release-name", target.inputs["values"])  # the Pulumi-generated release name is not known in advance
    spec = monitor.inputs["spec"]
    wanted = spec["selector"]["matchLabels"]
    return (all(labels.get(k) == v for k, v in wanted.items())
            and spec["namespaceSelector"]["matchNames"] == [target.inputs["namespace"]]
            and all(endpoint["port"] == port for endpoint in spec["endpoints"]))


def monitored_release(inv: Inventory, monitor: ResourceRecord) -> ResourceRecord:
    index = inv.by_urn()
    [target] = [index[u] for u in monitor.options["dependsOn"]
                if index[u].type == RELEASE and index[u].inputs["chart"] in CHART_SERVICES]
    return target


# --- Plan shape ----------------------------------------------------------------------------------------------------


def test_full_plan_has_every_piece(full: Inventory) -> None:
    counts = Counter(r.type for r in full if r.custom)
    assert counts == {
        RELEASE: 3, SERVICE_MONITOR: 2, PROMETHEUS_RULE: 4, "kubernetes:core/v1:ConfigMap": 4,
        "kubernetes:core/v1:Secret": 2, "kubernetes:core/v1:Namespace": 1, "kubernetes:core/v1:ServiceAccount": 2,
        "random:index/randomPassword:RandomPassword": 1, "aws:kms/key:Key": 1, "aws:sns/topic:Topic": 1,
        "aws:sns/topicPolicy:TopicPolicy": 1, "aws:sns/topicSubscription:TopicSubscription": 2,
        "aws:iam/role:Role": 2, "aws:iam/rolePolicy:RolePolicy": 2, ALARM: 8, LOG_GROUP: 4,
        "aws:amp/workspace:Workspace": 1, "pulumi:providers:kubernetes": 1,
    }
    assert sorted(r.inputs["chart"] for r in full.of_type(RELEASE)) == [
        "dcgm-exporter", "kube-prometheus-stack", "prometheus-pushgateway"]


def test_minimal_plan_omits_what_the_platform_lacks(minimal: Inventory) -> None:
    assert [r.name for r in minimal.of_type(ALARM)] == ["mlops-dev-monitoring-cloudwatch-eks-failed-nodes"]
    assert minimal.of_type("kubernetes:core/v1:Namespace") == []  # the cluster's namespace is reused
    assert minimal.of_type("aws:amp/workspace:Workspace") == []
    assert minimal.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    assert sorted(r.inputs["metadata"]["name"] for r in minimal.of_type(PROMETHEUS_RULE)) == [
        "mlops-dev-monitoring-mlops-cluster", "mlops-dev-monitoring-mlops-features", "mlops-dev-monitoring-mlops-gpu"]
    assert len(minimal.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")) == 1


def test_every_child_is_under_the_component_and_kubernetes_uses_the_callers_provider(full: Inventory) -> None:
    [stack] = full.of_type("mlops:monitoring:MonitoringStack")
    provider = full.named("k8s").urn
    for record in full:
        if record.custom and record.type != "pulumi:providers:kubernetes":
            ancestors, parent = [], record.parent
            while parent:
                ancestors.append(parent)
                parent = full.by_urn()[parent].parent if parent in full.by_urn() else None
            assert stack.urn in ancestors, record.name
            assert record.name.startswith("mlops-prod-monitoring-"), record.name
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
    for rel in full.of_type(RELEASE):  # no credential rides in Helm values
        values = json.dumps(rel.inputs["values"])
        assert SECRET not in values and "api_url" not in values and "routing_key" not in values


def test_a_configured_receiver_without_its_secret_value_is_refused() -> None:
    with pytest.raises(PlanError) as info:
        plan_program(PROGRAM, "nosecret")
    assert str(info.value) == ("ValueError: mlops-dev-monitoring-alerts: receivers.slackWebhookSecret is set but no "
                               "slack_webhook_url was given")


def test_bad_config_fails_with_path_qualified_errors() -> None:
    with pytest.raises(PlanError) as info:
        plan_program(PROGRAM, "badconfig")
    assert info.value.kind == "input"
    assert str(info.value) == "\n".join([
        "mlops:platform: 3 problems",
        "  - monitoring.thresholds.gpuMemoryPercent: must be <= 100 (got 150)",
        "  - monitoring.thresholds.driftScore: must be <= 1 (got 1.5)",
        "  - monitoring.receivers.slackWebhookSecret: a Slack receiver needs its webhook secret",
    ])


# --- DCGM exporter and ServiceMonitors ------------------------------------------------------------------------------


def test_dcgm_exporter_is_pinned_tolerates_gpu_taints_and_emits_the_listed_counters(full: Inventory) -> None:
    dcgm = release(full, "dcgm-exporter")
    values = dcgm.inputs["values"]
    assert (dcgm.inputs["version"], dcgm.inputs["repositoryOpts"]) == (
        "4.8.0", {"repo": "https://nvidia.github.io/dcgm-exporter/helm-charts"})
    assert values["tolerations"] == [{"key": "example.com/dedicated", "operator": "Exists"},
                                     {"key": "nvidia.com/gpu", "operator": "Exists"}]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                            "values": ["g6e.12xlarge", "p5.48xlarge"]}]}]
    emitted = [line.split(",")[0] for line in values["customMetrics"].splitlines() if not line.startswith("#")]
    assert emitted == [name for name, _, _ in DCGM_COUNTERS]
    assert values["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["serviceMonitor"] == {"enabled": False}


def test_batch_jobs_get_a_stable_pushgateway_address(full: Inventory) -> None:
    values = release(full, "prometheus-pushgateway").inputs["values"]
    assert values["fullnameOverride"] == "mlops-prod-monitoring-pushgateway"  # the chart's Service name
    assert full.outputs["pushgatewayUrl"] == "http://mlops-prod-monitoring-pushgateway.monitoring.svc:9091"


@pytest.mark.parametrize("stack", ["full", "minimal"])
def test_every_service_monitor_selects_its_exporters_service(stack: str, request: pytest.FixtureRequest) -> None:
    inv = request.getfixturevalue(stack)
    monitors = inv.of_type(SERVICE_MONITOR)
    assert len(monitors) == 2
    for monitor in monitors:
        assert selector_matches(monitor, monitored_release(inv, monitor)), monitor.name


def test_the_selector_check_catches_a_peer_style_mismatch(full: Inventory) -> None:
    """The ai-on-eks DCGM ServiceMonitor selects a label the exporter does not carry: this check rejects it."""
    monitor = full.named("mlops-prod-monitoring-dcgm-servicemonitor")
    target = monitored_release(full, monitor)
    broken = ResourceRecord(**{**monitor.__dict__, "inputs": {**monitor.inputs, "spec": {
        **monitor.inputs["spec"], "selector": {"matchLabels": {"app": "nvidia-dcgm-exporter"}}}}})
    assert not selector_matches(broken, target)
    wrong_ns = ResourceRecord(**{**monitor.__dict__, "inputs": {**monitor.inputs, "spec": {
        **monitor.inputs["spec"], "namespaceSelector": {"matchNames": ["gpu-operator"]}}}})
    assert not selector_matches(wrong_ns, target)


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
    assert len(rules) == 13
    assert rules["GpuIdle"]["for"] == "45m" and rules["GpuIdle"]["expr"].endswith("< 7")
    assert rules["FeatureDrift"]["expr"] == "max by (model, feature) (mlops_feature_drift_score) > 0.25"
    assert rules["FeatureMaterializationLate"]["expr"].endswith("> 5400")
    assert rules["GpuXidError"]["labels"] == {"severity": "critical"}
    assert rules["MlflowDown"]["expr"] == 'absent(up{namespace="mlflow",job="mlflow"} == 1)'


def test_dashboards_are_labelled_configmaps_with_grafana_json(full: Inventory) -> None:
    boards = full.of_type("kubernetes:core/v1:ConfigMap")
    titles = set()
    for cm in boards:
        assert cm.inputs["metadata"]["labels"] == {"grafana_dashboard": "1"}
        [(key, text)] = cm.inputs["data"].items()
        model = json.loads(text)
        assert key == f"{model['uid']}.json"
        titles.add(model["title"])
    assert titles == {"GPU cluster", "Training jobs", "Model registry (MLflow)", "Feature store"}


# --- Alert topic, CloudWatch, KMS ----------------------------------------------------------------------------------


def test_alert_topic_is_encrypted_with_a_key_cloudwatch_and_eventbridge_may_use(full: Inventory) -> None:
    [key] = full.of_type("aws:kms/key:Key")
    [topic] = full.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].endswith(key.id)
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["ServicesUseKey"]["Principal"]["Service"] == [
        "cloudwatch.amazonaws.com", "events.amazonaws.com", "logs.us-east-1.amazonaws.com"]
    [policy] = full.of_type("aws:sns/topicPolicy:TopicPolicy")
    [publish] = json.loads(policy.inputs["policy"])["Statement"]
    assert publish["Action"] == ["sns:Publish"] and publish["Resource"] == [full.outputs["alertTopicArn"]]
    assert publish["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    emails = sorted(s.inputs["endpoint"] for s in full.of_type("aws:sns/topicSubscription:TopicSubscription"))
    assert emails == ["ml-team@example.com", "oncall@example.com"]


def test_alertmanager_may_publish_to_the_topic_only(full: Inventory) -> None:
    policy = json.loads(full.named("mlops-prod-monitoring-alerts-alertmanager-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["PublishAlerts"] == {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"],
                                       "Resource": [full.outputs["alertTopicArn"]]}
    assert all("*" not in action for s in policy["Statement"] for action in s["Action"] if action != "kms:ReEncrypt*")
    sa = full.named("mlops-prod-monitoring-alerts-alertmanager-sa")
    kps = release(full, "kube-prometheus-stack").inputs["values"]
    assert kps["alertmanager"]["serviceAccount"] == {"create": False, "name": sa.inputs["metadata"]["name"]}


def test_cloudwatch_alarms_cover_rds_dynamodb_nat_and_eks_and_notify_the_topic(full: Inventory) -> None:
    alarms = {r.name.removeprefix("mlops-prod-monitoring-cloudwatch-").removeprefix("mlops-prod-monitoring-data-alarms-"):
              r.inputs for r in full.of_type(ALARM)}
    assert sorted(alarms) == [
        "dynamodb-0-read-throttles", "dynamodb-0-write-throttles", "eks-failed-nodes",
        "nat-0-port-allocation-errors", "nat-1-port-allocation-errors",
        "rds-connections", "rds-cpu", "rds-free-storage"]
    topic = full.outputs["alertTopicArn"]
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic]
    assert (alarms["rds-cpu"]["metricName"], alarms["rds-cpu"]["threshold"]) == ("CPUUtilization", 80)
    assert alarms["rds-cpu"]["dimensions"] == {"DBInstanceIdentifier": "mlops-prod-mlflow"}
    assert alarms["rds-free-storage"]["threshold"] == 10 * 1024**3
    assert alarms["rds-free-storage"]["comparisonOperator"] == "LessThanThreshold"
    assert alarms["rds-connections"]["threshold"] == 400
    assert alarms["dynamodb-0-write-throttles"]["dimensions"] == {"TableName": "mlops-prod-online"}
    late = full.named("mlops-prod-monitoring-data-alarms-dynamodb-0-read-throttles")  # added after construction
    assert full.by_urn()[late.parent].type == "mlops:cloudwatch_alarms:CloudWatchAlarms"
    assert alarms["nat-1-port-allocation-errors"]["dimensions"] == {"NatGatewayId": "nat-0aaaaaaaaaaaaaaa2"}
    assert (alarms["eks-failed-nodes"]["namespace"], alarms["eks-failed-nodes"]["dimensions"]) == (
        "ContainerInsights", {"ClusterName": "mlops-test"})


@pytest.mark.parametrize(("stack", "retention", "protected"), [("full", 365, True), ("minimal", 30, False)])
def test_log_groups_are_encrypted_with_retention_per_environment(stack: str, retention: int, protected: bool,
                                                                 request: pytest.FixtureRequest) -> None:
    inv = request.getfixturevalue(stack)
    [key] = inv.of_type("aws:kms/key:Key")
    groups = inv.of_type(LOG_GROUP)
    assert sorted(g.inputs["name"] for g in groups) == [
        f"/aws/containerinsights/mlops-test/{t}" for t in ("application", "dataplane", "host", "performance")]
    for group in groups:
        assert group.inputs["kmsKeyId"].endswith(key.id)
        assert group.inputs["retentionInDays"] == retention
        assert group.options["protect"] is protected and group.options["retainOnDelete"] is protected
        assert group.inputs["deletionProtectionEnabled"] is protected


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
