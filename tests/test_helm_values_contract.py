"""Helm values contract: every values path the library sets exists in its chart, at the pinned version.

Fixtures (tests/data/chart-values/<chart>-<version>.yaml) list the values paths of each pinned chart, built once
from the chart's own values.yaml and templates at that version by tools/chart_values_fixture.py (the header of
each fixture names the upstream commit). No network: a typo, or a key the chart removed, fails here; a pin that
moves without its fixture fails here too. The test also flags Helm map merges that keep a chart default which
weakens a security context the library sets (the dcgm `capabilities.add: [SYS_ADMIN]` case: Helm merges maps,
so setting only `capabilities.drop` leaves the default `add` in place).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.config import versions
from tests.integration.plans import LABELS, plan
from tests.integration.rendered import HELM_RELEASE
from tests.nonempty import each

FIXTURES = Path(__file__).resolve().parent / "data" / "chart-values"


@dataclasses.dataclass(frozen=True)
class Contract:
    chart: str
    version: str
    paths: frozenset[str]
    open: frozenset[str]
    defaults: dict[str, Any]

    def knows(self, path: str) -> bool:
        parts = path.split(".")
        return path in self.paths or any(".".join(parts[:i]) in self.open for i in range(1, len(parts)))


def chart_name(chart: str) -> str:
    """`oci://ghcr.io/kubeflow/charts/kubeflow-trainer` -> `kubeflow-trainer`."""
    return chart.rstrip("/").rsplit("/", 1)[-1]


@cache
def contract(chart: str, version: str) -> Contract | None:
    path = FIXTURES / f"{chart_name(chart)}-{version}.yaml"
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text())
    assert (data["chart"], data["version"]) == (chart_name(chart), version), f"{path.name} describes another chart"
    return Contract(data["chart"], data["version"], frozenset(data["paths"]), frozenset(data["open"]), data["defaults"])


def leaves(values: Any, prefix: str = "") -> list[str]:
    """Every path the values set; a list or an empty map is a leaf (Helm replaces lists, it does not merge them)."""
    if isinstance(values, dict) and values:
        return [p for key, item in values.items() for p in leaves(item, f"{prefix}.{key}" if prefix else str(key))]
    return [prefix] if prefix else []


def lookup(values: Any, path: str) -> tuple[bool, Any]:
    for key in path.split("."):
        if not isinstance(values, dict) or key not in values:
            return False, None
        values = values[key]
    return True, values


# What a kept default must not do: grant a privilege the library's own security context leaves out.
# Keyed by the path below the security context (Kubernetes SecurityContext / PodSecurityContext fields).
WEAKENS: dict[str, Any] = {
    "capabilities.add": lambda v: bool(v),
    "privileged": lambda v: v is True,
    "allowPrivilegeEscalation": lambda v: v is True,
    "runAsNonRoot": lambda v: v is False,
    "runAsUser": lambda v: v == 0,
    "runAsGroup": lambda v: v == 0,
    "readOnlyRootFilesystem": lambda v: v is False,
    "seccompProfile.type": lambda v: v == "Unconfined",
    "appArmorProfile.type": lambda v: v == "Unconfined",
}


def surviving_defaults(values: dict[str, Any], c: Contract) -> list[str]:
    """Chart defaults that weaken a security context the library sets, and that the library neither restates nor
    clears: Helm merges the library's map into the chart's, so they stay in the rendered pod."""
    found = []
    for path, default in c.defaults.items():
        parts = path.split(".")
        contexts = [i for i in range(1, len(parts)) if "securitycontext" in parts[i - 1].lower()]
        if not contexts:
            continue
        field = ".".join(parts[contexts[-1]:])
        owned, mapping = lookup(values, ".".join(parts[:contexts[-1]]))
        if (owned and isinstance(mapping, dict) and mapping and not lookup(values, path)[0]
                and field in WEAKENS and WEAKENS[field](default)):
            found.append(f"{path}={default!r}")
    return found


def releases() -> list[tuple[str, str, str, str, dict[str, Any]]]:
    out = []
    for label in LABELS:
        for r in plan(label).of_type(HELM_RELEASE):
            out.append((label, r.name, str(r.inputs["chart"]), str(r.inputs["version"]), r.inputs.get("values") or {}))
    return out


def test_every_pinned_chart_has_a_fixture_at_its_version() -> None:
    pins = {(p.chart, p.version) for p in vars(versions).values() if isinstance(p, versions.ChartPin)}
    pins |= {(chart, version) for _, _, chart, version, _ in releases()}
    missing = sorted(f"{chart_name(c)} {v}" for c, v in pins if contract(c, v) is None)
    assert not missing, f"no tests/data/chart-values fixture (run tools/chart_values_fixture.py): {missing}"


def test_every_values_path_the_library_sets_exists_in_its_chart() -> None:
    unknown = []
    for label, name, chart, version, values in each(releases()):
        c = contract(chart, version)
        assert c is not None, f"{name}: no fixture for {chart} {version}"
        unknown += [f"{label} {name} ({c.chart} {version}): {p}" for p in leaves(values) if not c.knows(p)]
    assert not unknown, "values paths the chart does not have:\n" + "\n".join(unknown)


def test_no_security_context_keeps_a_weakening_chart_default() -> None:
    kept = []
    for label, name, chart, version, values in each(releases()):
        c = contract(chart, version)
        assert c is not None
        kept += [f"{label} {name} ({c.chart} {version}): {d}" for d in surviving_defaults(values, c)]
    assert not kept, "Helm merges maps: these chart defaults survive the library's security context:\n" + "\n".join(kept)


# The checks themselves, on known inputs (so a check that cannot fail fails here).
DCGM = ("dcgm-exporter", "4.8.0")


def test_the_contract_rejects_a_typo_and_accepts_open_maps() -> None:
    c = contract(*DCGM)
    assert c is not None
    assert c.knows("serviceMonitor.enabled") and c.knows("securityContext.capabilities.drop")
    assert not c.knows("serviceMonitor.enable")  # typo
    assert c.knows("tolerations") and c.knows("affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution")


@pytest.mark.parametrize(("values", "kept"), [
    ({"securityContext": {"capabilities": {"drop": ["ALL"]}}}, True),
    ({"securityContext": {"capabilities": {"drop": ["ALL"], "add": []}}}, False),
    ({"serviceMonitor": {"enabled": False}}, False),  # the library does not own the security context: chart's call
    ({"securityContext": {"runAsNonRoot": True}}, True),
])
def test_the_merge_check_sees_the_dcgm_sys_admin_default(values: dict[str, Any], kept: bool) -> None:
    c = contract(*DCGM)
    assert c is not None
    assert ("securityContext.capabilities.add=['SYS_ADMIN']" in surviving_defaults(values, c)) is kept
