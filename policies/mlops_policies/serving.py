"""Model serving (KServe InferenceServices): no public model without auth, read-only model servers, pinned
runtime images, resource limits, GPU pods that tolerate only inference taints."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, Stack, each, env_applies, json_doc, known, resource_policy, stack_policy, statements

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
CONTROLS = ("SOC2 CC6.1", "ISO27001 A.8.2")
WRITE_ACTIONS = ("s3:Put*", "s3:Delete*", "s3:Abort*", "s3:Replicate*", "s3:Restore*", "kms:Encrypt",
                 "kms:GenerateDataKey*", "kms:ReEncrypt*")


def _predictors(res: Resource) -> list[Mapping[str, Any]]:
    spec = known(res.get("spec"), "spec") or {}
    out = [spec.get("predictor") or {}]
    out += [c.get("predictor") or {} for c in spec.get("canary") or [] if isinstance(c, Mapping)]
    return out


@resource_policy(
    "mlops-serving-public-auth", types=[INGRESS],
    description="An internet-facing ALB in front of model predictors names a WAF web ACL or ALB authentication.",
    severity="critical", pack="mlops-security", controls=CONTROLS,
    remediation="Set serving.exposure.wafAclArn or serving.exposure.oidc, or keep the models private/internalAlb.",
)
def public_auth(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    ann = known(res.get("metadata", "annotations"), "annotations") or {}
    if ann.get("alb.ingress.kubernetes.io/scheme") != "internet-facing":
        return
    backends = [p.get("backend", {}).get("service", {}).get("name", "")
                for rule in known(res.get("spec", "rules"), "spec.rules") or []
                for p in (rule.get("http") or {}).get("paths", [])]
    # A `use-annotation` backend names an action; its forward target groups name the Services (a weighted canary).
    for backend in list(backends):
        action = ann.get(f"alb.ingress.kubernetes.io/actions.{backend}")
        if isinstance(action, str):
            try:
                groups = json.loads(action).get("forwardConfig", {}).get("targetGroups", [])
            except (ValueError, AttributeError):
                groups = []
            backends += [g.get("serviceName", "") for g in groups if isinstance(g, Mapping)]
    if not any(str(b).endswith("-predictor") for b in backends):
        return
    if not ann.get("alb.ingress.kubernetes.io/wafv2-acl-arn") and ann.get(
            "alb.ingress.kubernetes.io/auth-type") not in ("oidc", "cognito"):
        yield "internet-facing model endpoint without a WAF web ACL or ALB authentication"


@resource_policy(
    "mlops-serving-image-digest", types=[RUNTIME],
    description="ServingRuntime images are pinned by digest (a tag can be moved to other bits).",
    severity="medium", pack="mlops-security", controls=("SLSA Build L2", "SOC2 CC8.1"), strictness="advisory",
    remediation="Set serving.runtimes.*Image to `<image>@sha256:<digest>` and serving.runtimes.requireDigest: true.",
    config={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"]}},
)
def image_digest(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    env_applies(config)
    for c in known(res.get("spec", "containers"), "spec.containers") or []:
        image = str(c.get("image", ""))
        if "@sha256:" not in image:
            yield f"container {c.get('name')}: image {image} is not pinned by digest"


@resource_policy(
    "mlops-serving-resource-limits", types=[ISVC],
    description="Every predictor (stable and canary) sets CPU and memory limits.",
    severity="medium", pack="mlops-security", controls=("CIS-EKS 5.7.4", "SOC2 A1.1"),
    remediation="Set serving.models[].cpu and memory (rendered as requests = limits).",
)
def resource_limits(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    for predictor in _predictors(res):
        limits = ((predictor.get("model") or {}).get("resources") or {}).get("limits") or {}
        missing = [k for k in ("cpu", "memory") if not limits.get(k)]
        if missing:
            yield f"predictor {predictor.get('name') or 'default'} has no {' or '.join(missing)} limit"


@resource_policy(
    "mlops-serving-gpu-tolerations", types=[ISVC],
    description="A GPU predictor tolerates only inference taints (never the training pools' taints, never all).",
    severity="high", pack="mlops-security", controls=("SOC2 CC6.1",),
    remediation="Give the inference GPU pool its own taint (key mlops.io/inference) and name it in gpuPool.",
    config={"inferenceTaintKeys": {"type": "array", "items": {"type": "string"}, "default": ["mlops.io/inference"]}},
)
def gpu_tolerations(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    allowed = set(config.get("inferenceTaintKeys") or ())
    stable = _predictors(res)[0]
    gpus = ((stable.get("model") or {}).get("resources") or {}).get("limits", {}).get("nvidia.com/gpu")
    if not gpus:
        return
    tolerations = stable.get("tolerations") or []
    if not tolerations:
        yield "GPU predictor tolerates no inference taint (it would land on no GPU node, or on an untainted one)"
    for t in tolerations:
        if not t.get("key"):
            yield "GPU predictor tolerates every taint (toleration without a key)"
        elif t["key"] not in allowed:
            yield f"GPU predictor tolerates {t['key']}, not an inference taint ({', '.join(sorted(allowed))})"


def _service_account(stack: Stack, isvc: Resource) -> Resource | None:
    ns = isvc.get("metadata", "namespace")
    name = (_predictors(isvc)[0]).get("serviceAccountName")
    for sa in stack.of_type(SERVICE_ACCOUNT):
        if sa.get("metadata", "name") == name and sa.get("metadata", "namespace") == ns:
            return sa
    return None


@stack_policy(
    "mlops-serving-artifacts-read-only",
    description="The role a predictor's ServiceAccount assumes cannot write or delete objects, or encrypt.",
    severity="high", pack="mlops-security", controls=CONTROLS,
    remediation="Grant BucketRefs.read_statements() only (the ModelServing component does).",
)
def artifacts_read_only(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    def check(isvc: Resource) -> Iterable[str]:
        sa = _service_account(stack, isvc)
        if sa is None:
            return
        for role in stack.referenced(sa, "metadata", [ROLE]):
            for policy in stack.referencing(role, [ROLE_POLICY], "role"):
                for stmt in statements(json_doc(policy.get("policy"), "policy")):
                    actions = stmt.get("Action", [])
                    for action in [actions] if isinstance(actions, str) else actions:
                        if stmt.get("Effect") == "Allow" and any(
                                fnmatch.fnmatch(str(action), p) or fnmatch.fnmatch(p, str(action))
                                for p in WRITE_ACTIONS):
                            yield f"its role {role.name} allows {action} ({policy.name})"
    yield from each(stack.of_type(ISVC), check)


CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
S3_ENDPOINT_ANNOTATION = "serving.kserve.io/s3-endpoint"


@stack_policy(
    "mlops-serving-kserve-s3-endpoint-override",
    description="No S3 endpoint reaches a storage initializer that uses a workload identity: neither the "
                "`serving.kserve.io/s3-endpoint` annotation of a predictor's IRSA ServiceAccount (read first) nor "
                "`credentials.s3.s3Endpoint` in KServe's `inferenceservice-config` (read when the annotation is "
                "absent; kserve v0.20.0 pkg/credentials/s3/utils.go BuildS3EnvVars/getEnvValue). KServe turns it "
                "into AWS_ENDPOINT_URL, and botocore then sends every service's calls to it, so the identity's "
                "sts:AssumeRoleWithWebIdentity goes to S3 and every model download fails.",
    severity="high", pack="mlops-invariants",
    controls=("SOC2 A1.1",),
    remediation="Leave kserve.storage.s3.endpoint unset (the chart's default) and set only kserve.storage.s3.region; "
                "put no serving.kserve.io/s3-endpoint annotation on the model servers' ServiceAccount. botocore "
                "finds the regional S3 endpoint (and the VPC endpoint) itself.",
)
def kserve_s3_endpoint(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    yield from each([r for r in stack.of_type(CONFIG_MAP) if r.get("metadata", "name") == "inferenceservice-config"],
                    _s3_endpoint)
    accounts = {id(sa): sa for isvc in stack.of_type(ISVC) if (sa := _service_account(stack, isvc)) is not None}
    yield from each(list(accounts.values()), _annotated_endpoint)


def _annotated_endpoint(sa: Resource) -> Iterable[str]:
    """KServe adds S3 env from the ServiceAccount only when it carries the IRSA annotation
    (service_account_credentials.go); its `serving.kserve.io/s3-endpoint` annotation then wins over the ConfigMap,
    even when empty (which clears it)."""
    ann = known(sa.get("metadata", "annotations"), "annotations") or {}
    endpoint = ann.get(S3_ENDPOINT_ANNOTATION)
    if "eks.amazonaws.com/role-arn" in ann and isinstance(endpoint, str) and endpoint.strip():
        yield (f"annotation {S3_ENDPOINT_ANNOTATION} is {endpoint!r} on an IRSA ServiceAccount a predictor runs as: "
               "KServe sets AWS_ENDPOINT_URL on its storage initializers, so their STS call goes to that endpoint and "
               "model downloads fail")


def _s3_endpoint(res: Resource) -> Iterable[str]:
    credentials = json_doc(res.get("data", "credentials"), "KServe credentials config") or {}
    s3 = credentials.get("s3") if isinstance(credentials.get("s3"), Mapping) else {}
    endpoint = s3.get("s3Endpoint") if isinstance(s3, Mapping) else None
    if isinstance(endpoint, str) and endpoint.strip():
        yield (f"credentials.s3.s3Endpoint is {endpoint!r}: KServe sets AWS_ENDPOINT_URL on every storage "
               "initializer, so its IRSA STS call goes to that endpoint and model downloads fail")
