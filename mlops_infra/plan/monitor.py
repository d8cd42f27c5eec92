"""A mock resource monitor that records every registration with its options and dependencies."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, Mocks
from pulumi.runtime.settings import get_project, get_stack

from . import literals
from .inventory import SECRET, UNKNOWN, ResourceRecord
from .strict import Registration
from .urns import engine_urn

_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig


def to_plain(value: Any) -> Any:
    """Wire value (protobuf JSON) -> plain JSON: secrets masked, unknowns marked, resource refs as URNs."""
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return SECRET
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        if sig is not None and "value" in value:  # output values: unwrap (secrets already handled above)
            return to_plain(value["value"]) if not value.get("secret") else SECRET
        if sig is not None:  # assets and archives: keep their description, not their bytes
            return {k: v for k, v in value.items() if k != _SIG and k in ("path", "uri", "text")}
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _provider_urn(ref: str) -> str | None:
    return ref.rsplit("::", 1)[0] if ref else None


class RecordingMonitor(MockMonitor):
    """Delegates to `MockMonitor` and keeps a `ResourceRecord` per registration, in registration order."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: list[ResourceRecord] = []
        self.registrations: list[Registration] = []
        self._numbered = 0
        self._providers = 0
        """Every RegisterResource call in order, duplicates included (`records` is what the inventory shows)."""
        self._kept: set[str] = set()
        self.literals = literals.start()  # which secret inputs were literals in the program (literals.py)

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's URN (the parent's whole qualified type), not the SDK mock's (its last type only).

        The SDK takes the URN it is given, as it does from the real engine: it only ever reads a URN's last type
        (`split("$")[-1]`), so the program, the recorded parents and dependencies, and alias specs all carry
        the engine's form and no mapping is needed afterwards."""
        return engine_urn(get_stack(), get_project(), parent, type_, name)

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        parent = request.parent or None
        if parent is not None and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = None
        self.records.append(ResourceRecord(
            urn=response.urn, type=request.type, name=request.name, parent=parent, custom=True, id=request.id,
            # A read resource's properties are what was read (its state), as the engine hands them to a policy
            # pack's stack analysis: e.g. a StackReference's `outputs`, which policies consult for a consumer stack.
            inputs={**to_plain(json_format.MessageToDict(request.properties)),
                    **to_plain(json_format.MessageToDict(response.properties))},
            options={"read": True, "provider": _provider_urn(request.provider), "dependsOn": sorted(request.dependencies)},
            dependencies=sorted(request.dependencies),
        ))
        return response

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        # Custom resources and remote components (multi-language components such as kustomize.v2.Directory) send
        # their inputs; a local component has none.
        inputs = to_plain(json_format.MessageToDict(request.object)) if request.custom or request.remote else {}
        prop_deps = {k: sorted(v.urns) for k, v in request.propertyDependencies.items() if v.urns}
        implicit = {u for urns in prop_deps.values() for u in urns}
        depends_on = sorted(u for u in request.dependencies if u not in implicit)
        aliases = [
            a.urn if a.urn else {k: v for k, v in json_format.MessageToDict(a.spec).items()}
            for a in request.aliases
        ] + list(request.aliasURNs)
        options: dict[str, Any] = {
            "protect": bool(request.protect),
            "retainOnDelete": bool(request.retainOnDelete),
            "dependsOn": depends_on,
            "provider": _provider_urn(request.provider),
            "ignoreChanges": list(request.ignoreChanges),
            "aliases": aliases,
            "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
        }
        if request.providers:
            options["providers"] = {k: _provider_urn(v) for k, v in request.providers.items()}
        parent = request.parent or None
        if parent is not None and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = None
        record = ResourceRecord(
            urn=response.urn, type=request.type, name=request.name, parent=parent, custom=bool(request.custom),
            id=(response.id or None) if request.custom else None, inputs=inputs, options=options,
            dependencies=sorted(request.dependencies), property_dependencies=prop_deps,
            plain_secret_inputs=self.literals.take(request.type, request.name, request.parent),
            source=(request.sourcePosition.uri, request.sourcePosition.line) if request.sourcePosition.uri else None,
        )
        # Numbered among the program's own resources: the SDK registers provider resources lazily (an unused
        # provider may register in one plan and not in the next within one process), so they would shift the count.
        # Providers take part in the duplicate check, numbered among providers.
        provider = record.type.startswith("pulumi:providers:")
        self._numbered += 0 if provider else 1
        self._providers += 1 if provider else 0
        self.registrations.append(Registration(self._providers if provider else self._numbered, record, provider))
        if record.urn not in self._kept:  # a duplicate is reported by strict checks; the inventory keeps the first
            self._kept.add(record.urn)
            self.records.append(record)
        return response
