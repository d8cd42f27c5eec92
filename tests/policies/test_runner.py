"""`mlops-infra check`: exit codes, environment strictness, policy config, waivers (incl. expiry), SARIF, the packs."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from mlops_policies import aws_s3, cost
from mlops_policies.packs import PACKS, all_rules, build_policies
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from mlops_infra.cli.main import main
from tests.conftest import PROGRAMS, ROOT
from tests.nonempty import each

from .cases import Case
from .helpers import R, run
from .test_aws_compute import CASES as COMPUTE
from .test_aws_data import CASES as DATA
from .test_aws_eks import CASES as EKS
from .test_aws_iam import CASES as IAM
from .test_aws_kms_logs import CASES as KMS_LOGS
from .test_aws_network import CASES as NETWORK
from .test_aws_s3 import CASES as S3
from .test_cost import BUDGET_CASES
from .test_cost import CASES as COST
from .test_crd_schema import POLICY_CASES as CRDS
from .test_data_policies import CASES as DATA_VERSIONING
from .test_feast import CASES as FEAST
from .test_invariants_cluster import CASES as INVARIANTS_CLUSTER
from .test_invariants_families import CASES as INVARIANTS_FAMILIES
from .test_invariants_families_added import CASES as ADDED_FAMILIES
from .test_invariants_identity import CASES as IDENTITY
from .test_invariants_kms import CASES as KMS_USERS
from .test_invariants_network import PORT_CASES as NETWORK_PORTS
from .test_invariants_network import REACH_CASES as NETWORK_REACH
from .test_invariants_relations import CASES as INVARIANTS_RELATIONS
from .test_k8s import CASES as K8S
from .test_k8s_schema import CASES as CORE_SCHEMA
from .test_literal_secrets import CASES as LITERALS
from .test_pipelines_engines_policies import CASES as PIPELINES_ENGINES
from .test_pipelines_policies import CASES as PIPELINES
from .test_placeholders import CASES as PLACEHOLDERS
from .test_pod_security_admission import POLICY_CASES as ADMISSION
from .test_rendering_policies import RENDERING
from .test_serving_policies import CASES as SERVING
from .test_vector_search import CASES as VECTOR_SEARCH

MISCONFIGURED = PROGRAMS / "misconfigured"
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json").read_text())
EXPECTED_MISCONFIGURED = sorted([
    ("mlops-eks-public-endpoint-restricted", "open-cluster", "public endpoint allows 0.0.0.0/0"),
    ("mlops-iam-no-star-on-star", "admin-everything", "policy statement Everything allows * on *"),
    ("mlops-k8s-no-privileged", "root-app", "container 'app' is privileged"),
    ("mlops-rds-not-public", "public-db", "instance is publicly accessible"),
    ("mlops-s3-policy-no-wildcard-principal", "raw-data-policy", "statement PublicRead allows principal * without a condition"),
    ("mlops-s3-public-access-block", "raw-data", "bucket has no public access block"),
    ("mlops-sg-no-world-ingress", "ssh-anywhere", "ingress from 0.0.0.0/0 on port 22"),
    ("mlops-eks-private-endpoint", "open-cluster", "private endpoint access is off (vpcConfig.endpointPrivateAccess)"),
    ("mlops-eks-secrets-encryption", "open-cluster",
     "secrets are not envelope-encrypted (encryptionConfig with resources ['secrets'])"),
    ("mlops-iam-no-wildcard-actions", "admin-everything", "policy statement Everything allows wildcard actions *"),
    ("mlops-s3-bucket-encryption-kms", "raw-data", "SSE algorithm is AES256; use aws:kms with a customer-managed key"),
    ("mlops-s3-tls-only-policy", "raw-data",
     "bucket policy does not deny requests without TLS (aws:SecureTransport false)"),
    ("mlops-eks-control-plane-logging", "open-cluster",
     "control-plane log types not enabled: api, audit, authenticator, controllerManager, scheduler"),
    ("mlops-eks-supported-version", "open-cluster",
     "Kubernetes 1.29 is not in standard support (supported: 1.33, 1.34, 1.35)"),
    ("mlops-k8s-image-pinned", "root-app", "container 'app' image nginx:latest uses the latest tag"),
    ("mlops-inv-pod-reference", "root-app", "Deployment apps/root-app serviceAccountName names ServiceAccount apps/app, "
     "which nothing in the stack creates in apps: the pod never starts; create the ServiceAccount in apps (or an "
     "ExternalSecret/chart that produces it), fix the name, or mark the reference optional"),
    ("mlops-kms-key-rotation", "untagged-key", "key rotation is off (enableKeyRotation)"),
    ("mlops-s3-ownership-enforced", "raw-data", "bucket has no ownership controls (ACLs stay enabled)"),
    ("mlops-s3-versioning", "raw-data", "bucket has no versioning configuration"),
    ("mlops-cost-required-tags", "untagged-key", "missing cost tags: owner, cost-center, environment, data-classification"),
    ("mlops-kms-key-policy", "untagged-key", "key has no explicit key policy (the default grants the whole account)"),
])
ALL_CASES: list[Case] = [*S3, *KMS_LOGS, *EKS, *COMPUTE, *NETWORK, *DATA, *IAM, *K8S, *COST, *FEAST, *INVARIANTS_CLUSTER,
                         *INVARIANTS_RELATIONS, *NETWORK_PORTS, *NETWORK_REACH, *BUDGET_CASES, *VECTOR_SEARCH, *PIPELINES,
                         *PIPELINES_ENGINES,
                         *SERVING, *DATA_VERSIONING, *RENDERING, *ADMISSION, *CRDS, *LITERALS, *CORE_SCHEMA,
                         *INVARIANTS_FAMILIES, *PLACEHOLDERS]
ALL_CASES += [*KMS_USERS, *IDENTITY]  # #30 families kms-users and identity
ALL_CASES += ADDED_FAMILIES  # #30 families volume-zone, ip-capacity, probe-port


def check_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def misconfigured_json() -> tuple[int, dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "mlops_infra.cli.main", "check", "--program", str(MISCONFIGURED),
                          "--stack", "test", "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return out.returncode, json.loads(out.stdout)


@pytest.mark.slow  # the CLI in a subprocess (misconfigured_json)
def test_misconfigured_program_yields_the_expected_violations(misconfigured_json: tuple[int, dict[str, Any]]) -> None:
    code, report = misconfigured_json
    assert code == 1
    assert report["environment"] == "test"  # no mlops:platform, no --environment: the stack name (strict)
    found = sorted((f["policy"], f["resource"]["name"], f["message"]) for f in report["findings"])
    assert found == EXPECTED_MISCONFIGURED
    assert {f["enforcement"] for f in report["findings"]} == {"mandatory"}


@pytest.mark.slow  # the CLI in a subprocess (misconfigured_json)
def test_waiver_from_the_policy_config_file_applies_and_keeps_its_reason(
        misconfigured_json: tuple[int, dict[str, Any]]) -> None:
    _, report = misconfigured_json
    assert [(w["policy"], w["resource"]["name"], w["reason"]) for w in report["waived"]] == [
        ("mlops-cost-unpriced", "public-db", "the price table has no RDS gp2 storage rate; this program shows other "
         "violations"),
        ("mlops-s3-lifecycle", "raw-data", "raw landing zone: objects are moved out by the ingest job")]
    assert not any(f["policy"] == "mlops-sg-descriptions" for f in report["findings"])  # "disabled" in the file


def test_dev_environment_makes_standard_policies_advisory(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = check_json(capsys, "--program", str(MISCONFIGURED), "--stack", "test", "--environment", "dev")
    assert code == 0
    assert report["environment"] == "dev"
    assert report["summary"]["mandatory"] == 0 and report["summary"]["advisory"] == len(EXPECTED_MISCONFIGURED)


def test_policy_config_sets_a_policy_mandatory_in_dev(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "dev.json"
    shipped = json.loads((MISCONFIGURED / "policies" / "config" / "test.json").read_text())  # its waivers
    config.write_text(json.dumps({**shipped, "mlops-rds-not-public": {"enforcementLevel": "mandatory"}}))
    code, report = check_json(capsys, "--program", str(MISCONFIGURED), "--stack", "test", "--environment", "dev",
                              "--policy-config", str(config))
    assert code == 1
    assert [(f["policy"], f["resource"]["name"]) for f in report["findings"] if f["enforcement"] == "mandatory"] == [
        ("mlops-rds-not-public", "public-db")]


def test_strictness_always_is_mandatory_in_dev() -> None:
    report = run("mlops-cost-dev-gpu-spot", [R(cost.NODE_GROUP, "g", {"instanceTypes": ["g6.xlarge"]})], env="dev")
    assert [(f.enforcement, f.message) for f in report.findings] == [
        ("mandatory", "GPU node group uses ON_DEMAND capacity; use SPOT in dev")]


def test_expired_waiver_stops_applying_and_is_reported() -> None:
    waiver = {"resource": "data*", "reason": "migration ticket OPS-12", "expires": "2026-06-30"}
    bucket = [R(aws_s3.BUCKET, "data", {})]
    active = run("mlops-s3-versioning", bucket, config={"waivers": [waiver]}, today=date(2026, 6, 30))
    assert active.findings == [] and [w.waiver.reason for w in active.waived] == ["migration ticket OPS-12"]
    assert active.expired_waivers == []
    expired = run("mlops-s3-versioning", bucket, config={"waivers": [waiver]}, today=date(2026, 7, 1))
    assert [f.message for f in expired.findings] == [
        "bucket has no versioning configuration (waiver expired 2026-06-30: migration ticket OPS-12)"]
    assert [(w.policy, w.resource, w.expires.isoformat()) for w in expired.expired_waivers] == [
        ("mlops-s3-versioning", "data*", "2026-06-30")]
    assert "EXPIRED WAIVERS (1): no longer applied" in expired.text()


def test_waiver_for_another_resource_does_not_apply() -> None:
    report = run("mlops-s3-versioning", [R(aws_s3.BUCKET, "logs", {})],
                 config={"waivers": [{"resource": "data*", "reason": "r", "expires": "2099-01-01"}]})
    assert [f.name for f in report.findings] == ["logs"] and report.waived == []


def test_waiver_that_matches_nothing_is_reported() -> None:
    # A copy of prod under another name: the waiver keyed by prod's literal name matches nothing and says so; a glob
    # keyed by the name after the stack's prefix follows the copy.
    bucket = [R(aws_s3.BUCKET, "acme-prod-data", {})]
    literal = {"resource": "mlops-prod-data", "reason": "r", "expires": "2099-01-01"}
    report = run("mlops-s3-versioning", bucket, config={"waivers": [literal]})
    assert [f.name for f in report.findings] == ["acme-prod-data"]
    assert [(w.policy, w.resource) for w in report.unmatched_waivers] == [("mlops-s3-versioning", "mlops-prod-data")]
    assert "UNMATCHED WAIVERS (1): match no resource of this stack" in report.text()
    assert report.to_json()["unmatchedWaivers"][0]["resource"] == "mlops-prod-data"
    relative = run("mlops-s3-versioning", bucket, config={"waivers": [{**literal, "resource": "*-data"}]})
    assert relative.findings == [] and relative.unmatched_waivers == []


def test_check_warns_of_a_waiver_that_matches_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "copy.json"
    config.write_text(json.dumps({"mlops-s3-versioning": {"waivers": [
        {"resource": "mlops-prod-gone", "reason": "r", "expires": "2099-01-01"}]}}))
    main(["check", "--program", str(MISCONFIGURED), "--stack", "test", "--policy-config", str(config), "--quiet"])
    assert ("mlops-infra: warning: the mlops-s3-versioning waiver for 'mlops-prod-gone' matches no resource of "
            "stack test") in capsys.readouterr().err


def test_waiver_without_reason_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"mlops-s3-versioning": {"waivers": [{"resource": "x", "expires": "2099-01-01"}]}}))
    assert main(["check", "--program", str(MISCONFIGURED), "--stack", "test", "--policy-config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == "mlops-infra: error: mlops-s3-versioning.waivers[0]: missing reason"


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    assert capsys.readouterr().err.strip() == "mlops-infra: error: check: --stack is required (or use --list-policies)"
    assert main(["check", "--program", str(MISCONFIGURED), "--stack", "nope"]) == 2
    assert "Pulumi.nope.yaml: no such stack config file" in capsys.readouterr().err


def test_sarif_output_validates_against_the_2_1_0_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--program", str(MISCONFIGURED), "--stack", "test", "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    assert code == 1
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    run_ = sarif["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert len(rules) == len(all_rules())
    assert len([r for r in run_["results"] if "suppressions" not in r]) == len(EXPECTED_MISCONFIGURED)
    first = next(r for r in run_["results"] if r["ruleId"] == "mlops-rds-not-public")
    assert first["level"] == "error" and rules[first["ruleIndex"]]["id"] == "mlops-rds-not-public"
    assert "FSBP RDS.2" in rules[first["ruleIndex"]]["properties"]["tags"]
    assert rules[first["ruleIndex"]]["help"]["text"].startswith("Set publicly_accessible=False")
    # The program's line that constructed the RDS instance (tests/policies/test_sarif_locations.py: the stack file's
    # line for config-driven findings).
    where = first["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "tests/programs/misconfigured/__main__.py"
    line = (MISCONFIGURED / "__main__.py").read_text().splitlines()[where["region"]["startLine"] - 1]
    assert "aws.rds.Instance(" in line
    waived = [r for r in run_["results"] if "suppressions" in r]
    assert [r["ruleId"] for r in waived] == ["mlops-cost-unpriced", "mlops-s3-lifecycle"]


def test_list_policies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--list-policies", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) >= 60
    assert len({p["name"] for p in listed}) == len(listed)
    for p in listed:
        assert p["severity"] in ("low", "medium", "high", "critical") and p["controls"] and p["remediation"], p["name"]
        assert p["pack"] in PACKS
    assert main(["check", "--list-policies"]) == 0
    assert "mlops-s3-bucket-encryption-kms" in capsys.readouterr().out


def test_every_policy_has_a_compliant_and_a_violating_case() -> None:
    ours = [r.meta.name for r in all_rules() if not r.check.__module__.endswith("security_baseline")]
    compliant = {c.policy for c in ALL_CASES if not c.expected}
    violating = {c.policy for c in ALL_CASES if c.expected}
    assert sorted(set(ours) - compliant) == []
    assert sorted(set(ours) - violating) == []
    assert len(ours) >= 60


def test_every_policy_carries_metadata_for_the_engine() -> None:
    for pack in each(PACKS):
        for policy in build_policies(pack, "prod"):
            assert policy.severity is not None and policy.remediation_steps and policy.tags, policy.name
            assert policy.config_schema is not None and "waivers" in policy.config_schema.properties


def _serve(pack: str, **config: str) -> tuple[subprocess.Popen[bytes], int]:
    """The pack as the engine starts it: the stack's name and config (`PULUMI_CONFIG`, values as strings)."""
    stack_config = {"mlops:platform": json.dumps({"environment": "prod"}), **config}
    proc = subprocess.Popen([sys.executable, str(ROOT / "mlops_infra" / "policy_packs" / pack / "__main__.py")],
                            stdout=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", "PULUMI_STACK": "dev",
                                 "PULUMI_CONFIG": json.dumps(stack_config)})
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    if not ready:
        proc.kill()
        pytest.fail(f"{pack} did not print its port")
    return proc, int(proc.stdout.readline().strip())


@pytest.mark.slow  # the pack's entry point in a subprocess
def test_pack_entry_point_serves_the_same_policies_to_the_engine() -> None:
    """The pack as `pulumi preview --policy-pack` runs it: a gRPC analyzer; prod strictness from the stack's config."""
    proc, port = _serve("mlops-security")
    try:
        stub = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
        assert info.name == "mlops-security"
        assert len(info.policies) == len([r for r in all_rules() if r.meta.pack == "mlops-security"])
        rds = next(p for p in info.policies if p.name == "mlops-rds-not-public")
        assert rds.enforcementLevel == proto.MANDATORY and "FSBP RDS.2" in rds.tags
        # The engine lays the initial config's level over the policy's (an entry without one reads as advisory).
        assert info.initialConfig["mlops-rds-not-public"].enforcementLevel == proto.MANDATORY
        props = struct_pb2.Struct()
        json_format.ParseDict({"publiclyAccessible": True}, props)
        response = stub.Analyze(proto.AnalyzeRequest(type="aws:rds/instance:Instance", properties=props,
                                                     urn="urn:pulumi:dev::p::aws:rds/instance:Instance::db", name="db"),
                                timeout=10)
        messages = [(d.policyName, d.message) for d in response.diagnostics]
        assert ("mlops-rds-not-public", "RDS instances are not publicly accessible.\ninstance is publicly accessible") \
            in messages
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_the_packs_apply_the_template_downgrade_from_the_engines_stack_config() -> None:
    """Under `pulumi preview --policy-pack`, a template stack's placeholders are advisory, as in `check`."""
    from mlops_policies.packs import engine_config
    from pulumi_policy import EnforcementLevel

    platform = json.dumps({"environment": "prod", "monitoring": {"receivers": {"emailAddresses": ["a@example.com"]}}})
    template = engine_config("mlops-compliance", {"PULUMI_CONFIG": json.dumps(
        {"mlops:platform": platform, "mlops:template": "true"}), "PULUMI_STACK": "prod"})
    entry = template["mlops-no-placeholders"]
    assert entry["enforcementLevel"] == EnforcementLevel.ADVISORY and entry["environment"] == "prod"
    assert "a@example.com" in entry["configValues"] and "engineAccount" not in entry
    real = engine_config("mlops-compliance", {"PULUMI_CONFIG": json.dumps({"mlops:platform": platform}),
                                              "PULUMI_STACK": "prod"})
    assert real["mlops-no-placeholders"]["enforcementLevel"] == EnforcementLevel.MANDATORY  # its default in prod
    assert "mlops-no-placeholders" not in engine_config("mlops-security", {})


@pytest.mark.slow  # the pack's entry point in a subprocess
def test_the_served_pack_tells_the_engine_a_template_stacks_placeholders_are_advisory() -> None:
    for template, level in (("true", proto.ADVISORY), ("false", proto.MANDATORY)):
        proc, port = _serve("mlops-compliance", **{"mlops:template": template})
        try:
            stub = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
            # The engine lays the initial config's level over the policy's own (proto ADVISORY is 0: always set).
            assert info.initialConfig["mlops-no-placeholders"].enforcementLevel == level
        finally:
            proc.kill()
            proc.wait(timeout=10)


def test_a_copy_of_a_stack_keeps_its_environments_policy_config(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Waivers follow the environment: `prod-eu` (environment prod) with no `prod-eu.json` uses `prod.json`; a stack
    with neither is warned about."""
    from mlops_infra.cli.check_cmd import _policy_config_file

    folder = tmp_path / "policies" / "config"
    folder.mkdir(parents=True)
    (folder / "prod.json").write_text("{}")
    assert _policy_config_file(tmp_path, "prod", "prod") == folder / "prod.json"
    assert capsys.readouterr().err == ""
    assert _policy_config_file(tmp_path, "prod-eu", "prod") == folder / "prod.json"
    assert "no policy config for stack prod-eu; using the prod environment's" in capsys.readouterr().err
    assert _policy_config_file(tmp_path, "sandbox", "dev") is None
    assert "warning: no policy config for stack sandbox or environment dev" in capsys.readouterr().err
