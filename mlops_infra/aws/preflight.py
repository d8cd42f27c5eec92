"""Preflight: can this account and region run the stack's GPU pools and EKS version?

`gather` reads the facts with boto3; `evaluate` (pure) turns config + facts into checks, so the planning
logic (which quota each pool draws on, how many vCPUs it needs at max size) is testable without AWS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from ..compute.config import ClusterConfig
from ..compute.gpu_config import GpuPoolConfig
from ..config.instances import QUOTA_CLASS, family_of
from ..config.versions import EKS_VERSION_SUPPORT, SUPPORTED_EKS_VERSIONS
from ..platform.config import PlatformConfig
from .preflight_addons import AddonFacts, addon_checks, gather_addons
from .preflight_singletons import SingletonFacts, gather_singletons, singleton_checks
from .results import Check, Status
from .session import Aws, error_code

Capacity = Literal["ON_DEMAND", "SPOT"]


@dataclass(frozen=True)
class QuotaSpec:
    code: str
    name: str


# EC2 vCPU quotas in Service Quotas (service code `ec2`). Codes checked against the Service Quotas console
# names and public scripts that query them (Nov 2026): L-DB2E81BA "Running On-Demand G and VT instances",
# L-417A185B "Running On-Demand P instances", L-3819A6DF "All G and VT Spot Instance Requests",
# L-7212CCBC "All P Spot Instance Requests".
QUOTAS: dict[tuple[Capacity, Literal["G", "P"]], QuotaSpec] = {
    ("ON_DEMAND", "G"): QuotaSpec("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("ON_DEMAND", "P"): QuotaSpec("L-417A185B", "Running On-Demand P instances"),
    ("SPOT", "G"): QuotaSpec("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("SPOT", "P"): QuotaSpec("L-7212CCBC", "All P Spot Instance Requests"),
}
# Answers of endpoints that do not implement DescribeClusterVersions (e.g. moto): fall back to the built-in table.
_NOT_IMPLEMENTED = frozenset({"404", "NotImplemented", "InvalidAction", "UnknownOperationException"})


@dataclass(frozen=True)
class Demand:
    quota: QuotaSpec
    vcpus: int
    parts: tuple[str, ...]
    """How the total was reached, e.g. `od-g6e: 6 x g6e.12xlarge (48)`."""


def vcpu_demand(pools: Sequence[GpuPoolConfig], vcpus: Mapping[str, int]) -> list[Demand]:
    """vCPUs each quota must cover: per pool and quota class, maxSize x the largest type's vCPUs (worst case:
    the pool scales out on its biggest type). Types missing from `vcpus` are left out (reported elsewhere)."""
    totals: dict[QuotaSpec, tuple[int, list[str]]] = {}
    for pool in pools:
        by_class: dict[Literal["G", "P"], tuple[int, str]] = {}
        for itype in pool.instance_types:
            cls = QUOTA_CLASS.get(family_of(itype))
            if cls is None or itype not in vcpus:
                continue
            if cls not in by_class or vcpus[itype] > by_class[cls][0]:
                by_class[cls] = (vcpus[itype], itype)
        for cls, (each, itype) in sorted(by_class.items()):
            spec = QUOTAS[(pool.capacity_type, cls)]
            total, parts = totals.get(spec, (0, []))
            totals[spec] = (total + pool.max_size * each, [*parts, f"{pool.name}: {pool.max_size} x {itype} ({each})"])
    return [Demand(spec, total, tuple(parts)) for spec, (total, parts) in sorted(totals.items(), key=lambda kv: kv[0].code)]


@dataclass(frozen=True)
class EksVersionFacts:
    status: str | None
    """STANDARD_SUPPORT, EXTENDED_SUPPORT, UNSUPPORTED, or None when the version is not listed."""
    end_of_standard: str | None = None
    end_of_extended: str | None = None
    source: str = "DescribeClusterVersions"


@dataclass
class Facts:
    region: str
    azs: list[str]
    az_problem: str | None = None
    offered: dict[str, set[str]] = field(default_factory=dict)
    """instance type -> AZs (of `azs`) where it is offered."""
    vcpus: dict[str, int] = field(default_factory=dict)
    quotas: dict[str, float] = field(default_factory=dict)
    quota_notes: dict[str, str] = field(default_factory=dict)
    """code -> why the value is a default or could not be read."""
    eks: EksVersionFacts | None = None
    singletons: SingletonFacts = field(default_factory=SingletonFacts)
    """The account's GuardDuty detector and account analyzers (preflight_singletons.py)."""
    addons: AddonFacts | None = None
    """The add-on versions EKS offers for the cluster's version (preflight_addons.py); None: not read."""
    checked_on: dt.date = field(default_factory=dt.date.today)
    """The day the facts were read: support dates are judged against it."""


def _quota_check(demand: Demand, facts: Facts) -> Check:
    q = demand.quota
    subject = f"quota {q.code}"
    need = f"pools need {demand.vcpus} vCPUs at max size ({'; '.join(demand.parts)})"
    request = (f"request {q.code} ({q.name}) >= {demand.vcpus} vCPUs: aws service-quotas "
               f"request-service-quota-increase --service-code ec2 --quota-code {q.code} "
               f"--desired-value {demand.vcpus} --region {facts.region}")
    if q.code not in facts.quotas:
        return Check(subject, q.name, "WARN", f"could not read the quota ({facts.quota_notes.get(q.code, 'unknown')}); "
                     f"{need}", f"check it in the Service Quotas console; {request}")
    value = int(facts.quotas[q.code])
    note = f" [{facts.quota_notes[q.code]}]" if q.code in facts.quota_notes else ""
    if value >= demand.vcpus:
        return Check(subject, q.name, "PASS", f"quota {value} vCPUs{note}; {need}")
    return Check(subject, q.name, "FAIL", f"quota {value} vCPUs < {demand.vcpus} needed{note}; {need}", request)


def _offering_checks(pools: Sequence[GpuPoolConfig], facts: Facts) -> list[Check]:
    checks: list[Check] = []
    for pool in pools:
        covered = set().union(*(facts.offered.get(t, set()) for t in pool.instance_types))
        for itype in pool.instance_types:
            subject = f"pool {pool.name}"
            if itype not in facts.vcpus:
                checks.append(Check(subject, f"{itype} offered", "FAIL", f"{itype} is not an instance type in "
                                    f"{facts.region}", "fix the pool's instanceTypes"))
                continue
            missing = [az for az in facts.azs if az not in facts.offered.get(itype, set())]
            if not missing:
                checks.append(Check(subject, f"{itype} offered", "PASS", f"in {', '.join(facts.azs)}"))
                continue
            uncovered = [az for az in missing if az not in covered]
            detail = f"not offered in {', '.join(missing)}"
            if uncovered:
                checks.append(Check(subject, f"{itype} offered", "FAIL", detail + (
                    f"; no type of the pool is offered in {', '.join(uncovered)}"),
                    "choose instance types offered in every AZ of the VPC, or other AZs"))
            else:
                checks.append(Check(subject, f"{itype} offered", "WARN", detail + "; other types of the pool cover it",
                                    "nodes of this type can only start in the other AZs"))
    return checks


AUTO_UPGRADE_REMEDY = ("upgrade cluster.version one minor first (docs/upgrades.md), or set cluster.upgradeSupportType "
                       "EXTENDED (billed extra) to keep this minor")


def _auto_upgrade_check(cluster: ClusterConfig, eks: EksVersionFacts, facts: Facts, via: str) -> Check | None:
    """With upgradeSupportType STANDARD, EKS upgrades the control plane to the next minor when standard support
    ends (EKS user guide, "Cluster upgrade policy"); the stack's cluster.version is then a downgrade, which EKS
    refuses, so every later `pulumi up` fails on the cluster. Reported `standardSupportNoticeDays` ahead."""
    if cluster.upgrade_support_type != "STANDARD" or eks.end_of_standard is None:
        return None
    days = (dt.date.fromisoformat(eks.end_of_standard) - facts.checked_on).days
    if days > cluster.standard_support_notice_days:
        return None
    # FAIL only when the remedy can be applied: a newer minor this library supports. Otherwise the stack cannot
    # move, and failing would block every deploy (R10CORE): warn, and say what is possible.
    newer = [v for v in SUPPORTED_EKS_VERSIONS if _minor(v) > _minor(cluster.version)]
    status: Status = "FAIL" if cluster.standard_support_ending == "fail" and newer else "WARN"
    when = f"ended {eks.end_of_standard}" if days < 0 else f"ends {eks.end_of_standard} (in {days} days)"
    remedy = AUTO_UPGRADE_REMEDY if newer else (
        f"this library supports no minor after {cluster.version} yet: upgrade the library when it does, or set "
        "cluster.upgradeSupportType EXTENDED (billed extra) to keep this minor; until then, after EKS upgrades the "
        "control plane, run `pulumi refresh` (docs/upgrades.md)")
    return Check(f"eks {cluster.version}", "standard support ending", status,
                 f"standard support {when}{via}; with upgradeSupportType STANDARD EKS then upgrades the control plane "
                 f"to the next minor by itself, and cluster.version {cluster.version} falls behind it", remedy)


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _eks_check(cluster: ClusterConfig, facts: Facts) -> Check:
    version = cluster.version
    subject, control = f"eks {version}", "supported version"
    eks = facts.eks
    if eks is None or eks.status is None:
        return Check(subject, control, "FAIL", f"EKS does not offer Kubernetes {version} in {facts.region}",
                     "set cluster.version to a supported version")
    via = f" (from {eks.source})"
    if eks.status in ("STANDARD_SUPPORT", "EXTENDED_SUPPORT"):
        ending = _auto_upgrade_check(cluster, eks, facts, via)
        if ending is not None:
            return ending
    if eks.status == "STANDARD_SUPPORT":
        return Check(subject, control, "PASS", f"standard support until {eks.end_of_standard or '?'}{via}")
    if eks.status == "EXTENDED_SUPPORT":
        return Check(subject, control, "WARN", f"extended support (billed extra) until {eks.end_of_extended or '?'}{via}",
                     "plan the upgrade to a version in standard support")
    return Check(subject, control, "FAIL", f"Kubernetes {version} is no longer supported by EKS{via}",
                 "upgrade cluster.version")


def evaluate(config: PlatformConfig, facts: Facts) -> list[Check]:
    """All preflight checks for `config`, given the facts read from the account. Pure."""
    checks: list[Check] = []
    if facts.az_problem:
        checks.append(Check(f"region {facts.region}", "availability zones", "FAIL", facts.az_problem,
                            "lower network.azCount or use another region"))
    else:
        checks.append(Check(f"region {facts.region}", "availability zones", "PASS", ", ".join(facts.azs)))
    checks += _offering_checks(config.gpu_pools, facts)
    checks += [_quota_check(d, facts) for d in vcpu_demand(config.gpu_pools, facts.vcpus)]
    checks.append(_eks_check(config.cluster, facts))
    checks += singleton_checks(config, facts.singletons)
    if facts.addons is not None:
        checks += addon_checks(config, facts.addons)
    return checks


# ---- boto3 side ------------------------------------------------------------------------------------------------
def _azs(aws: Aws, config: PlatformConfig) -> tuple[list[str], str | None]:
    existing = config.network.existing_vpc
    if existing is not None:
        subnets = aws.ec2.describe_subnets(SubnetIds=list(existing.private_subnet_ids))["Subnets"]
        return sorted({s["AvailabilityZone"] for s in subnets}), None
    zones = aws.ec2.describe_availability_zones(Filters=[
        {"Name": "zone-type", "Values": ["availability-zone"]},
        {"Name": "opt-in-status", "Values": ["opt-in-not-required"]},
        {"Name": "state", "Values": ["available"]},
    ])["AvailabilityZones"]
    names = sorted(z["ZoneName"] for z in zones)
    want = config.network.az_count
    if len(names) < want:
        return names, f"network.azCount is {want}, but {aws.region} has {len(names)} available AZs"
    return names[:want], None


def _day(value: Any) -> str | None:
    return value.date().isoformat() if isinstance(value, dt.datetime) else None


def _eks_version(aws: Aws, version: str, today: dt.date) -> EksVersionFacts:
    try:
        pages = aws.eks.get_paginator("describe_cluster_versions").paginate(clusterVersions=[version], includeAll=True)
        for page in pages:
            for v in page.get("clusterVersions", []):
                if v.get("clusterVersion") == version:
                    return EksVersionFacts(v.get("versionStatus"), _day(v.get("endOfStandardSupportDate")),
                                           _day(v.get("endOfExtendedSupportDate")))
        return EksVersionFacts(None)
    except ClientError as exc:
        if error_code(exc) not in _NOT_IMPLEMENTED:
            raise
    # The endpoint lacks the API: judge by the pinned support table (mlops_infra.config.versions).
    source = "the built-in table; this endpoint has no DescribeClusterVersions"
    if version not in EKS_VERSION_SUPPORT:
        return EksVersionFacts(None, source=source)
    standard, extended = EKS_VERSION_SUPPORT[version]
    iso = today.isoformat()
    status = "STANDARD_SUPPORT" if iso <= standard else "EXTENDED_SUPPORT" if iso <= extended else "UNSUPPORTED"
    return EksVersionFacts(status, standard, extended, source)


def _quota(aws: Aws, code: str) -> tuple[float | None, str | None]:
    """The account's applied value; else AWS's default (noted); else None with the reason."""
    sq = aws.service_quotas
    try:
        return float(sq.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]), None
    except ClientError as exc:
        if error_code(exc) != "NoSuchResourceException":
            raise
    try:
        value = sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"]
        return float(value), "AWS default; no applied value"
    except ClientError as exc:
        if error_code(exc) != "NoSuchResourceException":
            raise
        return None, "NoSuchResourceException: the endpoint does not know this quota"


def gather(aws: Aws, config: PlatformConfig, today: dt.date | None = None) -> Facts:
    """Read everything `evaluate` needs. Raises AwsOperationError (access denied, throttled, no credentials)."""
    today = today or dt.date.today()
    with aws.errors():
        azs, az_problem = _azs(aws, config)
        facts = Facts(aws.region, azs, az_problem, checked_on=today)
        types = sorted({t for p in config.gpu_pools for t in p.instance_types})
        if types:
            known: set[str] = set()
            try:
                for page in aws.ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=types):  # type: ignore[arg-type]
                    for it in page["InstanceTypes"]:
                        facts.vcpus[it["InstanceType"]] = it["VCpuInfo"]["DefaultVCpus"]
                        known.add(it["InstanceType"])
            except ClientError as exc:
                if error_code(exc) != "InvalidInstanceType":
                    raise
                # One unknown type fails the whole call: ask per type to learn which ones exist.
                for t in types:
                    try:
                        for it in aws.ec2.describe_instance_types(InstanceTypes=[t])["InstanceTypes"]:  # type: ignore[list-item]
                            facts.vcpus[it["InstanceType"]] = it["VCpuInfo"]["DefaultVCpus"]
                    except ClientError as inner:
                        if error_code(inner) != "InvalidInstanceType":
                            raise
            offerings = aws.ec2.get_paginator("describe_instance_type_offerings").paginate(
                LocationType="availability-zone",
                Filters=[{"Name": "instance-type", "Values": types}, {"Name": "location", "Values": azs}])
            for offering_page in offerings:
                for o in offering_page["InstanceTypeOfferings"]:
                    facts.offered.setdefault(o["InstanceType"], set()).add(o["Location"])
        for demand in vcpu_demand(config.gpu_pools, facts.vcpus):
            value, note = _quota(aws, demand.quota.code)
            if value is not None:
                facts.quotas[demand.quota.code] = value
            if note:
                facts.quota_notes[demand.quota.code] = note
        facts.eks = _eks_version(aws, config.cluster.version, today)
        facts.singletons = gather_singletons(aws, config)
        facts.addons = gather_addons(aws, config)
    return facts


def preflight(aws: Aws, config: PlatformConfig, today: dt.date | None = None) -> list[Check]:
    return evaluate(config, gather(aws, config, today))
