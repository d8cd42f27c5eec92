"""The small core every rule uses: policy metadata, the resource view both runners share, unknown values,
and the registry the area modules add their rules to.

Rules are pure functions. A resource rule gets a `Resource` (type token, name, camelCase props) and its
policy config and yields violation messages; a stack rule gets a `Stack` and yields `(resource, message)`.
A value that is not known yet (preview, or the plan engine's "[unknown]"/"[secret]") is `UNKNOWN`; a rule
that needs it raises `NotApplicable`, so an unknown value never becomes a violation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
PackName = Literal["mlops-security", "mlops-compliance", "mlops-cost", "mlops-invariants"]
Strictness = Literal["standard", "always", "advisory"]
"""standard: advisory in dev, mandatory elsewhere. always: mandatory everywhere. advisory: advisory everywhere."""


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""A value that is not known yet. Compare with `is`."""

PLAN_UNKNOWN = "[unknown]"
PLAN_SECRET = "[secret]"
PLAN_LITERAL_SECRET = "[secret: a literal in the program]"
"""What the offline runner puts where the plan recorded that the program passed a plain literal which the provider
SDK then marked secret (the inventory's `plainSecretInputs`). Rules read it as unknown; `Resource.literal_secrets`
lists where it was."""
_LITERALS_SEEN = [0]
# The engine's unknown sentinels (pulumi_policy/proxy.py, copied so the rules need no gRPC import).
ENGINE_UNKNOWNS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
})


class NotApplicable(Exception):
    """The rule cannot judge this input (a value it needs is unknown, or the rule is off here)."""


MARKERS = tuple(f'"{m}"' for m in (*ENGINE_UNKNOWNS, PLAN_UNKNOWN, PLAN_SECRET, PLAN_LITERAL_SECRET))


def is_marker_free(value: Any) -> bool:
    """True when no string in `value` is an unknown or secret marker: then the value is already plain (one JSON dump
    in C instead of a walk in Python; a rendered prod check holds ~12 MB of CRDs). Inventory inputs are JSON (string
    keys). A marker-like key only sends the value down the slow, exact path."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return False
    return not any(marker in text for marker in MARKERS)


def plain(value: Any) -> Any:
    """Plain dicts/lists from the engine's unknown-checking proxies, with every unknown replaced by UNKNOWN."""
    kind = type(value).__name__
    if kind in ("_DictProxy", "_ListProxy"):
        value = value["__target"]  # the raw container: reading it does not raise on unknowns
    if isinstance(value, str):
        if value == PLAN_LITERAL_SECRET:
            _LITERALS_SEEN[0] += 1
            return LITERAL_SECRET
        return UNKNOWN if value in ENGINE_UNKNOWNS or value in (PLAN_UNKNOWN, PLAN_SECRET) else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or kind == "_ListProxy":
        return [plain(v) for v in value]
    return value


class _LiteralSecret:
    def __repr__(self) -> str:
        return "LITERAL_SECRET"


LITERAL_SECRET: Any = _LiteralSecret()
"""Only inside `plain`'s result, until `plain_props` moves it into `Resource.literal_secrets` (UNKNOWN in props)."""


def _pointer(path: tuple[str, ...]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in path)


def _split_literals(value: Any, path: tuple[str, ...], found: list[str]) -> Any:
    if value is LITERAL_SECRET:
        found.append(_pointer(path))
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _split_literals(v, (*path, k), found) for k, v in value.items()}
    if isinstance(value, list):
        return [_split_literals(v, (*path, str(i)), found) for i, v in enumerate(value)]
    return value


def plain_props(value: Any) -> tuple[Any, tuple[str, ...]]:
    """`plain(value)`, and the JSON pointers where the plan recorded a literal the SDK marked secret."""
    raw = value["__target"] if type(value).__name__ == "_DictProxy" else value
    if type(raw) is dict and is_marker_free(raw):
        return raw, ()  # already plain (and shared, read-only: rules never write to props)
    seen = _LITERALS_SEEN[0]
    props = plain(value)
    if _LITERALS_SEEN[0] == seen:
        return props, ()
    found: list[str] = []
    return _split_literals(props, (), found), tuple(found)


def unescape_pointer(pointer: str) -> list[str]:
    """The steps of a JSON pointer (`/stringData/tls.key` -> ["stringData", "tls.key"])."""
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def known(value: Any, what: str) -> Any:
    """`value`, or NotApplicable when it is unknown."""
    if value is UNKNOWN:
        raise NotApplicable(f"{what} is not known yet")
    return value


def dig(obj: Any, *path: str | int) -> Any:
    """Walk mappings/lists; None when a step is missing, UNKNOWN when a step is unknown."""
    for step in path:
        if obj is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            obj = obj[step] if isinstance(obj, list) and -len(obj) <= step < len(obj) else None
        else:
            obj = obj.get(step) if isinstance(obj, Mapping) else None
        if obj is None:
            return None
    return obj


def has_unknown(value: Any) -> bool:
    if isinstance(value, (dict, list)):
        try:
            json.dumps(value)  # UNKNOWN (like every sentinel) is not JSON: a value that dumps holds none
            return False
        except (TypeError, ValueError):
            pass
    return _has_unknown(value)


def _has_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def truthy(value: Any) -> bool | None:
    """Booleans as the providers send them (launch templates use "true"/"false" strings); None when unset."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if value is UNKNOWN:
        return [UNKNOWN]
    return list(value) if isinstance(value, list) else [value]


def json_doc(value: Any, what: str) -> dict[str, Any] | None:
    """A policy document (JSON string or mapping); NotApplicable while unknown; None when absent."""
    if value is None or value == "":
        return None
    known(value, what)
    if isinstance(value, str):
        if any(marker in value for marker in (PLAN_UNKNOWN, PLAN_SECRET, *ENGINE_UNKNOWNS)):
            raise NotApplicable(f"{what} is not known yet")
        try:
            doc = json.loads(value)
        except json.JSONDecodeError:
            raise NotApplicable(f"{what} is not valid JSON") from None
    else:
        doc = value
    if has_unknown(doc):
        raise NotApplicable(f"{what} is not known yet")
    return doc if isinstance(doc, dict) else None


def statements(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not doc:
        return []
    raw = doc.get("Statement", [])
    return [s for s in (raw if isinstance(raw, list) else [raw]) if isinstance(s, dict)]


@dataclass(frozen=True)
class Resource:
    """One resource as both runners see it: type token, name, URN, camelCase props (plain, UNKNOWN marked)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    parent: str | None = None
    provider_props: Mapping[str, Any] | None = None
    dependencies: tuple[str, ...] = ()
    """URNs this resource depends on (dependsOn and property dependencies), as the engine records them."""
    secret_outputs: tuple[str, ...] = ()
    """`additionalSecretOutputs`: inputs the provider SDK (or the program) marks secret. Under the engine a policy
    sees their values unwrapped, so a plain value there does not mean the program passed a literal."""
    literal_secrets: tuple[str, ...] = ()
    """JSON pointers of inputs the program passed as plain literals that the SDK then marked secret. Only the
    offline plan knows this (`plainSecretInputs`); under the engine it is empty."""

    def get(self, *path: str | int) -> Any:
        return dig(self.props, *path)


class Stack:
    """All resources of a stack, joined through property dependencies (never through names)."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def referencing(self, target: Resource, types: Iterable[str], prop: str) -> list[Resource]:
        """Resources of `types` whose input `prop` came from `target`."""
        wanted = set(types)
        return [r for r in self.resources
                if r.type in wanted and target.urn in r.property_dependencies.get(prop, ())]

    def referenced(self, source: Resource, prop: str, types: Iterable[str] | None = None) -> list[Resource]:
        """Resources `source`'s input `prop` came from (optionally only of `types`)."""
        wanted = set(types) if types is not None else None
        found = [self.by_urn[u] for u in source.property_dependencies.get(prop, ()) if u in self.by_urn]
        return [r for r in found if wanted is None or r.type in wanted]


@dataclass(frozen=True)
class PolicyMeta:
    name: str
    description: str
    severity: Severity
    pack: PackName
    controls: tuple[str, ...]
    """Framework controls and scanner ids, e.g. "CKV_AWS_19", "FSBP S3.5", "CIS-EKS 5.4.2", "SOC2 CC6.1"."""
    remediation: str
    strictness: Strictness = "standard"
    config: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """JSON-schema properties of the policy's own config, each with its `default`."""
    unwaivable: str | None = None
    """Set when a waiver under this policy is refused: why, and what to change instead."""


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Stack, Mapping[str, Any]], Iterable[tuple[Resource, str]]]


@dataclass(frozen=True)
class ResourceRule:
    meta: PolicyMeta
    types: frozenset[str]
    check: ResourceCheck


@dataclass(frozen=True)
class StackRule:
    meta: PolicyMeta
    check: StackCheck


Rule = ResourceRule | StackRule
REGISTRY: dict[str, Rule] = {}

F = TypeVar("F")


def _meta(name: str, description: str, severity: Severity, pack: PackName, controls: Sequence[str], remediation: str,
          strictness: Strictness, config: Mapping[str, dict[str, Any]] | None,
          unwaivable: str | None = None) -> PolicyMeta:
    if name in REGISTRY:
        raise ValueError(f"duplicate policy name {name!r}")
    return PolicyMeta(name, description, severity, pack, tuple(controls), remediation, strictness, dict(config or {}),
                      unwaivable)


def resource_policy(name: str, *, types: Iterable[str], description: str, severity: Severity, pack: PackName,
                    controls: Sequence[str], remediation: str, strictness: Strictness = "standard",
                    config: Mapping[str, dict[str, Any]] | None = None) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register a resource rule for the given type tokens."""

    def register(check: ResourceCheck) -> ResourceCheck:
        meta = _meta(name, description, severity, pack, controls, remediation, strictness, config)
        REGISTRY[name] = ResourceRule(meta, frozenset(types), check)
        return check

    return register


def stack_policy(name: str, *, description: str, severity: Severity, pack: PackName, controls: Sequence[str],
                 remediation: str, strictness: Strictness = "standard",
                 config: Mapping[str, dict[str, Any]] | None = None,
                 unwaivable: str | None = None) -> Callable[[StackCheck], StackCheck]:
    """Register a stack rule (joins resources through property dependencies). `unwaivable`: waivers under it are
    refused, with this text saying what to change instead."""

    def register(check: StackCheck) -> StackCheck:
        meta = _meta(name, description, severity, pack, controls, remediation, strictness, config, unwaivable)
        REGISTRY[name] = StackRule(meta, check)
        return check

    return register


def env_applies(config: Mapping[str, Any], key: str = "environments") -> None:
    """NotApplicable unless the policy config's `environment` is in its `environments` list."""
    env = config.get("environment")
    wanted = config.get(key) or []
    if env not in wanted:
        raise NotApplicable(f"applies only in {', '.join(wanted) or 'no environment'} (environment: {env})")


def per_env(config: Mapping[str, Any], key: str) -> Any:
    """A value from a per-environment mapping in the config (`{"dev": .., "staging": .., "prod": ..}`)."""
    table = config.get(key) or {}
    env = str(config.get("environment") or "prod")
    if env in table:
        return table[env]
    return table.get("prod")


def each(items: Iterable[Resource], check: Callable[[Resource], Iterable[str]]) -> Iterable[tuple[Resource, str]]:
    """Stack rules: run `check` per resource; one resource's unknown value skips only that resource."""
    for item in items:
        try:
            messages = list(check(item))
        except NotApplicable:
            continue
        for message in messages:
            yield item, message
