"""Strictness per environment, where the environment comes from, and waivers.

- Environment: the stack's `mlops:platform` environment when present, else an explicit one (`--environment`,
  or `MLOPS_POLICY_ENVIRONMENT` for the packs), else the stack name. Unknown names are treated like prod.
- Enforcement: a policy's strictness gives its default per environment (standard: advisory in dev, mandatory
  elsewhere); an `enforcementLevel` in the policy config (the `--policy-pack-config` file) overrides it.
- Waivers: in a policy's config, `waivers: [{resource, reason, expires}]`; `resource` is a glob over resource
  names. A waiver applies until the end of its expiry day; after that it stops applying and is reported.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from .core import Strictness

Level = Literal["advisory", "mandatory", "disabled"]
LEVELS: tuple[str, ...] = ("advisory", "mandatory", "remediate", "disabled")
PLATFORM_CONFIG_KEY = "mlops:platform"
ENVIRONMENT_OVERRIDE_VAR = "MLOPS_POLICY_ENVIRONMENT"


class PolicyConfigError(ValueError):
    """The policy config (waivers, levels) is invalid: a one-line message."""


def default_enforcement(strictness: Strictness, environment: str) -> Level:
    if strictness == "always":
        return "mandatory"
    if strictness == "advisory":
        return "advisory"
    return "advisory" if environment == "dev" else "mandatory"


def platform_environment(stack_config: Mapping[str, Any] | None) -> str | None:
    """`environment` of the `mlops:platform` structured config value, if the stack has one."""
    raw = (stack_config or {}).get(PLATFORM_CONFIG_KEY)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return None
    env = raw.get("environment") if isinstance(raw, Mapping) else None
    return env if isinstance(env, str) and env else None


def resolve_environment(stack_config: Mapping[str, Any] | None, explicit: str | None, stack: str | None) -> str:
    return platform_environment(stack_config) or explicit or stack or "prod"


def environment_from_process(environ: Mapping[str, str] | None = None) -> str:
    """What the packs use under `pulumi preview`: the engine passes the stack's config and name in the environment."""
    env = os.environ if environ is None else environ
    try:
        stack_config = json.loads(env.get("PULUMI_CONFIG", "{}") or "{}")
    except json.JSONDecodeError:
        stack_config = {}
    return resolve_environment(stack_config, env.get(ENVIRONMENT_OVERRIDE_VAR), env.get("PULUMI_STACK"))


@dataclass(frozen=True)
class Waiver:
    policy: str
    resource: str
    reason: str
    expires: date

    def matches(self, resource_name: str) -> bool:
        return fnmatch.fnmatchcase(resource_name, self.resource)

    def expired(self, today: date) -> bool:
        return today > self.expires

    def to_json(self) -> dict[str, str]:
        return {"policy": self.policy, "resource": self.resource, "reason": self.reason,
                "expires": self.expires.isoformat()}


def parse_waivers(policy: str, raw: Any) -> list[Waiver]:
    """Waivers from a policy's config; every one needs resource, reason and an ISO expiry date."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PolicyConfigError(f"{policy}.waivers: must be a list")
    out: list[Waiver] = []
    for i, item in enumerate(raw):
        where = f"{policy}.waivers[{i}]"
        if not isinstance(item, Mapping):
            raise PolicyConfigError(f"{where}: must be an object with resource, reason and expires")
        missing = [k for k in ("resource", "reason", "expires") if not str(item.get(k) or "").strip()]
        if missing:
            raise PolicyConfigError(f"{where}: missing {', '.join(missing)}")
        try:
            expires = date.fromisoformat(str(item["expires"]))
        except ValueError:
            raise PolicyConfigError(f"{where}.expires: not an ISO date (YYYY-MM-DD): {item['expires']!r}") from None
        out.append(Waiver(policy, str(item["resource"]), str(item["reason"]), expires))
    return out


def find_waiver(waivers: Iterable[Waiver], resource_name: str, today: date) -> tuple[Waiver | None, Waiver | None]:
    """(active waiver, expired waiver) matching the resource; an active one wins."""
    active = expired = None
    for w in waivers:
        if not w.matches(resource_name):
            continue
        if w.expired(today):
            expired = expired or w
        else:
            active = active or w
    return active, expired
