"""The refs read a platform stack through its output contract, knowing only the output names (blocks sit below the
contract, mlops_infra.outputs): each name they read is the contract's, required where the contract
requires it."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from mlops_infra.blocks import platform_contract as contract
from mlops_infra.blocks import refs
from mlops_infra.blocks.refs import PLATFORM_OUTPUTS, ClusterRefs, NetworkRefs
from mlops_infra.outputs import CONTRACT


class RecordingReference:
    """A StackReference stand-in that records which outputs are read, and how."""

    def __init__(self) -> None:
        self.required: list[str] = []
        self.optional: list[str] = []

    def require_output(self, name: str) -> str:
        self.required.append(name)
        return f"<{name}>"

    def get_output(self, name: str) -> str:
        self.optional.append(name)
        return f"<{name}>"


@pytest.fixture(autouse=True)
def _record_through_the_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refs read through blocks/stack_outputs.py (named errors for missing outputs); route those readers to the
    stand-in so what is read, and whether it must exist, is recorded."""
    monkeypatch.setattr(contract, "require_output", lambda ref, output, producer="": ref.require_output(output))
    monkeypatch.setattr(contract, "output_value",
                        lambda ref, output, producer="", override="": ref.require_output(output))


def test_each_output_name_the_refs_know_is_the_contracts() -> None:
    assert PLATFORM_OUTPUTS
    assert {attr: CONTRACT[attr].output for attr in PLATFORM_OUTPUTS if attr in CONTRACT} == PLATFORM_OUTPUTS


def test_each_producer_the_refs_know_is_the_contracts() -> None:
    """The refs carry the contract's `producer` for the outputs they read (they may not import the contract)."""
    assert refs.PLATFORM_PRODUCERS
    assert {attr: CONTRACT[attr].producer for attr in PLATFORM_OUTPUTS if CONTRACT[attr].producer} \
        == refs.PLATFORM_PRODUCERS


class MissingOutputs:
    """A StackReference stand-in whose stack exports only `outputs` (values known now, as in a preview)."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        import pulumi
        self.outputs, self.name = outputs, pulumi.Output.from_input("acme/platform/prod")

    async def get_output_details(self, name: str) -> Any:
        from types import SimpleNamespace
        return SimpleNamespace(value=self.outputs.get(name), secret_value=None)

    def get_output(self, name: str) -> Any:
        return self.outputs.get(name)


@pytest.mark.parametrize(("missing", "override"), [("metricsServer", "metrics_server=..."),
                                                   ("clusterVersion", "version=...")])
def test_a_missing_optional_fact_names_its_override_and_an_override_wins(
        monkeypatch: pytest.MonkeyPatch, missing: str, override: str) -> None:
    from mlops_infra.blocks import stack_outputs
    monkeypatch.setattr(contract, "output_value", stack_outputs.output_value)  # the real reader, not the recorder
    monkeypatch.setattr(contract, "require_output", lambda ref, output, producer="": f"<{output}>")
    outputs = {"workloadIdentity": "podIdentity", "clusterVersion": "1.33", "loadBalancerController": True,
               "networkPolicyEnforced": True, "containerInsights": False, "metricsServer": True,
               "storageClasses": ["gp3"]}
    del outputs[missing]
    ref = cast(Any, MissingOutputs(outputs))
    with pytest.raises(stack_outputs.MissingStackOutput, match=re.escape(f"pass `{override}`")):
        ClusterRefs.from_stack_outputs(ref, cast(Any, object()))
    given = {"version": "1.32"} if missing == "clusterVersion" else {"metrics_server": False}
    cluster = ClusterRefs.from_stack_outputs(ref, cast(Any, object()), **given)
    assert (cluster.version, cluster.metrics_server) == (given.get("version", "1.33"), given.get("metrics_server", True))


def test_a_missing_oidc_provider_names_the_config_that_exports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    producers: dict[str, str] = {}
    monkeypatch.setattr(contract, "require_output", lambda ref, output, producer="": producers.setdefault(output, producer))
    ClusterRefs.from_stack_outputs(cast(Any, RecordingReference()), cast(Any, object()), version="1.33",
                                   workload_identity="irsa")
    assert producers["oidcProviderArn"] == "cluster.workloadIdentity: irsa"



@pytest.mark.parametrize("workload_identity", ["irsa", "podIdentity"])
def test_from_stack_outputs_reads_only_contract_outputs(workload_identity: str) -> None:
    ref = RecordingReference()
    network = NetworkRefs.from_stack_outputs(cast(Any, ref))
    cluster = ClusterRefs.from_stack_outputs(cast(Any, ref), cast(Any, object()), version="1.33",
                                             workload_identity=cast(Any, workload_identity))
    ClusterRefs.stack_kubeconfig(cast(Any, ref))  # the provider's input: the caller builds it (refs register nothing)
    read = [*ref.required, *ref.optional]
    assert len(read) >= 6
    by_output = {k.output: k for k in CONTRACT.values()}
    assert sorted(n for n in read if n not in by_output) == []
    assert set(read) <= set(PLATFORM_OUTPUTS.values())
    assert network.vpc_id == "<vpcId>" and cluster.name == "<clusterName>"
    assert ("oidcProviderArn" in read) == (workload_identity == "irsa")
