"""Which inputs were plain literals in the program when a provider SDK marked them secret.

A provider's schema marks some inputs secret (pulumi_kubernetes: a Secret's `data` and `stringData`; pulumi_aws: an
RDS `password`, ...). The generated SDK then wraps whatever the program passed in `pulumi.Output.secret(...)` inside
the resource's `_internal_init` (pulumi_kubernetes 4.34.2 core/v1/Secret.py:
`__props__.__dict__["string_data"] = None if string_data is None else pulumi.Output.secret(string_data)`) and adds
`additional_secret_outputs`. From then on, on the wire and in the plan, a literal `"hunter2"` and a value from
`Output.secret(...)` or secret config look the same: `"[secret]"`. Only the moment of wrapping can tell them apart.

So, while a plan runs (a `Recorder` is active in the plan's context):
- `pulumi.Output.secret` is wrapped: when the caller is a provider SDK's `_internal_init` (module `pulumi_*`), the
  leaves of the value that are plain literals (not Outputs or awaitables, not None, not "") are remembered with the
  returned Output, as JSON-pointer paths inside the value;
- `pulumi.runtime.resource.prepare_resource` is wrapped: it finds those Outputs among the resource's input
  properties, names them as the engine will (the input type's camelCase names), and files the paths under the
  resource's type, name and parent URN, which is what the monitor's RegisterResource request carries.

Only the paths are recorded, never the values. Outside a plan both wrappers pass straight through.
"""

from __future__ import annotations

import contextvars
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.runtime.resource as _sdk_resource
from pulumi import _types

_ACTIVE: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("mlops_plan_literals", default=None)
_INSTALLED: list[bool] = []


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def literal_leaves(value: Any, path: str = "") -> list[str]:
    """JSON-pointer paths (RFC 6901) of the leaves of `value` that are plain literals; "" for the value itself."""
    if isinstance(value, pulumi.Output) or inspect.isawaitable(value) or value is None or value == "":
        return []
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in literal_leaves(v, f"{path}/{_escape(str(k))}")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in literal_leaves(v, f"{path}/{i}")]
    return [path]


@dataclass
class Recorder:
    """One plan's record: Outputs the SDK made secret from literals, then the paths per registration."""

    marked: dict[int, tuple[Any, list[str]]] = field(default_factory=dict)
    """id(Output) -> (the Output, kept alive so the id stays its own; literal paths inside its value)."""
    paths: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    """(type, name, parent URN) -> JSON-pointer paths of the inputs that were literals."""

    def take(self, typ: str, name: str, parent: str) -> list[str]:
        """The literal input paths of the registration `typ`/`name` under `parent` (each is handed out once)."""
        return self.paths.pop((typ, name, parent or ""), [])

    def props_literals(self, res: Any, props: Mapping[str, Any], typ: type | None) -> list[str]:
        names = _types.input_type_py_to_pulumi_names(typ) if typ is not None else {}
        translate: Callable[[str], str] = res.translate_input_property
        found: list[str] = []
        for key, value in props.items():
            entry = self.marked.get(id(value))
            if entry is None or entry[0] is not value:
                continue
            prop = names.get(key) or translate(key)
            found += [f"/{_escape(prop)}{sub}" for sub in entry[1]]
        return sorted(found)


def start() -> Recorder:
    """A new recorder for the plan running in the current context (installs the SDK wrappers once)."""
    _install()
    recorder = Recorder()
    _ACTIVE.set(recorder)
    return recorder


def _from_provider_sdk(frame: Any) -> bool:
    return bool(frame is not None and frame.f_code.co_name == "_internal_init"
                and str(frame.f_globals.get("__name__", "")).startswith("pulumi_"))


def _install() -> None:
    if _INSTALLED:
        return
    _INSTALLED.append(True)
    original_secret = pulumi.Output.secret
    original_prepare = _sdk_resource.prepare_resource

    def secret(val: Any) -> Any:
        out = original_secret(val)
        recorder = _ACTIVE.get()
        if recorder is not None and _from_provider_sdk(sys._getframe(1)):
            leaves = literal_leaves(val)
            if leaves:
                recorder.marked[id(out)] = (out, leaves)
        return out

    async def prepare_resource(res: Any, ty: str, custom: bool, remote: bool, props: Any, opts: Any,
                               typ: type | None = None) -> Any:
        recorder = _ACTIVE.get()
        found = recorder.props_literals(res, props, typ) if recorder is not None and recorder.marked else []
        resolver = await original_prepare(res, ty, custom, remote, props, opts, typ)
        if found and recorder is not None:
            recorder.paths[(ty, res._name, resolver.parent_urn or "")] = found
        return resolver

    pulumi.Output.secret = staticmethod(secret)  # type: ignore[method-assign]
    _sdk_resource.prepare_resource = prepare_resource
