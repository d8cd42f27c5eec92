"""One output contract: a platform stack exports exactly the contract's keys for its config (core and add-ons),
and consumers read the same keys."""

from __future__ import annotations

import sys
import types
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.config import PlatformConfig
from mlops_infra.config.loader import load_platform_config
from mlops_infra.outputs import CONTRACT, Key, PlatformOutputs, checked, contract_table, exported_keys
from mlops_infra.platform import addons
from tests.conftest import PROGRAMS, ROOT, planned


def stack_config(program: Path, stack: str) -> PlatformConfig:
    raw = yaml.safe_load((program / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]["mlops:platform"]
    return load_platform_config(raw)


@pytest.mark.parametrize(("program", "stack"), [
    (ROOT / "stacks", "dev"), (ROOT / "stacks", "staging"), (ROOT / "stacks", "prod"),
    (PROGRAMS / "existing_vpc", "prod"),
])
def test_the_exported_keys_equal_the_contract_for_the_stacks_config(program: Path, stack: str) -> None:
    inv = planned(stack) if program == ROOT / "stacks" else planned(stack, program)
    assert set(inv.outputs) == exported_keys(stack_config(program, stack))


def test_dev_exports_what_the_contract_makes_conditional() -> None:
    """The equality above is not vacuous: dev's config turns keys off that prod's turns on."""
    dev, prod = exported_keys(stack_config(ROOT / "stacks", "dev")), exported_keys(stack_config(ROOT / "stacks", "prod"))
    assert {"auditTrailArn", "guardDutyDetectorId"} <= prod - dev
    assert {"featureStoreFeatureStoreYaml", "mlflowTrackingUri", "oidcProviderArn"} <= dev


def test_the_contract_follows_the_engine_variants() -> None:
    base = stack_config(ROOT / "stacks", "dev").model_dump(by_alias=True)
    sagemaker = load_platform_config({**base, "featureStore": {"engine": "sagemaker", "featureGroups": [
        {"name": "drivers", "recordIdentifier": "driver_id", "eventTime": "event_time",
         "features": {"driver_id": "String", "event_time": "String"}}]}})
    keys = exported_keys(sagemaker)
    assert "featureStoreFeatureGroupNames" in keys
    assert not keys & {"featureStoreFeatureStoreYaml", "featureStoreRegistryPath", "featureStoreOnlineTableNames"}


def test_undeclared_missing_or_unexpected_outputs_are_refused() -> None:
    config = stack_config(ROOT / "stacks", "dev")
    keys = [Key("a", "always"), Key("b", "never", when=lambda c: False)]
    assert checked(keys, config, {"a": 1, "b": None}, "t") == {"a": 1}
    with pytest.raises(ValueError, match=r"undeclared \['c'\]"):
        checked(keys, config, {"a": 1, "c": 2}, "t")
    with pytest.raises(ValueError, match=r"missing \['a'\]"):
        checked(keys, config, {"a": None}, "t")
    with pytest.raises(ValueError, match=r"not expected with this config \['b'\]"):
        checked(keys, config, {"a": 1, "b": 2}, "t")


def _fake_add_on(monkeypatch: pytest.MonkeyPatch, returns: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType("mlops_infra_test_addon_wiring")
    module.OUTPUTS = (Key("servingEndpoint", "An add-on's endpoint.", when=lambda c: c.environment != "dev"),)  # type: ignore[attr-defined]

    def build(ctx: Any) -> dict[str, Any]:
        return returns

    build.__module__ = module.__name__
    module.build = build  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(addons, "add_ons", lambda: [build])
    return module


def test_an_add_on_registers_its_keys_in_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_add_on(monkeypatch, {})
    assert "servingEndpoint" in exported_keys(stack_config(ROOT / "stacks", "prod"))
    assert "servingEndpoint" not in exported_keys(stack_config(ROOT / "stacks", "dev"))
    assert "`servingEndpoint`" in contract_table()


def test_an_add_on_must_export_exactly_what_it_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_add_on(monkeypatch, {"servingEndpoint": "http://x", "stray": 1})
    ctx = types.SimpleNamespace(config=stack_config(ROOT / "stacks", "prod"))
    with pytest.raises(ValueError, match=r"undeclared \['stray'\]"):
        addons.build_add_ons(ctx)  # type: ignore[arg-type]


def test_an_add_on_without_declared_keys_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _fake_add_on(monkeypatch, {})
    del module.OUTPUTS  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="OUTPUTS: tuple"):
        exported_keys(stack_config(ROOT / "stacks", "dev"))


def test_consumers_read_every_contract_key() -> None:
    names = {f.name for f in fields(PlatformOutputs)}
    assert names == set(CONTRACT) | {"add_ons"}
    outputs = {k.output for k in CONTRACT.values()}
    assert len(outputs) == len(CONTRACT)  # no output name twice
