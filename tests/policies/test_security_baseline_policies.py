"""Security baseline stack policies: the compliant prod plan first, then one change per case with its exact message."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from mlops_policies.core import NotApplicable, Resource, Stack, plain
from mlops_policies.security_baseline import audit_trail, guardduty_eks, no_plaintext_secrets

from mlops_infra.plan import Inventory
from tests.conftest import planned

PROGRAM = Path(__file__).resolve().parent.parent / "programs" / "security_baseline"
PROD = {"environment": "prod", "environments": ["prod"]}
Check = Callable[[Stack, dict[str, Any]], Iterable[tuple[Resource, str]]]


def to_stack(inv: Inventory) -> list[Resource]:
    return [Resource(r.type, r.name, r.urn, plain(r.inputs),
                     {k: tuple(v) for k, v in r.property_dependencies.items()}, r.parent) for r in inv if r.custom]


@pytest.fixture(scope="module")
def prod() -> list[Resource]:
    return to_stack(planned("prod", PROGRAM))


@pytest.fixture(scope="module")
def dev() -> list[Resource]:
    return to_stack(planned("dev", PROGRAM))


def run(check: Check, resources: list[Resource], config: dict[str, Any] = PROD) -> list[tuple[str, str]]:
    return [(res.name, msg) for res, msg in check(Stack(resources), config)]


def change(resources: list[Resource], name: str, typ: str, edit: Callable[[dict[str, Any]], None]) -> list[Resource]:
    """A copy of the stack with one resource's props edited."""
    out = []
    for res in resources:
        if res.name == name and res.type == typ:
            props = copy.deepcopy(dict(res.props))
            edit(props)
            res = dataclasses.replace(res, props=props)
        out.append(res)
    return out


def drop(resources: list[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type not in types]


def add(resources: list[Resource], typ: str, name: str, props: dict[str, Any]) -> list[Resource]:
    return [*resources, Resource(typ, name, f"urn:pulumi:prod::p::{typ}::{name}", plain(props))]


TRAIL = "aws:cloudtrail/trail:Trail"
FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"


@pytest.mark.parametrize("check", [audit_trail, guardduty_eks, no_plaintext_secrets])
def test_the_prod_plan_is_compliant(prod: list[Resource], check: Check) -> None:
    assert run(check, prod) == []


def test_prod_only_rules_do_not_apply_elsewhere(dev: list[Resource]) -> None:
    for check in (audit_trail, guardduty_eks):
        with pytest.raises(NotApplicable, match=r"applies only in prod \(environment: dev\)"):
            run(check, dev, {"environment": "dev", "environments": ["prod"]})


def test_a_prod_stack_without_trail_or_detector(dev: list[Resource]) -> None:
    assert run(audit_trail, dev) == [("(stack)", NO_TRAIL)]
    assert run(guardduty_eks, dev) == [("(stack)", NO_DETECTOR)]


NO_TRAIL = ("stack has no CloudTrail trail, and its policy config names no platform stack whose trail records the "
            "account (platformStack)")
NO_DETECTOR = ("stack has no GuardDuty detector, and its policy config names no platform stack whose detector watches "
               "the account (platformStack)")


@pytest.mark.parametrize(("check", "message"), [(audit_trail, NO_TRAIL), (guardduty_eks, NO_DETECTOR)])
def test_a_consumer_naming_its_platform_stack_is_satisfied(dev: list[Resource], check: Check, message: str) -> None:
    """One trail and one detector per account and Region: a consumer stack (no securityBaseline of its own) is
    covered by the platform stack its policy config names. Even a StackReference to a platform that exports the trail
    does not count: the engine never shows a stack policy a read resource (test below)."""
    assert run(check, dev, {**PROD, "platformStack": "acme/mlops-platform/prod"}) == []
    with_ref = add(dev, "pulumi:pulumi:StackReference", "platform",
                   {"name": "acme/mlops-platform/prod", "outputs": {"auditTrailArn": "arn:x", "guardDutyDetectorId": "d"},
                    "secretOutputNames": []})
    assert run(check, with_ref) == [("(stack)", message)]


def test_missing_trail_is_reported_on_each_data_bucket(prod: list[Resource]) -> None:
    assert run(audit_trail, drop(prod, TRAIL)) == [
        ("(stack)", NO_TRAIL),
        ("feature-offline", "no CloudTrail trail records data events for this data bucket"),
        ("model-artifacts", "no CloudTrail trail records data events for this data bucket"),
    ]


@pytest.mark.parametrize(("prop", "value", "message"), [
    ("isMultiRegionTrail", False, "trail is not multi-region (isMultiRegionTrail)"),
    ("enableLogFileValidation", False, "trail has no log file validation (enableLogFileValidation)"),
    ("kmsKeyId", None, "trail log files are not encrypted with a KMS key (kmsKeyId)"),
])
def test_trail_hardening(prod: list[Resource], prop: str, value: Any, message: str) -> None:
    def edit(props: dict[str, Any]) -> None:
        props[prop] = value

    assert run(audit_trail, change(prod, "sec-audit-trail", TRAIL, edit)) == [("sec-audit-trail", message)]


def test_trail_without_data_events_leaves_the_data_buckets_uncovered(prod: list[Resource]) -> None:
    def management_only(props: dict[str, Any]) -> None:
        props["advancedEventSelectors"] = props["advancedEventSelectors"][:1]

    message = "no CloudTrail trail records S3 data events (reads and writes) for this data bucket"
    assert run(audit_trail, change(prod, "sec-audit-trail", TRAIL, management_only)) == [
        ("feature-offline", message), ("model-artifacts", message)]


def test_write_only_data_events_do_not_answer_who_read(prod: list[Resource]) -> None:
    def write_only(props: dict[str, Any]) -> None:
        props["advancedEventSelectors"][1]["fieldSelectors"].append({"field": "readOnly", "equals": ["false"]})

    assert [n for n, _ in run(audit_trail, change(prod, "sec-audit-trail", TRAIL, write_only))] == [
        "feature-offline", "model-artifacts"]


def test_legacy_event_selectors_on_all_buckets_cover_them(prod: list[Resource]) -> None:
    def legacy(props: dict[str, Any]) -> None:
        props["advancedEventSelectors"] = None
        props["eventSelectors"] = [{"readWriteType": "All",
                                    "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}]

    assert run(audit_trail, change(prod, "sec-audit-trail", TRAIL, legacy)) == []


@pytest.mark.parametrize(("feature", "message"), [
    ("EKS_AUDIT_LOGS", "EKS audit-log monitoring is not enabled (detector feature EKS_AUDIT_LOGS)"),
    ("RUNTIME_MONITORING", "EKS runtime monitoring is not enabled (detector feature RUNTIME_MONITORING)"),
])
def test_guardduty_eks_features(prod: list[Resource], feature: str, message: str) -> None:
    name = f"sec-threats-{feature.lower().replace('_', '-')}"

    def disable(props: dict[str, Any]) -> None:
        props["status"] = "DISABLED"

    assert run(guardduty_eks, change(prod, name, FEATURE, disable)) == [("sec-threats-detector", message)]


def test_guardduty_detector_disabled(prod: list[Resource]) -> None:
    def off(props: dict[str, Any]) -> None:
        props["enable"] = False

    assert run(guardduty_eks, change(prod, "sec-threats-detector", "aws:guardduty/detector:Detector", off)) == [
        ("sec-threats-detector", "GuardDuty detector is disabled (enable)")]


def test_kubernetes_secret_with_a_literal_value(prod: list[Resource]) -> None:
    stack = add(prod, "kubernetes:core/v1:Secret", "wandb-literal",
                {"metadata": {"name": "wandb"}, "stringData": {"key": "0123456789abcdef", "masked": "[secret]"}})
    stack = add(stack, "kubernetes:core/v1:Secret", "all-masked", {"metadata": {"name": "m"}, "data": "[secret]"})
    assert run(no_plaintext_secrets, stack) == [
        ("wandb-literal", "Secret stringData.key holds a plaintext value; deliver it with an ExternalSecret")]


def test_under_the_engine_a_secret_the_sdk_marked_is_not_judged_by_its_value(prod: list[Resource]) -> None:
    """The engine shows policies secret values unwrapped (pulumi_policy deserialize.py): a typed Secret's stringData
    reads as plain text there whether the program passed a literal or Output.secret, so only the plan's record of
    literals (literal_secrets) can judge it."""
    typ = "kubernetes:core/v1:Secret"
    shown = {"metadata": {"name": "db"}, "stringData": {"password": "from-output-secret"}}
    marked = Resource(typ, "typed", f"urn:pulumi:prod::p::{typ}::typed", plain(shown),
                      secret_outputs=("data", "stringData"))
    literal = Resource(typ, "literal", f"urn:pulumi:prod::p::{typ}::literal", plain(shown),
                       secret_outputs=("data", "stringData"), literal_secrets=("/stringData/password",))
    assert [name for name, _ in run(no_plaintext_secrets, [*prod, marked, literal])] == ["literal"]


def test_configmap_with_a_credential(prod: list[Resource]) -> None:
    stack = add(prod, "kubernetes:core/v1:ConfigMap", "app-config",
                {"data": {"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info", "notify.yaml": "url: https://hooks.slack.com/services/T0/B0/x"}})
    assert run(no_plaintext_secrets, stack) == [
        ("app-config", "ConfigMap data.DB_PASSWORD holds a credential; ConfigMaps are not secret"),
        ("app-config", "ConfigMap data.notify.yaml.url holds a credential; ConfigMaps are not secret"),
    ]


def test_helm_values_with_credentials_but_not_references(prod: list[Resource]) -> None:
    values = {"tracking": {"wandb": {"apiKey": "[secret]", "existingSecret": "wandb"}},
              "auth": {"existingSecretName": "oidc", "clientSecretKeyRef": "client-secret"},
              # kube-prometheus-stack's references to Secrets we create: names, not credentials
              "alertmanager": {"alertmanagerSpec": {"configSecret": "alertmanager-config"}},
              "grafana": {"admin": {"existingSecret": "grafana-admin", "passwordKey": "admin-password",
                                    "userKey": "admin-user"}},
              "pagerduty": {"routingKey": "0123456789abcdef"},
              "alerts": ["https://hooks.slack.com/services/T0/B0/abc"], "processPushSecret": False}
    stack = add(prod, "kubernetes:helm.sh/v3:Release", "tracker", {"values": values})
    assert run(no_plaintext_secrets, stack) == [
        ("tracker", "Helm value tracking.wandb.apiKey holds a credential; reference a Secret by name instead"),
        ("tracker", "Helm value pagerduty.routingKey holds a credential; reference a Secret by name instead"),
        ("tracker", "Helm value alerts[0] holds a credential; reference a Secret by name instead"),
    ]


def test_credentials_inside_json_arrays_and_yaml_documents_in_a_configmap(prod: list[Resource]) -> None:
    """Review finding: a JSON array or a YAML file held in a ConfigMap value hid its credentials; numbers under a
    credential-like key (`tokenTTL: 3600`) are not credentials."""
    data = {"clients.json": '[{"name": "a", "clientSecret": "s3cr3t"}]',
            "app.yaml": "database:\n  host: db\n  password: hunter2\n  passwordMinLength: 12\n",
            "limits.json": '{"tokenTTL": 3600, "apiKeyName": "key"}'}
    stack = add(prod, "kubernetes:core/v1:ConfigMap", "app-config", {"data": data})
    assert run(no_plaintext_secrets, stack) == [
        ("app-config", "ConfigMap data.clients.json[0].clientSecret holds a credential; ConfigMaps are not secret"),
        ("app-config", "ConfigMap data.app.yaml.database.password holds a credential; ConfigMaps are not secret"),
    ]


def test_a_secret_in_a_config_groups_yaml_and_helm_v4_chart_values(prod: list[Resource]) -> None:
    manifest = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                "apiVersion: v1\nkind: Secret\nmetadata: {name: api}\nstringData: {token: abc123}\n")
    stack = add(add(prod, "kubernetes:yaml/v2:ConfigGroup", "group", {"yaml": manifest}),
                "kubernetes:helm.sh/v4:Chart", "chart", {"values": {"auth": {"password": "hunter2"}}})
    assert run(no_plaintext_secrets, stack) == [
        ("group", "Secret api stringData.token in the ConfigGroup's yaml holds a plaintext value"),
        ("chart", "Helm value auth.password holds a credential; reference a Secret by name instead"),
    ]


def test_credentials_in_multi_document_one_line_and_ini_config_files_and_values_files(prod: list[Resource]) -> None:
    """Review finding: a second YAML document, a one-line YAML, an INI file and a Release's in-memory values file
    hid their credentials."""
    data = {"multi.yaml": "a: 1\n---\npassword: hunter2\n", "one.yaml": "apiToken: abc123",
            "app.ini": "[db]\nhost = db\npassword = hunter2\n", "script.sh": "echo hello\n"}
    stack = add(add(prod, "kubernetes:core/v1:ConfigMap", "files", {"data": data}),
                "kubernetes:helm.sh/v3:Release", "rel", {"values": {}, "valueYamlFiles": [
                    {"text": "auth:\n  password: hunter2\n"}, {"path": "values.yaml"}]})
    assert run(no_plaintext_secrets, stack) == [
        ("files", "ConfigMap data.multi.yaml[1].password holds a credential; ConfigMaps are not secret"),
        ("files", "ConfigMap data.one.yaml.apiToken holds a credential; ConfigMaps are not secret"),
        ("files", "ConfigMap data.app.ini.password holds a credential; ConfigMaps are not secret"),
        ("rel", "Helm valueYamlFiles[0] auth.password holds a credential; reference a Secret by name instead"),
    ]


def test_the_check_of_a_prod_consumer_stack_sees_no_stack_reference_and_reads_platform_stack(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through `mlops-infra check` as the engine runs the packs: the team workspace (a consumer stack) planned in prod
    against the prod platform's outputs, which export `auditTrailArn` and `guardDutyDetectorId`. Its StackReference
    is not shown to the stack policies, so both find the stack without a trail or a detector until its policy config
    names the platform stack."""
    import json
    import shutil

    import yaml

    from mlops_infra.cli.main import main
    from tests.conftest import ROOT

    platform = planned("prod").outputs
    assert platform["auditTrailArn"] and platform["guardDutyDetectorId"]
    program = tmp_path / "team-workspace"
    shutil.copytree(ROOT / "stacks" / "team-workspace", program)
    stack = yaml.safe_load((program / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    reference = stack["config"]["team:workspace"]["platformStack"] = "organization/mlops-platform/prod"
    (program / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack), encoding="utf-8")
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({reference: platform}), encoding="utf-8")

    def findings(*config: str) -> dict[str, str]:
        main(["check", "--program", str(program), "--stack", "prod", "--stack-refs", str(refs), "--no-render",
              "--format", "json", "--quiet", *config])
        report = json.loads(capsys.readouterr().out)
        return {f["policy"]: f["message"] for f in report["findings"]}

    found = findings()
    assert found.get("mlops-cloudtrail-audit-trail") == NO_TRAIL
    assert found.get("mlops-guardduty-eks-protection") == NO_DETECTOR
    config = tmp_path / "prod.json"
    config.write_text(json.dumps({p: {"platformStack": reference} for p in (
        "mlops-cloudtrail-audit-trail", "mlops-guardduty-eks-protection")}), encoding="utf-8")
    found = findings("--policy-config", str(config))
    assert "mlops-cloudtrail-audit-trail" not in found and "mlops-guardduty-eks-protection" not in found
