"""The offline runner behind `mlops-infra check`: a plan inventory (JSON schema v1) in, findings out.

It builds the same pulumi-policy args objects the engine builds (props wrapped in the SDK's unknown-checking
proxy, with the inventory's "[unknown]"/"[secret]" turned into the engine's unknown sentinel), calls the very
policy objects the packs serve, and applies enforcement the way the CLI reconciles `--policy-pack-config`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from .adapter import TODAY, WAIVED_SINK, Waived, unwaivable_problem
from .core import (
    PLAN_LITERAL_SECRET,
    PLAN_SECRET,
    PLAN_UNKNOWN,
    SEVERITIES,
    ResourceRule,
    Rule,
    is_marker_free,
    unescape_pointer,
)
from .cost_inputs import estimate_inputs_problem
from .enforcement import LEVELS, PolicyConfigError, Waiver, default_enforcement, parse_waivers
from .packs import PACKS, all_rules, build_policy, config_defaults

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Finding:
    policy: str
    pack: str
    severity: str
    enforcement: str
    urn: str
    name: str
    type: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "pack": self.pack, "severity": self.severity, "enforcement": self.enforcement,
                "resource": {"urn": self.urn, "name": self.name, "type": self.type}, "message": self.message}


@dataclass
class Report:
    project: str
    stack: str
    environment: str
    rules: list[Rule]
    findings: list[Finding] = field(default_factory=list)
    waived: list[Waived] = field(default_factory=list)
    expired_waivers: list[Waiver] = field(default_factory=list)
    unmatched_waivers: list[Waiver] = field(default_factory=list)
    """Active waivers whose glob matches no resource of this stack: a renamed resource or stack dropped them."""
    levels: dict[str, str] = field(default_factory=dict)

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.enforcement == "mandatory"]

    @property
    def exit_code(self) -> int:
        return 1 if self.mandatory else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "summary": {"policies": len(self.rules), "mandatory": len(self.mandatory),
                        "advisory": len(self.findings) - len(self.mandatory), "waived": len(self.waived),
                        "expiredWaivers": len(self.expired_waivers)},
            "findings": [f.to_json() for f in self.findings],
            "waived": [{"policy": w.policy, "resource": {"urn": w.resource.urn, "name": w.resource.name,
                                                         "type": w.resource.type},
                        "message": w.message, "reason": w.waiver.reason, "expires": w.waiver.expires.isoformat()}
                       for w in self.waived],
            "expiredWaivers": [w.to_json() for w in self.expired_waivers],
            "unmatchedWaivers": [w.to_json() for w in self.unmatched_waivers],
        }

    def text(self) -> str:
        lines = [f"Policy check of {self.project}/{self.stack} (environment {self.environment}): "
                 f"{len(self.rules)} policies, {len(self.mandatory)} mandatory and "
                 f"{len(self.findings) - len(self.mandatory)} advisory violations, {len(self.waived)} waived"]
        for severity in SEVERITIES:
            group = [f for f in self.findings if f.severity == severity]
            if not group:
                continue
            lines += ["", f"{severity.upper()} ({len(group)})"]
            lines += [f"  [{f.enforcement}] {f.policy}: {f.name} ({f.type}): {f.message}" for f in group]
        if self.waived:
            lines += ["", f"WAIVED ({len(self.waived)})"]
            lines += [f"  {w.policy}: {w.resource.name}: {w.message} (until {w.waiver.expires.isoformat()}: "
                      f"{w.waiver.reason})" for w in self.waived]
        if self.expired_waivers:
            lines += ["", f"EXPIRED WAIVERS ({len(self.expired_waivers)}): no longer applied"]
            lines += [f"  {w.policy}: {w.resource} expired {w.expires.isoformat()} ({w.reason})"
                      for w in self.expired_waivers]
        if self.unmatched_waivers:
            lines += ["", f"UNMATCHED WAIVERS ({len(self.unmatched_waivers)}): match no resource of this stack"]
            lines += [f"  {w.policy}: {w.resource}" for w in self.unmatched_waivers]
        return "\n".join(lines)


def load_policy_config(path: Path | None) -> dict[str, Any]:
    """Read a `--policy-pack-config` JSON file (policy name -> level, or object with enforcementLevel and props)."""
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError) as exc:
        raise PolicyConfigError(f"{path}: cannot read policy config ({exc})") from None
    if not isinstance(data, dict):
        raise PolicyConfigError(f"{path}: must be a JSON object of policy name -> config")
    known = {rule.meta.name for rule in all_rules()} | {"all"}
    unknown = sorted(set(data) - known)
    if unknown:  # a renamed or folded policy would otherwise drop its waivers and allowlists without a word
        raise PolicyConfigError(f"{path}: no policy is named {', '.join(unknown)} (`mlops-infra check --list-policies` names "
                                "them); move its settings to the policy that replaced it")
    for name, value in data.items():
        level = value if isinstance(value, str) else value.get("enforcementLevel") if isinstance(value, dict) else None
        if not isinstance(value, (str, dict)):
            raise PolicyConfigError(f"{path}: {name}: must be an enforcement level or an object")
        if level is not None and level not in LEVELS:
            raise PolicyConfigError(f"{path}: {name}: {level!r} is not a valid enforcement level")
        if isinstance(value, dict):
            parse_waivers(name, value.get("waivers"))
            refused = unwaivable_problem(name, value)
            if refused:
                raise PolicyConfigError(f"{path}: {refused}")
    problem = estimate_inputs_problem(data)
    if problem:
        raise PolicyConfigError(f"{path}: {problem}")
    return data


def effective(rule: Rule, environment: str, policy_config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(enforcement level, config) as the Pulumi CLI reconciles them: defaults, the pack's initial config, `all`, the file."""
    level: str = default_enforcement(rule.meta.strictness, environment)
    props = {**config_defaults(rule.meta), "environment": environment}
    everything = policy_config.get("all")
    if isinstance(everything, str):
        level = everything
    elif isinstance(everything, Mapping) and everything.get("enforcementLevel"):
        level = str(everything["enforcementLevel"])
    entry = policy_config.get(rule.meta.name)
    if isinstance(entry, str):
        level = entry
    elif isinstance(entry, Mapping):
        level = str(entry.get("enforcementLevel") or level)
        props.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
    if level == "remediate":
        level = "mandatory"
    return level, props


def _engine_value(value: Any) -> Any:
    if isinstance(value, str):
        return UNKNOWN_STRING_VALUE if value in (PLAN_UNKNOWN, PLAN_SECRET) else value
    if isinstance(value, Mapping):
        return {k: _engine_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_engine_value(v) for v in value]
    return value


def _with_literals(inputs: Mapping[str, Any], pointers: Sequence[str]) -> dict[str, Any]:
    """The inputs with PLAN_LITERAL_SECRET at each input the plan recorded as a literal the SDK marked secret
    (`plainSecretInputs`: `/stringData/password` turns `stringData: "[secret]"` into `{"password": <marker>}`)."""
    out: dict[str, Any] = dict(inputs)
    for pointer in pointers:
        steps = unescape_pointer(pointer)
        if not steps:
            continue
        node: dict[str, Any] = out
        for step in steps[:-1]:
            child = node.get(step)
            node[step] = child = dict(child) if isinstance(child, Mapping) else {}
            node = child
        node[steps[-1]] = PLAN_LITERAL_SECRET
    return out


def _inputs(record: Mapping[str, Any]) -> Any:
    inputs = record.get("inputs") or {}
    pointers = record.get("plainSecretInputs")
    return _engine_value(_with_literals(inputs, pointers) if pointers else inputs)


ID_IN_PROPS = frozenset({"aws:ec2/subnet:Subnet"})
"""Types whose record `id` is handed over as prop `id`, as the engine's view of an existing resource (its outputs)
carries it: a node group's `subnetIds` values are matched against it (node_model.group_subnets)."""


def _engine_view(record: Mapping[str, Any]) -> Any:
    """The props as the engine hands them to a policy: an unknown-checking proxy (reading an unknown raises). Inputs
    with no unknown, secret or literal marker (most records, and every CRD a chart ships) have nothing that could
    raise: they are handed over as they are, since pulumi_policy's proxy copies the whole tree eagerly."""
    inputs = record.get("inputs") or {}
    rid = record.get("id")
    if record.get("type") in ID_IN_PROPS and isinstance(rid, str) and rid and isinstance(inputs, dict) \
            and "id" not in inputs:
        record = {**record, "inputs": {**inputs, "id": rid}}
        inputs = record["inputs"]
    if not record.get("plainSecretInputs") and type(inputs) is dict and is_marker_free(inputs):
        return inputs
    return unknown_checking_proxy(_inputs(record))


def _options(record: Mapping[str, Any]) -> PolicyResourceOptions:
    opts = record.get("options") or {}
    return PolicyResourceOptions(
        bool(opts.get("protect")), list(opts.get("ignoreChanges") or []), opts.get("deleteBeforeReplace"),
        [json.dumps(a, sort_keys=True) if not isinstance(a, str) else a for a in opts.get("aliases") or []],
        PolicyCustomTimeouts(0, 0, 0), list(opts.get("additionalSecretOutputs") or []), record.get("parent"))


class _Resources:
    """Inventory records as the engine presents them to resource and stack validations."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records = [r for r in records if not (r.get("options") or {}).get("read")
                        and r.get("type") != "pulumi:pulumi:Stack"]
        self.by_urn = {str(r["urn"]): r for r in records}
        self.names = sorted({str(r.get("name", "")) for r in records})
        self._stack_resources: list[PolicyResource] | None = None
        # The engine's read-only views, built once per record (every rule reads the same props; with the objects
        # rendered from charts a prod check has ~1,000 records, and rebuilding them per rule doubled its time).
        self._props: dict[str, Any] = {}
        self._providers: dict[str, PolicyProviderResource | None] = {}

    def props(self, record: Mapping[str, Any]) -> Any:
        urn = str(record["urn"])
        if urn not in self._props:
            self._props[urn] = _engine_view(record)
        return self._props[urn]

    def provider(self, record: Mapping[str, Any]) -> PolicyProviderResource | None:
        urn = (record.get("options") or {}).get("provider")
        if not isinstance(urn, str):
            return None
        if urn not in self._providers:
            target = self.by_urn.get(urn)  # the inventory records the provider's URN
            self._providers[urn] = None if target is None else PolicyProviderResource(
                str(target["type"]), unknown_checking_proxy(_engine_value(target["inputs"])), str(target["urn"]),
                str(target["name"]))
        return self._providers[urn]

    def resource_args(self, record: Mapping[str, Any], config: Mapping[str, Any]) -> ResourceValidationArgs:
        return ResourceValidationArgs(str(record["type"]), self.props(record),
                                      str(record["urn"]), str(record["name"]), _options(record), self.provider(record),
                                      dict(config), {})

    def stack_args(self, config: Mapping[str, Any]) -> StackValidationArgs:
        # One resource list per check, shared by every stack policy: the adapter indexes it once (stack_from_args).
        if self._stack_resources is None:
            self._stack_resources = self._policy_resources()
        return StackValidationArgs(self._stack_resources, dict(config), {})

    def _policy_resources(self) -> list[PolicyResource]:
        resources = {str(r["urn"]): PolicyResource(
            str(r["type"]), self.props(r), str(r["urn"]), str(r["name"]),
            _options(r), self.provider(r), None, [], {}) for r in self.records}
        for r in self.records:
            res = resources[str(r["urn"])]
            res.parent = resources.get(str(r.get("parent")))
            res.dependencies = [resources[u] for u in r.get("dependencies") or [] if u in resources]
            res.property_dependencies = {k: [resources[u] for u in v if u in resources]
                                         for k, v in (r.get("propertyDependencies") or {}).items()}
        return list(resources.values())


def _run(policy: Policy, call: Any, report: Any) -> None:
    # Not applicable, or an unknown value during preview: never a violation.
    with contextlib.suppress(_NotApplicableError, UnknownValueError):
        policy.validate(call, report)  # type: ignore[attr-defined]


def evaluate(inventory: Mapping[str, Any], *, environment: str, policy_config: Mapping[str, Any] | None = None,
             packs: Iterable[str] | None = None, today: date | None = None,
             only: Iterable[str] | None = None) -> Report:
    """Run every policy of `packs` (default: all; `only`: just these policy names) over the inventory."""
    config_file = dict(policy_config or {})
    wanted = set(packs or PACKS)
    names = set(only) if only is not None else None
    rules = [r for r in all_rules() if r.meta.pack in wanted and (names is None or r.meta.name in names)]
    report = Report(str(inventory.get("project", "")), str(inventory.get("stack", "")), environment, rules)
    resources = _Resources(list(inventory.get("resources") or []))
    day = today or date.today()
    # A stack-level violation (no URN) is reported on the stack itself.
    stack_record = {"urn": f"urn:pulumi:{report.stack}::{report.project}::pulumi:pulumi:Stack::{report.project}-{report.stack}",
                    "name": f"{report.project}-{report.stack}", "type": "pulumi:pulumi:Stack"}
    sink: list[Waived] = []
    sink_token, today_token = WAIVED_SINK.set(sink), TODAY.set(day)
    try:
        for rule in rules:
            level, config = effective(rule, environment, config_file)
            if "rendering" in rule.meta.config and "rendering" in inventory:
                # What the plan rendered (mlops-infra check renders every release): a fact of the run, not config.
                config["rendering"] = list(inventory.get("rendering") or [])
            report.levels[rule.meta.name] = level
            refused = unwaivable_problem(rule.meta.name, config)
            if refused:
                raise PolicyConfigError(refused)
            waivers = parse_waivers(rule.meta.name, config.get("waivers"))
            report.expired_waivers += [w for w in waivers if w.expired(day)]
            report.unmatched_waivers += [w for w in waivers if not w.expired(day) and not any(
                w.matches(name) for name in (*resources.names, stack_record["name"]))]
            if level == "disabled":
                continue
            policy = build_policy(rule, environment)

            def add(message: str, urn: str | None, record: Mapping[str, Any] | None = None,
                    rule: Rule = rule, level: str = level) -> None:
                target = record if record is not None else resources.by_urn.get(urn or "") or stack_record
                report.findings.append(Finding(rule.meta.name, rule.meta.pack, rule.meta.severity, level,
                                               str(target["urn"]), str(target["name"]), str(target["type"]), message))

            if isinstance(policy, ResourceValidationPolicy):
                # Only the types the rule judges: its validate returns at once for any other (adapter.resource_validate).
                types = rule.types if isinstance(rule, ResourceRule) else None
                for record in resources.records:
                    if types is not None and record.get("type") not in types:
                        continue
                    _run(policy, resources.resource_args(record, config),
                         lambda m, u=None, rec=record, add=add: add(m, u, rec))
            elif isinstance(policy, StackValidationPolicy):
                _run(policy, resources.stack_args(config), lambda m, u=None, add=add: add(m, u))
    finally:
        WAIVED_SINK.reset(sink_token)
        TODAY.reset(today_token)
    report.waived = sink
    order: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
    report.findings.sort(key=lambda f: (f.enforcement != "mandatory", order[f.severity], f.policy, f.urn, f.message))
    return report


def list_policies(fmt: str = "text") -> str:
    rules = all_rules()
    if fmt == "json":
        return json.dumps([{"name": r.meta.name, "pack": r.meta.pack, "severity": r.meta.severity,
                            "strictness": r.meta.strictness, "kind": "resource" if isinstance(r, ResourceRule) else "stack",
                            "description": r.meta.description, "controls": list(r.meta.controls),
                            "remediation": r.meta.remediation} for r in rules], indent=2)
    lines = [f"{len(rules)} policies in {len(PACKS)} packs (strictness: standard = advisory in dev, mandatory elsewhere)"]
    for pack in PACKS:
        group = [r for r in rules if r.meta.pack == pack]
        lines += ["", f"{pack} ({len(group)})"]
        lines += [f"  {r.meta.name:<44} {r.meta.severity:<8} {r.meta.strictness:<9} {', '.join(r.meta.controls)}"
                  for r in group]
    return "\n".join(lines)
