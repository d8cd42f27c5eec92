"""Checks across the stacks of one project (`Pulumi.<stack>.yaml` files side by side, e.g. `stacks/`).

Some AWS resources exist once per account and Region: a GuardDuty detector (CreateDetector: "You can have only one
detector per account per Region") and an account-level IAM Access Analyzer analyzer per type (IAM user guide,
"IAM Access Analyzer quotas": 1, not adjustable). Two stacks of one account and Region that both create one fail
on `pulumi up` of the second. A stack's account is known from `aws:allowedAccountIds` when that names exactly one
account; without it, stacks in one Region are taken to share the account (they may, and nothing says otherwise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError
from .config import PlatformConfig
from .loader import CONFIG_KEY, CONFIG_NAMESPACE, load_platform_config

STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[^.]+)\.ya?ml$")
SINGLETONS = {"guarddutyDetector": "the GuardDuty detector", "accountAnalyzer": "the account analyzer"}


@dataclass(frozen=True)
class StackEntry:
    stack: str
    file: str
    account: str | None
    """The one account `aws:allowedAccountIds` names; None when unknown."""
    config: PlatformConfig


def _account(value: Any) -> str | None:
    if isinstance(value, str):  # a structured value as the CLI stores it
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return str(value[0]) if isinstance(value, list) and len(value) == 1 else None


@dataclass(frozen=True)
class Clash:
    key: str
    """`guarddutyDetector` or `accountAnalyzer`."""
    stack: StackEntry
    """The stack that creates one although `owner` does too."""
    owner: StackEntry

    def message(self) -> str:
        account = self.stack.account or self.owner.account or "unknown (aws:allowedAccountIds unset)"
        return (f"{self.stack.file}: securityBaseline.{self.key}: create, but stack {self.owner.stack} creates "
                f"{SINGLETONS[self.key]} too (account {account}, Region {self.stack.config.region}; one per account "
                f"and Region): set {self.key} existing here (see `mlops-infra preflight`)")


def _same_place(a: StackEntry, b: StackEntry) -> bool:
    if a.config.region != b.config.region:
        return False
    return a.account is None or b.account is None or a.account == b.account


def clashes(entries: Sequence[StackEntry]) -> list[Clash]:
    """Every stack that creates an account-level singleton another stack of the same account and Region creates
    first (stacks in name order)."""
    found: list[Clash] = []
    for key in SINGLETONS:
        owners: list[StackEntry] = []
        for entry in sorted(entries, key=lambda e: e.stack):
            if not entry.config.security_baseline.creates()[key]:
                continue
            owner = next((o for o in owners if _same_place(o, entry)), None)
            if owner is not None:
                found.append(Clash(key, entry, owner))
            owners.append(entry)
    return found


def singleton_problems(entries: Sequence[StackEntry]) -> list[str]:
    """`<file>: securityBaseline.<key>: ...` for every clash."""
    return [c.message() for c in clashes(entries)]


def _read(path: Path) -> tuple[str, Any, str | None] | None:
    """(stack, raw mlops:platform, account) of a stack file with a platform config, else None."""
    match = STACK_FILE.match(path.name)
    if match is None:
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    values = (data.get("config") or {}) if isinstance(data, dict) else {}
    raw = values.get(f"{CONFIG_NAMESPACE}:{CONFIG_KEY}")
    return None if raw is None else (match["stack"], raw, _account(values.get("aws:allowedAccountIds")))


def clashes_of(directory: Path, stack: str) -> list[Clash]:
    """The clashes `stack` takes part in (as the second creator or as the owner), against the stacks beside it
    that validate (the others report their own problems when they are used)."""
    entries: list[StackEntry] = []
    for path in sorted(directory.iterdir()):
        found = _read(path)
        if found is None:
            continue
        try:
            config = load_platform_config(found[1], source=path.name)
        except ConfigError:
            continue
        entries.append(StackEntry(found[0], path.name, found[2], config))
    return [c for c in clashes(entries) if stack in (c.stack.stack, c.owner.stack)]


def load_stack_set(directory: Path) -> list[StackEntry]:
    """Every stack in `directory` with an `mlops:platform` config, validated; raises one ConfigError that lists
    every problem of every stack (prefixed with its file) and every problem across them."""
    entries: list[StackEntry] = []
    problems: list[str] = []
    for path in sorted(directory.iterdir()):
        found = _read(path)
        if found is None:
            continue
        try:
            config = load_platform_config(found[1], source=path.name)
        except ConfigError as exc:
            problems += [f"{path.name}: {p}" for p in exc.problems]
            continue
        entries.append(StackEntry(found[0], path.name, found[2], config))
    problems += singleton_problems(entries)
    if problems:
        raise ConfigError(problems, source=str(directory.name or directory))
    return entries
