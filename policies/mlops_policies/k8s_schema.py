"""Built-in Kubernetes objects against the API's own schema at the cluster's version (ours and rendered from charts).

The schema is the Kubernetes OpenAPI document of that version as kubernetes-validate ships it (its `-strict` form:
unknown fields are errors). Custom resources are judged against their CRDs instead (`mlops-k8s-crd-schema`).
Values the plan cannot know (`[unknown]`, `[secret]`) are left out before validating, so they never fail; Patch
kinds (partial by design) are not judged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from .core import MARKERS, UNKNOWN, Resource, Stack, each, stack_policy
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


@lru_cache(maxsize=8)
def _schema_dir(version: str) -> str | None:
    """kubernetes-validate's schema folder for the cluster version: the newest not newer than it."""
    import kubernetes_validate.utils as kv  # type: ignore[import-untyped]

    wanted = minor(version)
    candidates = sorted({v for v in kv.all_versions() if (minor(v) or (0, 0)) <= (wanted or (0, 0))},
                        key=lambda v: minor(v) or (0, 0))
    return f"v{candidates[-1]}-local-strict" if candidates else None


@lru_cache(maxsize=8)
def _registry(version: str, schema_dir: str) -> Any:
    """The shared `_definitions.json` of a version, parsed once (a 3 MB document every kind refers to)."""
    import kubernetes_validate.utils as kv
    from referencing import Registry
    from referencing import Resource as SchemaResource

    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    return SchemaResource.from_contents(definitions) @ Registry()


@lru_cache(maxsize=512)
def _validator(version: str, kind: str, api_version: str) -> Any:
    """A compiled validator for (cluster minor version, kind, apiVersion), or None when the version has no such
    built-in kind (a custom resource, or an API the version does not serve)."""
    try:
        import jsonschema
        import kubernetes_validate.utils as kv
        from referencing import Resource as SchemaResource
    except ImportError:  # pragma: no cover - both are dependencies of mlops-infra
        return None
    schema_dir = _schema_dir(version)
    if schema_dir is None:
        return None
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    registry = SchemaResource.from_contents(schema) @ _registry(version, schema_dir)
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
    verdicts = _Verdicts.load()

    def check(res: Resource) -> Iterable[str]:
        body = res.props
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str) or res.type.endswith("Patch"):
            return
        try:
            text = json.dumps(body, sort_keys=True)  # UNKNOWN (not JSON) raises: the exact path below
        except (TypeError, ValueError):
            text = "null"
        if "null" in text or any(marker in text for marker in MARKERS):
            text = json.dumps(_known(body), default=str, sort_keys=True)  # leave out what the plan cannot know
        key = hashlib.sha256(f"{version}\0{text}".encode()).hexdigest()[:40]
        found = verdicts.get(key)
        if found is None:
            found = verdicts.put(key, list(_errors(version, kind, api_version, json.loads(text))))
        yield from found

    try:
        yield from each([r for r in stack.resources if r.type.startswith("kubernetes:")], check)
    finally:
        verdicts.save()


def _errors(version: str, kind: str, api_version: str, obj: dict[str, Any]) -> Iterable[str]:
    validator = _validator(version, kind, api_version)
    if validator is None:
        return
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))[:3]:
        path = ".".join(str(p) for p in error.absolute_path) or "(object)"
        meta = obj.get("metadata") or {}
        where = f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
        yield f"{kind} {where}: {path}: {error.message[:160]} (Kubernetes {version[:-2]} schema)"


class _Verdicts:
    """This check's messages per object (digest of the cluster version and the object), kept on disk between runs
    (`$MLOPS_INFRA_CACHE/policy`): validating ~380 objects against the OpenAPI schema costs about a second, the
    same objects come back on every warm check. The file's name carries the schema source's version and this
    check's revision, so a new kubernetes-validate or a changed check never reads an old verdict."""

    REVISION = "1"
    _loaded: _Verdicts | None = None

    def __init__(self, path: Path | None, entries: dict[str, list[str]]) -> None:
        self.path, self.entries, self.dirty = path, entries, False

    @classmethod
    def load(cls) -> _Verdicts:
        if cls._loaded is None:
            path = _verdict_file()
            entries: dict[str, list[str]] = {}
            if path is not None:
                with contextlib.suppress(OSError, ValueError):
                    loaded = json.loads(path.read_text(encoding="utf-8"))
                    entries = loaded if isinstance(loaded, dict) else {}
            cls._loaded = cls(path, entries)
        return cls._loaded

    def get(self, key: str) -> list[str] | None:
        found = self.entries.get(key)
        return found if isinstance(found, list) else None

    def put(self, key: str, messages: list[str]) -> list[str]:
        self.entries[key], self.dirty = messages, True
        return messages

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(self.entries), encoding="utf-8")
            partial.replace(self.path)
            self.dirty = False


def _verdict_file() -> Path | None:
    try:
        from importlib.metadata import version as dist_version

        source = dist_version("kubernetes-validate")
    except Exception:  # pragma: no cover - a dependency of mlops-infra
        return None
    base = os.environ.get("MLOPS_INFRA_CACHE") or str(Path.home() / ".cache" / "mlops-infra")
    return Path(base) / "policy" / f"{POLICY}-{source}-r{_Verdicts.REVISION}.json"
