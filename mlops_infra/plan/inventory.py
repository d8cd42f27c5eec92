"""The plan inventory: every registered resource with its inputs, options and dependencies, plus stack outputs.

JSON schema (version 1) is documented in the README. Secret values never appear: they read `"[secret]"`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SECRET = "[secret]"
"""What a secret value reads in the inventory (never its plaintext)."""
UNKNOWN = "[unknown]"
"""What a value reads that is known only after `pulumi up` (an output of a resource not yet created)."""
SCHEMA_VERSION = 1


@dataclass
class ResourceRecord:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    id: str | None
    inputs: dict[str, Any]
    options: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    plain_secret_inputs: list[str] = field(default_factory=list)
    """JSON pointers of inputs the program passed as plain literals that the provider SDK marked secret
    (`/stringData/password`); values never appear (plan/literals.py)."""
    source: tuple[str, int] | None = None
    """Where the program (or a component) constructed the resource: file path and line (not in the JSON)."""

    def to_json(self) -> dict[str, Any]:
        # A copy (callers may change it), made directly: the values are plain JSON already, and
        # dataclasses.asdict's generic deep copy took ~0.1 s of `check --stack prod` (benchmarks/bench.py).
        return {"urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent, "custom": self.custom,
                "id": self.id, "inputs": _plain_copy(self.inputs), "options": _plain_copy(self.options),
                "dependencies": list(self.dependencies),
                "propertyDependencies": _plain_copy(self.property_dependencies),
                "plainSecretInputs": list(self.plain_secret_inputs)}


def _plain_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_copy(v) for v in value]
    return value


OUTPUT_LINES = 8
"""How many lines of a multi-line output `plan` prints (the JSON format has them all)."""


@dataclass
class Inventory:
    project: str
    stack: str
    resources: list[ResourceRecord]
    outputs: dict[str, Any]
    diagnostics: list[str] = field(default_factory=list)
    rendering: list[dict[str, Any]] = field(default_factory=list)
    """Per Helm release / kustomize Directory: urn, name, chart, status (rendered|unrendered|failed), objects, detail.
    Empty when the plan was not rendered (`plan_program(render=False)`)."""

    def __iter__(self) -> Iterator[ResourceRecord]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def by_urn(self) -> dict[str, ResourceRecord]:
        return {r.urn: r for r in self.resources}

    def of_type(self, typ: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> ResourceRecord:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def declared(self) -> list[ResourceRecord]:
        """The resources the program registered (what Pulumi manages), without the objects rendered from charts."""
        return [r for r in self.resources if not r.options.get("rendered")]

    def rendered(self) -> list[ResourceRecord]:
        """The objects rendered from Helm charts and kustomize bases (what the cluster receives from them)."""
        return [r for r in self.resources if r.options.get("rendered")]

    def children(self, urn: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.parent == urn]

    def component_of(self, record: ResourceRecord) -> ResourceRecord | None:
        """The nearest ancestor that is a component (not the stack)."""
        index = self.by_urn()
        parent = index.get(record.parent) if record.parent else None
        while parent is not None and parent.custom:
            parent = index.get(parent.parent) if parent.parent else None
        return parent

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
            "diagnostics": self.diagnostics,
            "rendering": self.rendering,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)

    def summary(self) -> str:
        """Resources per component and per type, the stack outputs, then the program's warnings (`diagnostics`)."""
        declared = self.declared()
        lines = [f"Plan for {self.project}/{self.stack}: {len(declared)} resources", ""]
        per_component: Counter[str] = Counter()
        for r in declared:
            if not r.custom:
                continue
            comp = self.component_of(r)
            per_component[f"{comp.name} ({comp.type})" if comp else "(stack)"] += 1
        lines.append("Resources per component:")
        lines += [f"  {n:5d}  {k}" for k, n in sorted(per_component.items())]
        lines.append("")
        lines.append("Resources per type:")
        per_type = Counter(r.type for r in declared)
        lines += [f"  {n:5d}  {k}" for k, n in sorted(per_type.items())]
        lines.append("")
        if self.rendering:
            lines.append(f"Rendered (what the cluster receives from charts and kustomize bases: "
                         f"{len(self) - len(declared)} objects):")
            for item in self.rendering:
                status, detail = item["status"], item["detail"]
                what = f"{item['objects']} objects" if status == "rendered" else f"{status}: {detail}"
                what += f" ({detail})" if status == "rendered" and detail else ""
                lines.append(f"  {item['name']} ({item['chart']}): {what}")
            lines.append("")
        lines.append("Outputs:")
        for key, value in self.outputs.items():
            text = value if isinstance(value, str) else json.dumps(value)
            if "\n" in text.strip():  # a kubeconfig, a policy document: its own lines, indented under the key
                body = text.strip().splitlines()
                lines.append(f"  {key}: ({len(body)} lines)")
                lines += [f"      {line[:100]}" for line in body[:OUTPUT_LINES]]
                lines += [f"      ... ({len(body) - OUTPUT_LINES} more)"] if len(body) > OUTPUT_LINES else []
                continue
            lines.append(f"  {key}: {text if len(text) <= 100 else text[:97] + '...'}")
        if not self.outputs:
            lines.append("  (none)")
        if self.diagnostics:  # what the program logged at warning or above, as `pulumi preview` prints it
            lines += ["", "Diagnostics:", *diagnostic_lines(self.diagnostics)]
        return "\n".join(lines)


def diagnostic_lines(messages: list[str]) -> list[str]:
    """The Diagnostics block: each distinct message once, in first-seen order, with `(N times)` when repeated; its
    continuation lines indented under its first (as the Outputs block indents a multi-line value)."""
    out: list[str] = []
    for message, count in Counter(messages).items():  # a Counter keeps first-seen order
        first, *rest = message.rstrip("\n").splitlines() or [""]
        out.append(f"  {first}" + (f"  ({count} times)" if count > 1 else ""))
        out += [f"      {line}" for line in rest]
    return out
