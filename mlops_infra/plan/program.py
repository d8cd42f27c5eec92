"""Find a Pulumi Python program and read a stack's config file, as the Pulumi CLI would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class PlanInputError(Exception):
    """Bad input to the plan engine (missing program or stack file, invalid YAML): a one-line message."""


@dataclass(frozen=True)
class Program:
    project: str
    main_dir: Path
    config_dir: Path

    def stack_file(self, stack: str) -> Path:
        return self.config_dir / f"Pulumi.{stack}.yaml"


@dataclass(frozen=True)
class StackConfig:
    """Flat `namespace:key` -> JSON-or-string values, as the SDK expects, plus which keys are secrets."""

    values: dict[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PlanInputError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise PlanInputError(f"{path}: {exc.strerror}") from None


def find_program(directory: Path) -> Program:
    """Read `Pulumi.yaml` (name, main, stackConfigDir) if present; otherwise the directory is the program."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise PlanInputError(f"{directory}: no such program directory")
    project_file = directory / "Pulumi.yaml"
    project, main_dir, config_dir = directory.name, directory, directory
    if project_file.exists():
        data = _load_yaml(project_file) or {}
        if not isinstance(data, dict) or "name" not in data:
            raise PlanInputError(f"{project_file}: not a Pulumi project file (no `name`)")
        if (data.get("runtime") if isinstance(data.get("runtime"), str) else (data.get("runtime") or {}).get("name")) != "python":
            raise PlanInputError(f"{project_file}: only Python programs can be planned")
        project = str(data["name"])
        main_dir = directory / str(data.get("main", "."))
        config_dir = directory / str(data.get("stackConfigDir", "."))
    if not (main_dir / "__main__.py").exists():
        raise PlanInputError(f"{main_dir}: no __main__.py")
    return Program(project, main_dir.resolve(), config_dir.resolve())


def _mask_secure(value: Any, placeholder: str) -> tuple[Any, bool]:
    """Replace `{secure: ...}` with a placeholder; report whether any was found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return placeholder, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], f = _mask_secure(v, placeholder)
            found = found or f
        return out, found
    if isinstance(value, list):
        items = [_mask_secure(v, placeholder) for v in value]
        return [i for i, _ in items], any(f for _, f in items)
    return value, False


def secret_placeholder(key: str) -> str:
    """What a secure config value reads as offline: ciphertext can't be decrypted without the stack's key."""
    return f"plan-secret({key})"


def read_stack_config(program: Program, stack: str) -> StackConfig:
    path = program.stack_file(stack)
    if not path.exists():
        raise PlanInputError(f"{path}: no such stack config file (stack {stack!r})")
    data = _load_yaml(path) or {}
    if not isinstance(data, dict):
        raise PlanInputError(f"{path}: must be a mapping with a `config:` key")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise PlanInputError(f"{path}: `config:` must be a mapping")
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for raw_key, raw_value in config.items():
        key = raw_key if ":" in str(raw_key) else f"{program.project}:{raw_key}"
        value, is_secret = _mask_secure(raw_value, secret_placeholder(key))
        values[key] = value if isinstance(value, str) else json.dumps(value)
        if is_secret:
            secrets.add(key)
    return StackConfig(values, frozenset(secrets))
