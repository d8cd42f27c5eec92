"""Validate a custom resource against its CRD version's structural `openAPIV3Schema`, the way the API server does.

The structural schema is turned into a JSON Schema (draft 4: `exclusiveMinimum` is a boolean there, as in
Kubernetes) and checked with `jsonschema`. What the API server does beyond plain JSON Schema:
- unknown fields: a field a structural schema does not specify is pruned; with strict field validation (Helm's
  install and upgrade) it is an error. So every object node gets `additionalProperties: false` unless it has
  `additionalProperties` (a map) or `x-kubernetes-preserve-unknown-fields: true` (then only its specified
  properties are checked); an object node without properties therefore accepts no field at all;
- `x-kubernetes-int-or-string`: an integer or a string; `nullable: true`: null too. A null for a field that is not
  nullable is pruned before validation (so only `required` can then fail);
- `x-kubernetes-embedded-resource`: `apiVersion`, `kind` and `metadata` are allowed there;
- `metadata` at the root is ObjectMeta, which the API server validates itself (not by the CRD's schema);
- `default`: the API server fills a defaulted field before validating, so it never fails `required`.
Not evaluated: `format` (the API server knows only a few), CEL `x-kubernetes-validations` and list-type keys.
A value not known yet (`UNKNOWN`: the plan's "[unknown]"/"[secret]") never fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

from .core import UNKNOWN, has_unknown

KEPT = ("enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
        "minItems", "maxItems", "uniqueItems", "multipleOf", "minProperties", "maxProperties")
LOGIC = ("allOf", "anyOf", "oneOf")
ROOT_FIELDS = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
WHOLE_VALUE = frozenset({"anyOf", "oneOf", "allOf", "not", "enum", "uniqueItems"})
"""Validators that judge a value as a whole: an unknown anywhere inside it makes their verdict unknown."""


def to_json_schema(node: Mapping[str, Any], *, root: bool = False, logic: bool = False) -> dict[str, Any]:
    """The JSON Schema (draft 4) of a structural schema node (see the module docstring). `logic`: a node under
    allOf/anyOf/oneOf/not, which only adds value validation (it never closes an object to unknown fields)."""
    out: dict[str, Any] = {k: node[k] for k in KEPT if k in node}
    types = ["integer", "string"] if node.get("x-kubernetes-int-or-string") else (
        [node["type"]] if isinstance(node.get("type"), str) else [])
    if types and node.get("nullable"):
        types.append("null")
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if types:
        out["type"] = types[0] if len(types) == 1 else types
    properties = {str(k): to_json_schema(v, logic=logic) for k, v in (node.get("properties") or {}).items()}
    if node.get("x-kubernetes-embedded-resource"):
        properties = {**ROOT_FIELDS, **properties, "metadata": {"type": "object"}}
    if root:
        properties = {**properties, **ROOT_FIELDS}
    if properties:
        out["properties"] = properties
    required = [r for r in node.get("required") or [] if "default" not in ((node.get("properties") or {}).get(r) or {})]
    if required:
        out["required"] = required
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        out["additionalProperties"] = to_json_schema(extra, logic=logic)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif not logic and not node.get("x-kubernetes-preserve-unknown-fields") and (
            node.get("type") == "object" or "properties" in node or node.get("x-kubernetes-embedded-resource")):
        out["additionalProperties"] = False
    if isinstance(node.get("items"), Mapping):
        out["items"] = to_json_schema(node["items"], logic=logic)
    for key in LOGIC:
        if isinstance(node.get(key), list) and not (node.get("x-kubernetes-int-or-string") and _only_types(node[key])):
            out[key] = [to_json_schema(n, logic=True) for n in node[key]]
    if isinstance(node.get("not"), Mapping):
        out["not"] = to_json_schema(node["not"], logic=True)
    return out


def _only_types(branches: list[Any]) -> bool:
    """`anyOf: [{type: integer}, {type: string}]`, which every int-or-string node carries: `type` says it already."""
    return all(isinstance(b, Mapping) and set(b) == {"type"} for b in branches)


def drop_pruned_nulls(value: Any, node: Mapping[str, Any]) -> Any:
    """`value` without the nulls the API server prunes (a null for a field whose schema is not nullable)."""
    if isinstance(value, Mapping):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        out = {}
        for key, item in value.items():
            child = props.get(key) if key in props else extra if isinstance(extra, Mapping) else None
            if item is None and not (child or {}).get("nullable"):
                continue
            out[key] = drop_pruned_nulls(item, child) if isinstance(child, Mapping) else item
        return out
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [drop_pruned_nulls(v, node["items"]) for v in value]
    return value


@dataclass(frozen=True)
class SchemaError:
    path: str
    """`spec.predictor.model` (list items as `[0]`); "" at the root."""
    message: str
    unknown_field: bool = False


class CompiledSchema:
    """One CRD version's schema, converted once; `errors(obj)` lists what the API server would refuse."""

    def __init__(self, structural: Mapping[str, Any]) -> None:
        self.structural = structural
        self.validator = Draft4Validator(to_json_schema(structural, root=True))

    def errors(self, obj: Mapping[str, Any]) -> list[SchemaError]:
        instance = drop_pruned_nulls(obj, self.structural)
        found: list[SchemaError] = []
        for error in self.validator.iter_errors(instance):
            if error.instance is UNKNOWN or (error.validator in WHOLE_VALUE and has_unknown(error.instance)):
                continue
            found += list(_describe(error))
        return sorted(set(found), key=lambda e: (e.path, e.message))


def dotted(path: Any) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe(error: ValidationError) -> Iterator[SchemaError]:
    path = dotted(error.absolute_path)
    where = f"{path}." if path else ""
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = set((error.schema.get("properties") or {}) if isinstance(error.schema, Mapping) else ())
        for key in sorted(set(map(str, error.instance)) - known):
            yield SchemaError(f"{where}{key}", "unknown field", unknown_field=True)
    elif error.validator == "required" and isinstance(error.instance, Mapping):
        wanted = error.validator_value if isinstance(error.validator_value, list) else []
        for key in wanted:
            if key not in error.instance:
                yield SchemaError(f"{where}{key}", "required field is missing")
    elif error.validator == "type":
        yield SchemaError(path, f"{short(error.instance)} is not of type {error.validator_value!r}")
    elif error.validator == "enum":
        yield SchemaError(path, f"{short(error.instance)} is not one of {short(error.validator_value, 120)}")
    else:
        yield SchemaError(path, f"{short(error.instance)} fails {error.validator} {short(error.validator_value)}")
