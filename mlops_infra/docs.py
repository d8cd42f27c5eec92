"""Generate the generated parts of README.md and docs/ (config reference, output contract, prod diagram, figures),
so the tables and numbers never rot.

`python -m mlops_infra.docs --write README.md docs/*.md` rewrites every region between its markers in the files that
hold it; each region lives in exactly one file, and a test fails when any is out of date.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .config.environments import PROFILES, profile_value
from .platform.config import PlatformConfig

GENERATOR = "python -m mlops_infra.docs --write README.md docs/*.md"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in get_args(annotation))
    if origin in (list, tuple):
        return f"list[{_type_name(get_args(annotation)[0])}]"
    if origin is dict:
        k, v = get_args(annotation)
        return f"map[{_type_name(k)}, {_type_name(v)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "(section)"
        return f"`{json.dumps(value)}`" if value not in ([], {}) else "none"
    if field.default is PydanticUndefined or field.default is None:
        return "none"
    return f"`{json.dumps(field.default)}`"


def _profiles(path: tuple[str, ...]) -> str:
    cells = []
    for env in PROFILES:
        value = profile_value(env, path)
        if value is not ... and not isinstance(value, dict):
            cells.append(f"{env}: `{json.dumps(value)}`")
    return ", ".join(cells)


def _rows(model: type[BaseModel], prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], FieldInfo]]:
    rows = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = (*prefix, key)
        rows.append((path, field))
        item = "[]" if get_origin(field.annotation) is list else ""
        variants = _models_in(field.annotation)
        if len(variants) > 1:
            rows += _variant_rows(variants, (*prefix, key + item))
        else:
            for sub in variants:
                rows += _rows(sub, (*prefix, key + item))
    return rows


def _variant_rows(variants: list[type[BaseModel]], prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], FieldInfo]]:
    """One table for an engine union: keys every variant has once (`engine` lists every engine, default the first
    variant's), keys of one variant marked with its engine."""
    engine = {v: str(v.model_fields["engine"].default) if "engine" in v.model_fields else v.__name__ for v in variants}
    per_path: dict[tuple[str, ...], list[tuple[type[BaseModel], FieldInfo]]] = {}
    for variant in variants:
        for path, field in _rows(variant, prefix):
            per_path.setdefault(path, []).append((variant, field))
    rows = []
    for path, found in per_path.items():
        field = copy.copy(found[0][1])
        if path[-1] == "engine" and len(found) == len(variants):
            field.annotation = typing.Literal[tuple(engine[v] for v in variants)]  # type: ignore[assignment]
        elif len(found) < len(variants):
            owners = " or ".join(f"`{engine[v]}`" for v, _ in found)
            field.description = f"(engine {owners}) {field.description or ''}".rstrip()
        rows.append((path, field))
    return rows


# Which component each top-level section configures.
SECTION_COMPONENT = {
    "network": "Network", "cluster": "TrainingCluster", "gpu": "GpuNodePool / GpuSoftware", "gpuPools": "GpuNodePool",
    "featureStore": "FeastFeatureStore / SageMakerFeatureStore",
    "modelRegistry": "MlflowRegistry / SageMakerRegistry", "monitoring": "MonitoringCore",
    "securityBaseline": "SecurityBaseline", "data": "LakeFs / DvcRemotes / Qdrant",
    "orchestration": "Airflow / KubeflowPipelines / Metaflow / Prefect",
}
HEADER = ["| key | type | default | environment profiles | description |", "|---|---|---|---|---|"]


def _row(path: tuple[str, ...], field: FieldInfo) -> str:
    clean = tuple(p.removesuffix("[]") for p in path)
    description = (field.description or "").replace("|", "\\|")
    return (f"| `{'.'.join(path)}` | {_type_name(field.annotation)} | {_default(field)} | "
            f"{_profiles(clean)} | {description} |")


def config_reference() -> str:
    """Markdown: the platform's own keys, then one table per component section (every input, its type, default,
    environment-profile values and description)."""
    rows = _rows(PlatformConfig, ())
    out = ["#### Platform (`MlopsPlatform`)", "", *HEADER]
    out += [_row(p, f) for p, f in rows if len(p) == 1 and p[0] not in SECTION_COMPONENT]
    out += [_row(p, f) for p, f in rows if p[0] == "tags" and len(p) > 1]
    for section, component in SECTION_COMPONENT.items():
        out += ["", f"#### `{section}` ({component})", "", *HEADER]
        out += [_row(p, f) for p, f in rows if p[0].removesuffix("[]") == section and len(p) > 1
                and not _models_in(f.annotation)]
    return "\n".join(out)


def prod_diagram() -> str:
    """The Mermaid diagram `mlops-infra graph --stack prod` prints, for the repository's own prod stack."""
    from .plan import plan_program
    from .plan.graph import mermaid

    root = Path(__file__).resolve().parent.parent
    return f"```mermaid\n{mermaid(plan_program(root, 'prod'))}\n```"


def _outputs_table() -> str:
    from .outputs import contract_table

    return contract_table()


def examples_table() -> str:
    """One row per `examples/<name>/` program: its README's title and the command (the README's last line)."""
    root = Path(__file__).resolve().parent.parent / "examples"
    rows = ["| example | what it shows | plan it offline |", "|---|---|---|"]
    for readme in sorted(root.glob("*/README.md")):
        lines = readme.read_text(encoding="utf-8").splitlines()
        command = lines[-1].split("`")[1]
        rows.append(f"| [{readme.parent.name}](examples/{readme.parent.name}) | {lines[0].removeprefix('# ')} "
                    f"| `{command}` |")
    return "\n".join(rows)


def _figure(name: str) -> Callable[[], str]:
    def generate() -> str:
        from . import docs_figures

        return str(getattr(docs_figures, name)())
    return generate


# region name -> generator; each region sits between `<!-- NAME:start ... -->` and `<!-- NAME:end -->`.
REGIONS: dict[str, Callable[[], str]] = {
    "config-reference": config_reference,
    "stack-outputs": _outputs_table,
    "prod-diagram": prod_diagram,
    "headline": _figure("headline"),
    "cost-table": _figure("cost_table"),
    "cost-top": _figure("cost_top"),
    "critical-path": _figure("critical_path_figure"),
    "policy-list": _figure("policy_list"),
    "regions": _figure("regions"),
    "supported-regions": _figure("supported_regions"),
    "compatibility": _figure("compatibility"),
    "deployer-services": _figure("deployer_services"),
    "examples": examples_table,
}


def markers(region: str) -> tuple[str, str]:
    return f"<!-- {region}:start (generated by `{GENERATOR}`) -->", f"<!-- {region}:end -->"


def regions_in(text: str) -> list[str]:
    """The generated regions whose start marker `text` holds (any generator command in the marker)."""
    return [r for r in REGIONS if re.search(rf"<!-- {re.escape(r)}:start \(generated by `[^`]*`\) -->", text)]


def render_regions(text: str) -> str:
    """`text` with every generated region it holds rewritten (markers normalised to the current generator)."""
    for region in regions_in(text):
        start, end = markers(region)
        pattern = re.compile(rf"<!-- {re.escape(region)}:start \(generated by `[^`]*`\) -->.*?" + re.escape(end),
                             re.S)
        if not pattern.search(text):
            raise ValueError(f"region {region} has a start marker and no end marker")
        generated = REGIONS[region]()
        text = pattern.sub(lambda _, t=generated, a=start, b=end: f"{a}\n{t}\n{b}", text)  # type: ignore[misc]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, nargs="+", help="rewrite the generated regions of these files")
    args = parser.parse_args(argv)
    if args.write:
        for path in args.write:
            path.write_text(render_regions(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(config_reference() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
