"""One output contract: a platform stack exports exactly the contract's keys for its config (core and add-ons),
and consumers read the same keys."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlops_infra.outputs as outputs_module
from mlops_infra.outputs import CONTRACT, Key, PlatformOutputs, all_keys, checked, contract_table, exported_keys
from mlops_infra.platform import addons, installed
from mlops_infra.platform.config import PlatformConfig
from mlops_infra.platform.loader import load_platform_config
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


def _fake_add_on(monkeypatch: pytest.MonkeyPatch, returns: dict[str, Any]) -> addons.AddOn:
    def build(ctx: Any) -> dict[str, Any]:
        return returns

    add_on = addons.AddOn("serving-test", build, (
        Key("servingEndpoint", "An add-on's endpoint.", when=lambda c: c.environment != "dev"),))
    monkeypatch.setattr(installed, "add_ons", lambda: [add_on])
    return add_on


def test_an_add_on_registers_its_keys_in_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_add_on(monkeypatch, {})
    assert "servingEndpoint" in exported_keys(stack_config(ROOT / "stacks", "prod"))
    assert "servingEndpoint" not in exported_keys(stack_config(ROOT / "stacks", "dev"))
    assert "`servingEndpoint`" in contract_table()


def test_an_add_on_must_export_exactly_what_it_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_add_on(monkeypatch, {"servingEndpoint": "http://x", "stray": 1})
    ctx = types.SimpleNamespace(config=stack_config(ROOT / "stacks", "prod"))
    with pytest.raises(ValueError, match=r"undeclared \['stray'\]"):
        installed.build_add_ons(ctx)  # type: ignore[arg-type]


def test_an_add_on_without_declared_keys_is_refused() -> None:
    with pytest.raises(TypeError, match="`outputs` must be a tuple of Key"):
        addons.AddOn("bad", lambda ctx: {}, ["servingEndpoint"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`outputs` must be a tuple of Key"):
        addons.AddOn("bad", lambda ctx: {}, ("servingEndpoint",))  # type: ignore[arg-type]


def test_the_platform_builds_each_registered_add_on_once() -> None:
    registered = installed.add_ons()
    assert registered
    assert all(isinstance(a, addons.AddOn) for a in registered)
    assert len({a.name for a in registered}) == len(registered)
    assert installed.add_on_keys() == tuple(k for a in registered for k in a.outputs)


class RecordingReference:
    """A StackReference stand-in: records each output read, and how."""

    def __init__(self) -> None:
        self.reads: dict[str, str] = {}

    def require_output(self, name: str) -> str:
        self.reads[name] = "require"
        return f"<{name}>"

    def get_output(self, name: str) -> str:
        self.reads[name] = "get"
        return f"<{name}>"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Required outputs are read through blocks/stack_outputs.require_output (a named error when missing): route it
    to the stand-in so the test sees which outputs must exist."""
    monkeypatch.setattr(outputs_module, "require_output", lambda ref, output, producer="": ref.require_output(output))


@pytest.mark.usefixtures("recorded")
def test_consumers_read_every_contract_key() -> None:
    """`PlatformOutputs` is generated from the contract: every key is read (required exactly when the contract
    requires it) and is an attribute, add-on keys included; an attribute the contract lacks is an error."""
    ref = RecordingReference()
    outputs = PlatformOutputs.from_stack_reference(ref)  # type: ignore[arg-type]
    assert CONTRACT
    keys = all_keys()
    assert ref.reads == {k.output: "require" if k.must_exist else "get" for k in keys}
    assert {attr: getattr(outputs, attr) for attr in CONTRACT} == {a: f"<{k.output}>" for a, k in CONTRACT.items()}
    assert set(outputs.add_ons) == {k.output for k in installed.add_on_keys()} != set()
    assert outputs.field_names() == [*CONTRACT, "add_ons"]
    with pytest.raises(AttributeError, match="no 'clusterName'"):
        _ = outputs.clusterName
    outputs_names = {k.output for k in CONTRACT.values()}
    assert len(outputs_names) == len(CONTRACT)  # no output name twice


@pytest.mark.usefixtures("recorded")
def test_a_key_added_to_the_contract_is_read_without_another_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CONTRACT, "cluster_version", Key("clusterVersion", "EKS version.", required=False))
    ref = RecordingReference()
    outputs = PlatformOutputs.from_stack_reference(ref)  # type: ignore[arg-type]
    assert ref.reads["clusterVersion"] == "get"
    read: Any = outputs.cluster_version  # the stand-in returns plain strings
    assert read == "<clusterVersion>"
