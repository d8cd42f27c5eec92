"""Security baseline (stack checks): a prod stack keeps an audit trail with data events on its data buckets, runs
GuardDuty with EKS protection, and carries no plaintext secret in Kubernetes Secrets, ConfigMaps or Helm values.

"Data buckets" are the buckets whose policy restricts access to a VPC endpoint (`aws:SourceVpce`): the platform's
exfiltration guard marks exactly the buckets that hold feature and model data. A trail covers a bucket when its
event selectors came from the bucket (property dependencies) or name its ARN, or select every bucket.

A violation about something the stack lacks (no trail, no detector) is reported on the stack itself.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .core import (
    NotApplicable,
    Resource,
    Stack,
    as_list,
    dig,
    each,
    env_applies,
    is_unknown,
    json_doc,
    known,
    stack_policy,
    statements,
    unescape_pointer,
)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TRAIL = "aws:cloudtrail/trail:Trail"
DETECTOR = "aws:guardduty/detector:Detector"
DETECTOR_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
K8S_SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART_V4 = "kubernetes:helm.sh/v4:Chart"  # values go to the provider's client-side render, as plain inputs

PROD_ONLY = {"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"],
                              "description": "Environments the rule applies in."}}

# Keys that name a credential, and keys that only *refer* to one (a Secret's name, a key in it).
CREDENTIAL_KEY = re.compile(
    r"(passw(or)?d|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|credential|webhook|auth[-_]?key"
    r"|client[-_]?secret|routing[-_]?key)", re.I)
# Keys that *name* a Secret or a key inside one (the Prometheus Operator's `configSecret`, Grafana's `passwordKey`)
# hold references, not credentials.
REFERENCE_KEY = re.compile(r"(existing|secret[-_]?(name|ref|key[-_]?ref|store)|name$|ref$|refs$|keyref|file$|path$"
                           r"|enabled$|create$|mount|^config[-_]?secrets?$|(password|user(name)?|secret|token)[-_]?key$)",
                           re.I)
# Values that are credentials whatever their key (Slack webhooks, AWS access keys, bearer tokens, private keys).
CREDENTIAL_VALUE = re.compile(r"(https://hooks\.slack\.com/services/\S+|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY"
                              r"|^Bearer\s+\S+|^xox[abpr]-[\w-]+|^sk-[A-Za-z0-9_-]{16,})")


def stack_level() -> Resource:
    """The stack itself, for a violation about a resource that is missing (reported without a resource URN)."""
    return Resource("pulumi:pulumi:Stack", "(stack)", "", {})


# --- the audit trail ---------------------------------------------------------------------------------------------

def data_buckets(stack: Stack) -> list[Resource]:
    """Buckets whose policy denies or allows by `aws:SourceVpce` (the exfiltration guard's mark of a data bucket)."""
    found = []
    for bucket in stack.of_type(BUCKET):
        for policy in stack.referencing(bucket, [BUCKET_POLICY], "bucket"):
            try:
                doc = json_doc(policy.get("policy"), "bucket policy")
            except NotApplicable:  # an unknown policy cannot mark the bucket
                continue
            if any("aws:sourcevpce" in {k.lower() for cond in (s.get("Condition") or {}).values()
                                        if isinstance(cond, Mapping) for k in cond}
                   for s in statements(doc)):
                found.append(bucket)
                break
    return found


def _reads_included(selector: Mapping[str, Any]) -> bool:
    for fs in as_list(selector.get("fieldSelectors")):
        if dig(fs, "field") == "readOnly" and as_list(dig(fs, "equals")) == ["false"]:
            return False
    return True


def trail_covers(trail: Resource, bucket: Resource) -> bool:
    """Does `trail` record object reads and writes in `bucket`?"""
    deps = {*trail.property_dependencies.get("advancedEventSelectors", ()),
            *trail.property_dependencies.get("eventSelectors", ())}
    name = bucket.get("bucket")
    arn = f"arn:aws:s3:::{name}" if isinstance(name, str) and name else None
    for sel in as_list(known(trail.get("advancedEventSelectors"), "advanced event selectors")):
        fields = {dig(fs, "field"): fs for fs in as_list(dig(sel, "fieldSelectors")) if isinstance(fs, Mapping)}
        if as_list(dig(fields.get("eventCategory"), "equals")) != ["Data"]:
            continue
        if "AWS::S3::Object" not in as_list(dig(fields.get("resources.type"), "equals")):
            continue
        if not _reads_included(sel):
            continue
        arn_field = fields.get("resources.ARN")
        if arn_field is None:
            return True  # every bucket
        prefixes = [p for p in as_list(dig(arn_field, "startsWiths")) + as_list(dig(arn_field, "equals"))
                    if isinstance(p, str)]
        if bucket.urn in deps or (arn and any(p.startswith(arn) or arn.startswith(p.rstrip("/") + "/") or
                                              p in ("arn:aws:s3", "arn:aws:s3:::") for p in prefixes)):
            return True
    for sel in as_list(known(trail.get("eventSelectors"), "event selectors")):
        if dig(sel, "readWriteType") == "WriteOnly":
            continue
        for res in as_list(dig(sel, "dataResources")):
            if dig(res, "type") != "AWS::S3::Object":
                continue
            values = [v for v in as_list(dig(res, "values")) if isinstance(v, str)]
            if bucket.urn in deps or any(v in ("arn:aws:s3", "arn:aws:s3:::") or (arn and v.startswith(arn))
                                         for v in values):
                return True
    return False


def platform_stack(config: Mapping[str, Any]) -> str:
    """The platform stack a consumer stack's policy config names (`platformStack`), whose account-wide trail and
    detector serve it (one per account and Region), or "". Config, not the program: the engine hands a stack policy
    no StackReference (a read resource has no goal, so AnalyzeStack never sees it: pkg/resource/deploy
    step_executor keeps `news` for resources with a goal only), so a policy cannot see what the stack references."""
    value = config.get("platformStack")
    return value if isinstance(value, str) else ""


CONSUMER_PROD_ONLY: dict[str, dict[str, Any]] = {**PROD_ONLY, "platformStack": {
    "type": "string", "default": "",
    "description": "A consumer stack (no securityBaseline of its own): the platform stack (org/project/stack) in the "
                   "same account and Region whose trail and GuardDuty detector serve it. Default: none (the stack "
                   "must have its own)."}}


@stack_policy(
    "mlops-cloudtrail-audit-trail",
    description="Prod stacks have a multi-region CloudTrail trail with log file validation and KMS encryption, "
                "recording S3 data events on every data bucket.",
    severity="high", pack="mlops-compliance",
    controls=("CKV_AWS_67", "CKV_AWS_36", "CKV_AWS_35", "FSBP CloudTrail.1", "FSBP CloudTrail.2",
              "FSBP CloudTrail.4", "FSBP S3.22", "FSBP S3.23", "CIS-AWS 3.1", "CIS-AWS 3.2", "CIS-AWS 3.5",
              "SOC2 CC7.2", "ISO27001 A.8.15", "PCI-DSS 10.2.1"),
    remediation="Enable securityBaseline.cloudtrail and trailDataEvents (the SecurityBaseline component), or add an "
                "aws.cloudtrail.Trail with is_multi_region_trail, enable_log_file_validation, kms_key_id and an "
                "advanced event selector for AWS::S3::Object data events on the data buckets' ARNs. A consumer "
                "stack (no securityBaseline of its own): name the platform stack whose trail (its `auditTrailArn` "
                "output) records the account, in this policy's config `platformStack`.",
    config=CONSUMER_PROD_ONLY,
)
def audit_trail(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    env_applies(config)
    trails = stack.of_type(TRAIL)
    if not trails and not platform_stack(config):
        yield stack_level(), ("stack has no CloudTrail trail, and its policy config names no platform stack whose trail "
                              "records the account (platformStack)")

    def hardened(trail: Resource) -> Iterable[str]:
        if known(trail.get("isMultiRegionTrail"), "isMultiRegionTrail") is not True:
            yield "trail is not multi-region (isMultiRegionTrail)"
        if known(trail.get("enableLogFileValidation"), "enableLogFileValidation") is not True:
            yield "trail has no log file validation (enableLogFileValidation)"
        if not known(trail.get("kmsKeyId"), "kmsKeyId"):
            yield "trail log files are not encrypted with a KMS key (kmsKeyId)"

    yield from each(trails, hardened)

    def covered(bucket: Resource) -> Iterable[str]:
        if not trails:
            yield "no CloudTrail trail records data events for this data bucket"
        elif not any(trail_covers(t, bucket) for t in trails):
            yield "no CloudTrail trail records S3 data events (reads and writes) for this data bucket"

    yield from each(data_buckets(stack), covered)


# --- threat detection --------------------------------------------------------------------------------------------

EKS_AUDIT = "EKS_AUDIT_LOGS"
RUNTIME = ("RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING")


@stack_policy(
    "mlops-guardduty-eks-protection",
    description="Prod stacks run an enabled GuardDuty detector with EKS audit-log monitoring and EKS runtime "
                "monitoring enabled as detector features.",
    severity="high", pack="mlops-security",
    controls=("CKV2_AWS_3", "FSBP GuardDuty.1", "FSBP GuardDuty.5", "FSBP GuardDuty.7", "CIS-EKS 2.1",
              "SOC2 CC7.2", "ISO27001 A.8.16"),
    remediation="Enable securityBaseline.guardduty with guarddutyEksAuditLogs and guarddutyRuntimeMonitoring, or add "
                "an aws.guardduty.Detector with aws.guardduty.DetectorFeature EKS_AUDIT_LOGS and RUNTIME_MONITORING "
                "(status ENABLED). A consumer stack: name the platform stack whose detector (its `guardDutyDetectorId` "
                "output; one per account and Region) watches the account, in this policy's config `platformStack`.",
    config=CONSUMER_PROD_ONLY,
)
def guardduty_eks(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    env_applies(config)
    detectors = stack.of_type(DETECTOR)
    if not detectors and not platform_stack(config):
        yield stack_level(), ("stack has no GuardDuty detector, and its policy config names no platform stack whose "
                              "detector watches the account (platformStack)")

    def check(detector: Resource) -> Iterable[str]:
        if known(detector.get("enable"), "enable") is False:
            yield "GuardDuty detector is disabled (enable)"
        status: dict[str, Any] = {}
        for feature in stack.referencing(detector, [DETECTOR_FEATURE], "detectorId"):
            status[known(feature.get("name"), "feature name")] = known(feature.get("status"), "feature status")
        legacy_audit = dig(detector.props, "datasources", "kubernetes", "auditLogs", "enable")
        if status.get(EKS_AUDIT) != "ENABLED" and legacy_audit is not True:
            yield "EKS audit-log monitoring is not enabled (detector feature EKS_AUDIT_LOGS)"
        if not any(status.get(name) == "ENABLED" for name in RUNTIME):
            yield "EKS runtime monitoring is not enabled (detector feature RUNTIME_MONITORING)"

    yield from each(detectors, check)


# --- plaintext secrets -------------------------------------------------------------------------------------------

def _credential_paths(value: Any, path: str = "") -> Iterable[str]:
    """Paths in a values tree whose key names a credential and that hold a value (known or not)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if (CREDENTIAL_KEY.search(str(key)) and not REFERENCE_KEY.search(str(key))
                    and not isinstance(item, (Mapping, list, bool, int, float)) and item not in (None, "")):
                yield sub
            else:
                yield from _credential_paths(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _credential_paths(item, f"{path}[{i}]")
    elif isinstance(value, str) and CREDENTIAL_VALUE.search(value):
        yield path or "(value)"


# Keys of the Kubernetes built-in Secret types whose values are key material (kubernetes.io/tls, ssh-auth,
# dockerconfigjson, dockercfg: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types).
SECRET_TYPE_KEYS = frozenset({"tls.key", "ssh-privatekey", ".dockerconfigjson", ".dockercfg"})


def _structured(data: Mapping[str, Any]) -> dict[str, Any]:
    """A ConfigMap's values, JSON or YAML documents read as what they hold (a chart's JSON config names keys such as
    `s3AccessKeyIDName`: references, judged key by key, not as one credential-named blob; a YAML config file's
    `password: x` is a credential however the file is named)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        out[key] = value
        if not isinstance(value, str):
            continue
        out[key] = _parsed_text(value, str(key))
    return out


INI_LINE = re.compile(r"^\s*([\w.-]+)\s*[=:]\s*(\S.*?)\s*$")
INI_FILES = (".ini", ".cfg", ".conf", ".properties", ".env")


def _parsed_text(value: str, name: str = "") -> Any:
    """A config file held as text, read as what it holds: JSON, YAML (every document; a one-line one when its name
    says YAML), or `key = value` lines when its name says INI/.cfg/.properties; else the text itself. Kubernetes
    manifests bundled in a file are judged as objects are: only a Secret's data."""
    text = value.lstrip()
    if text.startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            parsed = json.loads(value)
            if isinstance(parsed, (Mapping, list)):
                return parsed
    if ":" in text and ("\n" in text.strip() or name.endswith((".yaml", ".yml"))):
        with contextlib.suppress(yaml.YAMLError):
            docs = [_unless_manifest(d) for d in yaml.safe_load_all(value) if isinstance(d, (Mapping, list))]
            if docs:
                return docs[0] if len(docs) == 1 else docs
    if name.endswith(INI_FILES):
        pairs = {m.group(1): m.group(2) for m in map(INI_LINE.match, text.splitlines()) if m}
        return pairs or value
    return value


def _unless_manifest(doc: Any) -> Any:
    if isinstance(doc, Mapping) and "apiVersion" in doc and "kind" in doc:
        return {k: doc.get(k) for k in ("data", "stringData")} if doc.get("kind") == "Secret" else {}
    return doc


def _names_credential(key: str) -> bool:
    return key in SECRET_TYPE_KEYS or bool(CREDENTIAL_KEY.search(key) and not REFERENCE_KEY.search(key))


# Keys of a Secret that hold an identity or a public connection detail, not a secret (no leak as a literal):
# `username`, `admin-user`, `MLFLOW_TRACKING_USERNAME`, `POSTGRES_USER`, `host`, `port`, `dbname`, a public
# certificate (`tls.crt`, `ca.crt`). Anything else a program writes into a Secret as a literal is judged: the key's
# name says nothing about the value (`DATABASE_URL` may embed a password; `key` is a key).
IDENTITY_KEY = re.compile(r"(^|[-_.])(user(name)?|login|email|host(name)?|port|db(name)?|database|region)$"
                          r"|(^|[-_.])(tls|ca)\.crt$", re.I)


def _literal_secret_finding(steps: list[str]) -> bool:
    return steps[0] in ("stringData", "data") and not IDENTITY_KEY.search(steps[-1])


@stack_policy(
    "mlops-no-plaintext-secrets-k8s",
    description="No plaintext secret values in Kubernetes Secrets, ConfigMaps or Helm values: secrets come from "
                "Pulumi secret config or AWS Secrets Manager through External Secrets, never from literals.",
    severity="critical", pack="mlops-security",
    controls=("CIS-EKS 4.4.2", "SOC2 CC6.1", "ISO27001 A.8.12", "PCI-DSS 3.5.1"),
    remediation="Store the value in AWS Secrets Manager from Pulumi secret config (securityBaseline."
                "integrationSecrets) and sync it with an ExternalSecret, or pass it from `config.require_secret`; "
                "point charts at the Secret by name (existingSecret) instead of passing the value.",
    strictness="always",
)
def no_plaintext_secrets(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def secret(res: Resource) -> Iterable[str]:
        # A typed Secret's data/stringData are secret in the SDK's schema: it wraps whatever the program passed in
        # Output.secret, so the plan shows "[secret]" and the engine shows policies the value unwrapped. What the
        # program passed is known only from the plan's record of literals (Resource.literal_secrets).
        for pointer in res.literal_secrets:
            steps = unescape_pointer(pointer)
            if _literal_secret_finding(steps):
                yield (f"Secret {'.'.join(steps)} is a literal in the program: the SDK stores it encrypted, but the "
                       "value is in the source and its history; pass it from Pulumi secret config or an ExternalSecret")
        for field in ("stringData", "data"):
            data = res.get(field)
            if field in res.secret_outputs or not isinstance(data, Mapping):  # marked secret, or absent/unknown
                continue
            for key, value in sorted(data.items()):  # not marked secret: the value sits in Pulumi state as is
                if not is_unknown(value) and value not in (None, ""):
                    yield f"Secret {field}.{key} holds a plaintext value; deliver it with an ExternalSecret"

    def config_map(res: Resource) -> Iterable[str]:
        for field in ("data", "binaryData"):
            data = res.get(field) or {}
            for path in _credential_paths(_structured(data) if isinstance(data, Mapping) else data):
                yield f"ConfigMap {field}.{path} holds a credential; ConfigMaps are not secret"

    def config_group(res: Resource) -> Iterable[str]:
        # Objects passed inline to a ConfigGroup (`objs`, or manifests in `yaml`) are plain inputs: a Secret among
        # them sits in state as written. (`files` are read by the provider at apply time: not judged here.)
        for where, obj in _group_objects(res):
            if isinstance(obj, Mapping) and obj.get("kind") == "Secret":
                for field in ("stringData", "data"):
                    for key, value in sorted((obj.get(field) or {}).items()):
                        if isinstance(value, str) and value and not is_unknown(value):
                            name = (obj.get("metadata") or {}).get("name")
                            yield f"Secret {name} {field}.{key} in the ConfigGroup's {where} holds a plaintext value"

    def helm(res: Resource) -> Iterable[str]:
        for path in _credential_paths(res.get("values") or {}):
            yield f"Helm value {path} holds a credential; reference a Secret by name instead"
        for i, asset in enumerate(res.get("valueYamlFiles") or []):  # in-memory values (a StringAsset's text)
            text = asset.get("text") if isinstance(asset, Mapping) else None
            for path in _credential_paths(_parsed_text(text)) if isinstance(text, str) else []:
                yield f"Helm valueYamlFiles[{i}] {path} holds a credential; reference a Secret by name instead"

    yield from each(stack.of_type(K8S_SECRET, "kubernetes:core/v1:SecretPatch"), secret)
    yield from each(stack.of_type("kubernetes:yaml/v2:ConfigGroup", "kubernetes:yaml:ConfigGroup"), config_group)
    yield from each(stack.of_type(CONFIG_MAP), config_map)
    yield from each(stack.of_type(HELM_RELEASE, HELM_CHART_V4), helm)


def _group_objects(res: Resource) -> Iterable[tuple[str, Any]]:
    for obj in res.get("objs") or []:
        yield "objs", obj
    manifests = res.get("yaml")
    for text in [manifests] if isinstance(manifests, str) else manifests if isinstance(manifests, list) else []:
        if isinstance(text, str) and not is_unknown(text):
            with contextlib.suppress(yaml.YAMLError):
                for obj in yaml.safe_load_all(text):
                    yield "yaml", obj
