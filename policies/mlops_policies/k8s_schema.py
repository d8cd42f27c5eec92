"""Built-in Kubernetes objects against the API's own schema at the cluster's version (ours and rendered from charts).

The schema is the Kubernetes OpenAPI document of that version as kubernetes-validate ships it (its `-strict` form:
unknown fields are errors). Custom resources are judged against their CRDs instead (`mlops-k8s-crd-schema`).
Values the plan cannot know (`[unknown]`, `[secret]`) are left out before validating, so they never fail; Patch
kinds (partial by design) are not judged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from .core import UNKNOWN, Resource, Stack, each, stack_policy
from .k8s_versions import DEFAULT_CLUSTER_VERSION, EKS_CLUSTER, minor

POLICY = "mlops-k8s-core-schema"


def _known(value: Any) -> Any:
    """The value without the leaves the plan could not know (the offline plan also writes null for an output a
    provider computes, such as an ECR repository URL: under the engine that is an unknown, never a null)."""
    if isinstance(value, Mapping):
        return {k: _known(v) for k, v in value.items() if not _is_placeholder(v)}
    if isinstance(value, list):
        return [_known(v) for v in value if not _is_placeholder(v)]
    return value


def _is_placeholder(value: Any) -> bool:
    return value is UNKNOWN or value is None or (isinstance(value, str) and value in ("[unknown]", "[secret]"))


@lru_cache(maxsize=512)
def _validator(version: str, kind: str, api_version: str) -> Any:
    """A compiled validator for (cluster minor version, kind, apiVersion), or None when the version has no such
    built-in kind (a custom resource, or an API the version does not serve)."""
    try:
        import jsonschema
        import kubernetes_validate.utils as kv  # type: ignore[import-untyped]
        from referencing import Registry
        from referencing import Resource as SchemaResource
    except ImportError:  # pragma: no cover - both are dependencies of mlops-infra
        return None
    candidates = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)]
    if not candidates:
        return None
    schema_dir = f"v{candidates[-1]}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry = SchemaResource.from_contents(definitions) @ (SchemaResource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _cluster_version(stack: Stack, config: Mapping[str, Any]) -> str:
    versions = [minor(c.get("version")) for c in stack.of_type(EKS_CLUSTER)]
    known = [v for v in versions if v is not None]
    chosen = min(known) if known else minor(config.get("clusterVersion") or DEFAULT_CLUSTER_VERSION)
    return f"{chosen[0]}.{chosen[1]}.0" if chosen else f"{DEFAULT_CLUSTER_VERSION}.0"


@stack_policy(
    POLICY,
    description="Every built-in Kubernetes object (ours, and those rendered from charts) is valid against the "
                "Kubernetes API schema of the stack's cluster version: no unknown field, wrong type or missing "
                "required field, which the API server would refuse or silently drop.",
    severity="high", pack="mlops-compliance", strictness="always",
    controls=("K8S-OPENAPI",),
    remediation="Fix the field the message names (a misspelling, a field of another API version, a wrong type); "
                "for a chart's object, the value that produced it.",
    config={"clusterVersion": {"type": "string", "default": DEFAULT_CLUSTER_VERSION,
                               "description": "Kubernetes version of the cluster when the stack has no EKS cluster."}},
)
def core_schema(stack: Stack, config: Mapping[str, Any]) -> Iterable[tuple[Resource, str]]:
    version = _cluster_version(stack, config)

    def check(res: Resource) -> Iterable[str]:
        body = res.props
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str) or res.type.endswith("Patch"):
            return
        validator = _validator(version, kind, api_version)
        if validator is None:
            return
        obj = json.loads(json.dumps(_known(body), default=str))
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))[:3]:
            path = ".".join(str(p) for p in error.absolute_path) or "(object)"
            meta = obj.get("metadata") or {}
            where = f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
            yield f"{kind} {where}: {path}: {error.message[:160]} (Kubernetes {version[:-2]} schema)"

    yield from each([r for r in stack.resources if r.type.startswith("kubernetes:")], check)
