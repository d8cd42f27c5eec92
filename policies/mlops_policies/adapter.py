"""The validate callables both runners call: pulumi-policy's args in, rule results out through `report_violation`.

`pulumi preview --policy-pack` hands these functions the engine's args; `mlops-infra check` builds the same
args classes from a plan inventory and calls the very same functions. Waivers are applied here, so both
runners honour them the same way.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from .core import REGISTRY, NotApplicable, Resource, ResourceRule, Stack, StackRule, plain, plain_props
from .enforcement import Waiver, find_waiver, parse_waivers


@dataclass(frozen=True)
class Waived:
    policy: str
    resource: Resource
    message: str
    waiver: Waiver


# The offline runner collects waived findings and pins "today"; under the engine both stay unset.
WAIVED_SINK: contextvars.ContextVar[list[Waived] | None] = contextvars.ContextVar("mlops_waived", default=None)
TODAY: contextvars.ContextVar[date | None] = contextvars.ContextVar("mlops_today", default=None)


def _deps(raw: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, values in (raw or {}).items():
        out[str(key)] = tuple(v if isinstance(v, str) else str(getattr(v, "urn", v)) for v in values)
    return out


def _secret_outputs(opts: Any) -> tuple[str, ...]:
    return tuple(str(o) for o in getattr(opts, "additional_secret_outputs", None) or ())


def resource_from_args(args: ResourceValidationArgs) -> Resource:
    provider = args.provider
    props, literals = plain_props(args.props)
    return Resource(args.resource_type, args.name, args.urn, props, {},
                    args.opts.parent if args.opts is not None else None,
                    plain(provider.props) if provider is not None else None,
                    secret_outputs=_secret_outputs(args.opts), literal_secrets=literals)


def resource_from_policy_resource(res: PolicyResource) -> Resource:
    provider = res.provider
    props, literals = plain_props(res.props)
    return Resource(res.resource_type, res.name, res.urn, props, _deps(res.property_dependencies),
                    res.parent.urn if res.parent is not None else None,
                    plain(provider.props) if provider is not None else None,
                    tuple(str(getattr(d, "urn", d)) for d in res.dependencies or ()),
                    secret_outputs=_secret_outputs(res.opts), literal_secrets=literals)


# The offline runner hands every stack policy the same resource list: build the Stack (plain props) once per check.
_STACK_CACHE: list[tuple[list[PolicyResource], Stack]] = []


def stack_from_args(args: StackValidationArgs) -> Stack:
    resources = args.resources
    if _STACK_CACHE and _STACK_CACHE[0][0] is resources:
        return _STACK_CACHE[0][1]
    stack = Stack([resource_from_policy_resource(r) for r in resources])
    _STACK_CACHE[:] = [(resources, stack)]
    return stack


def _report(policy: str, config: Mapping[str, Any], resource: Resource, message: str,
            report: ReportViolation, urn: str | None) -> None:
    waivers = parse_waivers(policy, config.get("waivers"))
    active, expired = find_waiver(waivers, resource.name, TODAY.get() or date.today())
    if active is not None:
        sink = WAIVED_SINK.get()
        if sink is not None:
            sink.append(Waived(policy, resource, message, active))
        return
    if expired is not None:
        message = f"{message} (waiver expired {expired.expires.isoformat()}: {expired.reason})"
    report(message, urn)


def unwaivable_problem(policy: str, config: Mapping[str, Any]) -> str | None:
    """Why the waivers in a policy's config are refused (the policy takes none), or None."""
    rule = REGISTRY.get(policy)
    why = rule.meta.unwaivable if rule is not None else None
    if why is None or not config.get("waivers"):
        return None
    return f"{policy}: waivers are refused ({len(config['waivers'])} set): {why}"


def resource_validate(rule: ResourceRule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    name = rule.meta.name

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        config = args.get_config()
        resource = resource_from_args(args)
        try:
            messages = list(rule.check(resource, config))
        except NotApplicable as exc:
            args.not_applicable(str(exc))
            return
        for message in messages:
            _report(name, config, resource, message, report_violation, None)

    validate.__name__ = f"validate_{name.replace('-', '_')}"
    return validate


def stack_validate(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    name = rule.meta.name

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = args.get_config()
        refused = unwaivable_problem(name, config)
        if refused:  # the engine path: `check` refuses the config; here the waivers are ignored, out loud
            report_violation(f"{refused}; they are ignored", None)
            config = {k: v for k, v in config.items() if k != "waivers"}
        stack = stack_from_args(args)
        try:
            found = list(rule.check(stack, config))
        except NotApplicable as exc:
            args.not_applicable(str(exc))
            return
        for resource, message in found:
            _report(name, config, resource, message, report_violation, resource.urn)

    validate.__name__ = f"validate_{name.replace('-', '_')}"
    return validate
