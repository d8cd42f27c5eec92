"""`mlops-infra preflight`: the pure quota planning, and the command on moto.

moto's EC2 catalog answers describe_availability_zones, describe_instance_types and
describe_instance_type_offerings for real; it implements Service Quotas only for `vpc` and has no
DescribeClusterVersions, so those two calls are answered by botocore Stubbers (and nothing else is stubbed).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlops_infra.aws.preflight import Demand, EksVersionFacts, Facts, QuotaSpec, evaluate, gather, vcpu_demand
from mlops_infra.aws.preflight_addons import AddonFacts, addon_checks, installed
from mlops_infra.aws.session import Aws
from mlops_infra.compute.config import AddonVersions
from mlops_infra.compute.gpu_config import GpuPoolConfig
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.platform.loader import load_platform_config
from tests.conftest import PROD_API_ACCESS, PROD_GUARDS

from .conftest import PROGRAM, REGION, run_cli

pytestmark = pytest.mark.slow  # moto: the slow tier (.ci/run)

OD_G = QuotaSpec("L-DB2E81BA", "Running On-Demand G and VT instances")
OD_P = QuotaSpec("L-417A185B", "Running On-Demand P instances")
SPOT_G = QuotaSpec("L-3819A6DF", "All G and VT Spot Instance Requests")
VCPUS = {"p5.48xlarge": 192, "g6e.12xlarge": 48, "g6.4xlarge": 16, "g6.8xlarge": 32}


def pool(**kw: Any) -> GpuPoolConfig:
    return GpuPoolConfig.model_validate({"maxSize": 1, **kw})


def config(**kw: Any) -> PlatformConfig:
    return load_platform_config({"environment": "prod", "tags": {"owner": "ml-platform", "costCenter": "cc-1"},
                                 "monitoring": {"receivers": {"emailAddresses": ["oncall@example.com"]}},
                                 "securityBaseline": PROD_GUARDS, **kw,
                                 "cluster": {**PROD_API_ACCESS, **kw.get("cluster", {})}})


# ---- pure planning ---------------------------------------------------------------------------------------------
def test_demand_is_max_size_times_the_largest_type_summed_per_quota() -> None:
    pools = [pool(name="od-p5", instanceTypes=["p5.48xlarge"], maxSize=2),
             pool(name="od-g6e", instanceTypes=["g6e.12xlarge"], maxSize=4),
             pool(name="od-g6", instanceTypes=["g6.4xlarge"], maxSize=3),
             pool(name="spot-g6", instanceTypes=["g6.4xlarge", "g6.8xlarge"], capacityType="SPOT", maxSize=6)]
    assert vcpu_demand(pools, VCPUS) == [
        Demand(SPOT_G, 192, ("spot-g6: 6 x g6.8xlarge (32)",)),
        Demand(OD_P, 384, ("od-p5: 2 x p5.48xlarge (192)",)),
        Demand(OD_G, 240, ("od-g6e: 4 x g6e.12xlarge (48)", "od-g6: 3 x g6.4xlarge (16)")),
    ]


def facts(**kw: Any) -> Facts:
    base: dict[str, Any] = {
        "region": REGION, "azs": ["us-east-1a", "us-east-1b"], "vcpus": dict(VCPUS),
        "offered": {t: {"us-east-1a", "us-east-1b"} for t in VCPUS},
        "quotas": {"L-DB2E81BA": 1000.0, "L-417A185B": 1000.0, "L-3819A6DF": 1000.0},
        "eks": EksVersionFacts("STANDARD_SUPPORT", "2027-03-27", "2028-03-27"), "checked_on": dt.date(2026, 11, 1)}
    return Facts(**{**base, **kw})


def test_a_quota_too_low_fails_and_says_what_to_request() -> None:
    cfg = config(gpuPools=[{"name": "od-p5", "instanceTypes": ["p5.48xlarge"], "maxSize": 2}])
    checks = evaluate(cfg, facts(quotas={"L-417A185B": 192.0}))
    [quota] = [c for c in checks if c.subject.startswith("quota")]
    assert (quota.subject, quota.control, quota.status) == ("quota L-417A185B", "Running On-Demand P instances", "FAIL")
    assert quota.detail == ("quota 192 vCPUs < 384 needed; pools need 384 vCPUs at max size "
                            "(od-p5: 2 x p5.48xlarge (192))")
    assert quota.remedy == ("request L-417A185B (Running On-Demand P instances) >= 384 vCPUs: aws service-quotas "
                            "request-service-quota-increase --service-code ec2 --quota-code L-417A185B "
                            "--desired-value 384 --region us-east-1")


def test_a_type_missing_in_an_az_fails_unless_another_pool_type_covers_it() -> None:
    cfg = config(gpuPools=[{"name": "spot", "instanceTypes": ["g6.4xlarge", "g6.8xlarge"], "capacityType": "SPOT",
                            "maxSize": 2},
                           {"name": "od", "instanceTypes": ["g6e.12xlarge"], "maxSize": 1}])
    offered = {"g6.4xlarge": {"us-east-1a", "us-east-1b"}, "g6.8xlarge": {"us-east-1a"}, "g6e.12xlarge": {"us-east-1b"}}
    by_control = {(c.subject, c.control): c for c in evaluate(cfg, facts(offered=offered))}
    assert by_control[("pool spot", "g6.4xlarge offered")].status == "PASS"
    warn = by_control[("pool spot", "g6.8xlarge offered")]
    assert (warn.status, warn.detail) == ("WARN", "not offered in us-east-1b; other types of the pool cover it")
    fail = by_control[("pool od", "g6e.12xlarge offered")]
    assert (fail.status, fail.detail) == ("FAIL", "not offered in us-east-1a; no type of the pool is offered in us-east-1a")


@pytest.mark.parametrize(("eks", "status", "detail"), [
    (EksVersionFacts("STANDARD_SUPPORT", "2027-03-27", "2028-03-27"), "PASS",
     "standard support until 2027-03-27 (from DescribeClusterVersions)"),
    (EksVersionFacts("EXTENDED_SUPPORT", "2026-07-29", "2027-07-29"), "WARN",
     "extended support (billed extra) until 2027-07-29 (from DescribeClusterVersions)"),
    (EksVersionFacts("UNSUPPORTED"), "FAIL", "Kubernetes 1.35 is no longer supported by EKS (from DescribeClusterVersions)"),
    (EksVersionFacts(None), "FAIL", "EKS does not offer Kubernetes 1.35 in us-east-1"),
])
def test_eks_version_support(eks: EksVersionFacts, status: str, detail: str) -> None:
    """With upgradeSupportType EXTENDED (a version past standard support keeps running, billed extra)."""
    cfg = config(cluster={"upgradeSupportType": "EXTENDED"})
    [check] = [c for c in evaluate(cfg, facts(eks=eks)) if c.subject == "eks 1.35"]
    assert (check.status, check.detail) == (status, detail)


ON_1_34 = {"version": "1.34", "addons": {"kubeProxy": "v1.34.1-eksbuild.1"}}
"""A cluster one minor behind the library's newest (kube-proxy follows the cluster's minor)."""

AUTO_UPGRADE = ("with upgradeSupportType STANDARD EKS then upgrades the control plane to the next minor by itself, "
                "and cluster.version {v} falls behind it")


@pytest.mark.parametrize(("checked_on", "cluster", "status", "when"), [
    # 1.34's standard support ends 2026-12-02 and 1.35 is supported: the prod profile fails, the remedy applies.
    (dt.date(2026, 9, 2), {}, "PASS", None),
    (dt.date(2026, 9, 3), {}, "FAIL", "ends 2026-12-02 (in 90 days)"),
    (dt.date(2026, 9, 3), {"standardSupportEnding": "warn"}, "WARN", "ends 2026-12-02 (in 90 days)"),
    (dt.date(2026, 7, 1), {"standardSupportNoticeDays": 180}, "FAIL", "ends 2026-12-02 (in 154 days)"),
    (dt.date(2026, 11, 30), {"upgradeSupportType": "EXTENDED"}, "PASS", None),  # EKS keeps the minor (billed later)
])
def test_standard_support_ending_is_reported_before_eks_upgrades_the_cluster(
        checked_on: dt.date, cluster: dict[str, Any], status: str, when: str | None) -> None:
    eks = EksVersionFacts("STANDARD_SUPPORT", "2026-12-02", "2027-12-02")
    cfg = config(cluster={**ON_1_34, **cluster})
    [check] = [c for c in evaluate(cfg, facts(eks=eks, checked_on=checked_on)) if c.subject == "eks 1.34"]
    assert check.status == status
    if when is None:
        assert check.detail == "standard support until 2026-12-02 (from DescribeClusterVersions)"
    else:
        assert (check.control, check.detail) == ("standard support ending", f"standard support {when} (from "
                                                 f"DescribeClusterVersions); {AUTO_UPGRADE.format(v='1.34')}")
        assert "upgradeSupportType EXTENDED" in check.remedy and "cluster.version" in check.remedy


def test_the_newest_supported_minor_only_warns_because_no_upgrade_is_possible_yet() -> None:
    """1.35, the library's newest: failing prod's preflight would block every deploy with a remedy config refuses
    (cluster.version 1.36 is not supported), so it warns and says what can be done (review R10CORE)."""
    [check] = [c for c in evaluate(config(), facts(checked_on=dt.date(2026, 12, 27))) if c.subject == "eks 1.35"]
    assert (check.status, check.detail) == ("WARN", "standard support ends 2027-03-27 (in 90 days) (from "
                                            f"DescribeClusterVersions); {AUTO_UPGRADE.format(v='1.35')}")
    assert "supports no minor after 1.35" in check.remedy and "pulumi refresh" in check.remedy


def test_a_standard_cluster_past_its_standard_support_is_reported_too() -> None:
    """EKS upgrades it at any time now (or already did): the stack's version falls behind."""
    ended = facts(eks=EksVersionFacts("EXTENDED_SUPPORT", "2026-12-02", "2027-12-02"), checked_on=dt.date(2027, 1, 1))
    [check] = [c for c in evaluate(config(cluster=ON_1_34), ended) if c.subject == "eks 1.34"]
    assert (check.status, check.detail) == (
        "FAIL", f"standard support ended 2026-12-02 (from DescribeClusterVersions); {AUTO_UPGRADE.format(v='1.34')}")
    dev = load_platform_config({"environment": "dev", "tags": {"owner": "o", "costCenter": "c"},
                               "cluster": {**ON_1_34, "publicAccessCidrs": ["203.0.113.0/24"]}})
    assert dev.cluster.standard_support_ending == "warn"
    [warned] = [c for c in evaluate(dev, ended) if c.subject == "eks 1.34"]
    assert warned.status == "WARN"


# ---- boto3 on moto ---------------------------------------------------------------------------------------------
def stub_quotas(monkeypatch: pytest.MonkeyPatch, values: dict[str, float], *, error: str | None = None) -> Stubber:
    """A Service Quotas client answering GetServiceQuota (in code order) from `values`, or failing with `error`."""
    client = boto3.client("service-quotas", region_name=REGION)
    stub = Stubber(client)
    for code, value in sorted(values.items()):
        if error:
            stub.add_client_error("get_service_quota", service_error_code=error, http_status_code=400,
                                  service_message=f"User: arn:aws:iam::123456789012:user/ci is not authorized to "
                                                  f"perform: servicequotas:GetServiceQuota on {code}")
            break
        stub.add_response("get_service_quota", {"Quota": {"QuotaCode": code, "Value": value}},
                          {"ServiceCode": "ec2", "QuotaCode": code})
    stub.activate()
    monkeypatch.setattr(Aws, "service_quotas", property(lambda self: client))
    return stub


DEFAULT_ADDONS = sorted(AddonVersions().model_dump().values())


def stub_eks_versions(monkeypatch: pytest.MonkeyPatch, status: str = "STANDARD_SUPPORT",
                      offered: list[str] | None = None) -> None:
    client = boto3.client("eks", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("describe_cluster_versions", {"clusterVersions": [{
        "clusterVersion": "1.35", "versionStatus": status,
        "endOfStandardSupportDate": dt.datetime(2027, 3, 27, tzinfo=dt.timezone.utc),
        "endOfExtendedSupportDate": dt.datetime(2028, 3, 27, tzinfo=dt.timezone.utc)}]},
        {"clusterVersions": ["1.35"], "includeAll": True})
    # DescribeAddonVersions, once per installed add-on (moto has none): EKS offers `offered` (default: the pins).
    for _ in AddonVersions.model_fields:  # at most one call per add-on
        stub.add_response("describe_addon_versions", {"addons": [{"addonName": "any", "addonVersions": [
            {"addonVersion": v} for v in (offered if offered is not None else DEFAULT_ADDONS)]}]})
    stub.activate()
    monkeypatch.setattr(Aws, "eks", property(lambda self: client))


def stub_analyzers(monkeypatch: pytest.MonkeyPatch, analyzers: list[dict[str, Any]] | None = None) -> None:
    """moto has no IAM Access Analyzer: ListAnalyzers (type ACCOUNT) answers `analyzers` (default none)."""
    client = boto3.client("accessanalyzer", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("list_analyzers", {"analyzers": analyzers or []}, {"type": "ACCOUNT"})
    stub.activate()
    monkeypatch.setattr(Aws, "accessanalyzer", property(lambda self: client))


ENOUGH = {"L-3819A6DF": 192.0, "L-417A185B": 384.0, "L-DB2E81BA": 192.0}


@pytest.mark.usefixtures("moto_aws")
def test_prod_passes_with_enough_quota(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stub_quotas(monkeypatch, ENOUGH)
    stub_eks_versions(monkeypatch)
    stub_analyzers(monkeypatch)
    code, out, err = run_cli(capsys, "preflight", "--program", str(PROGRAM), "--stack", "prod")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == ("Preflight for stack prod: region us-east-1, account 123456789012, "
                        "AZs us-east-1a, us-east-1b, us-east-1c")
    # AZs, 4 type offerings, 3 quotas, EKS, the GuardDuty detector and the account analyzer (none yet: create)
    assert lines[-1] == "18 checks: 0 FAIL, 0 WARN, 18 PASS"  # 7 of them the add-on versions
    assert any(line.split()[:4] == ["PASS", "quota", "L-417A185B", "Running"] and
               "quota 384 vCPUs; pools need 384 vCPUs" in line for line in lines)


@pytest.mark.usefixtures("moto_aws")
def test_quota_too_low_exits_1_with_the_request(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    stub_quotas(monkeypatch, {**ENOUGH, "L-DB2E81BA": 64.0})
    stub_eks_versions(monkeypatch)
    code, out, _ = run_cli(capsys, "preflight", "--program", str(PROGRAM), "--stack", "prod", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["blocking"] is True
    [failed] = [c for c in data["checks"] if c["status"] == "FAIL"]
    assert failed["subject"] == "quota L-DB2E81BA"
    assert failed["detail"].startswith("quota 64 vCPUs < 192 needed")
    assert "--quota-code L-DB2E81BA --desired-value 192 --region us-east-1" in failed["remedy"]


@pytest.mark.usefixtures("moto_aws")
def test_type_not_offered_in_an_az_exits_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stub_quotas(monkeypatch, {"L-DB2E81BA": 48.0})
    stub_eks_versions(monkeypatch)
    stub_analyzers(monkeypatch)
    code, out, _ = run_cli(capsys, "preflight", "--program", str(PROGRAM), "--stack", "wide")
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1
    assert failed[0].split(None, 5)[1:] == [
        "pool", "od-g6e", "g6e.12xlarge", "offered",
        "not offered in us-east-1e, us-east-1f; no type of the pool is offered in us-east-1e, us-east-1f"]
    assert out.splitlines()[-1] == "11 checks: 1 FAIL, 0 WARN, 10 PASS (blocking)"


@pytest.mark.usefixtures("moto_aws")
def test_access_denied_on_quotas_is_one_line(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    stub_quotas(monkeypatch, ENOUGH, error="AccessDeniedException")
    code, out, err = run_cli(capsys, "preflight", "--program", str(PROGRAM), "--stack", "prod")
    assert (code, out) == (2, "")
    assert err == ("mlops-infra: error: access denied: GetServiceQuota (User: arn:aws:iam::123456789012:user/ci is "
                   "not authorized to perform: servicequotas:GetServiceQuota on L-3819A6DF); check the IAM "
                   "permissions of the current AWS identity\n")


@pytest.mark.usefixtures("moto_aws")
def test_without_describe_cluster_versions_the_pinned_table_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto answers DescribeClusterVersions with 404: the built-in support table (config/versions.py) decides.
    stub_quotas(monkeypatch, {})
    got = gather(Aws(region=REGION), config(), today=dt.date(2027, 5, 1)).eks  # 1.35: standard ended 2027-03-27
    assert got == EksVersionFacts("EXTENDED_SUPPORT", "2027-03-27", "2028-03-27",
                                  "the built-in table; this endpoint has no DescribeClusterVersions")


def test_invalid_config_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "preflight", "--program", str(PROGRAM), "--stack", "bad")
    assert code == 2
    assert err.splitlines() == ["mlops-infra: error: mlops:platform: 1 problem", "  - network.azCount: must be <= 6 (got 9)"]


def test_missing_credentials_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing is sent: signing fails first
    code, out, err = run_cli(capsys, "preflight", "--program", str(PROGRAM), "--stack", "prod")
    assert (code, out) == (2, "")
    assert err == ("mlops-infra: error: no AWS credentials found: set AWS_PROFILE (or pass --profile), or "
                   "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n")


def test_an_add_on_version_eks_does_not_offer_for_the_clusters_version_fails() -> None:
    """Config checks only kube-proxy's minor; EKS alone knows which builds of the others fit `cluster.version`."""
    cfg = config()
    pins = installed(cfg)
    assert {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "metrics-server"} <= set(pins)
    offered = {name: {version} for name, version in pins.items()}
    assert {c.status for c in addon_checks(cfg, AddonFacts(offered))} == {"PASS"}
    offered["coredns"] = {"v1.11.4-eksbuild.2"}
    failed = [c for c in addon_checks(cfg, AddonFacts(offered)) if c.status == "FAIL"]
    assert [(c.subject, c.detail) for c in failed] == [
        ("add-on coredns", f"EKS does not offer {pins['coredns']} for Kubernetes {cfg.cluster.version}")]
    assert {c.status for c in addon_checks(cfg, AddonFacts(note="UnknownOperationException: ..."))} == {"WARN"}
