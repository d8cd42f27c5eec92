"""A component alone that syncs Secrets through External Secrets proves the referenced cluster runs the operator
(issue 29): the platform exports `externalSecretsStore` exactly when it installs the operator, `ClusterRefs` reads it,
and an engine, LakeFS or Qdrant on a cluster without it is refused at plan time with one error naming the output,
the config that exports it and the fix, unless the caller names a store of their own."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mlops_infra.blocks.refs import PLATFORM_PRODUCERS, RefsError
from mlops_infra.plan import PlanError, plan_program
from tests.conftest import EXAMPLES, planned
from tests.platform.test_consumer_friction import plan as cli_plan
from tests.platform.test_consumer_friction import write_refs
from tests.platform.test_standalone import OPERATOR_OUTPUTS, PLATFORM_STACK, external_secrets, platform_outputs, standalone

NEEDS_OPERATOR = ["airflow", "kubeflow_pipelines", "lakefs", "metaflow", "prefect", "qdrant"]
"""The examples whose components sync a Secret through External Secrets (a database password, API keys)."""
PRODUCER = PLATFORM_PRODUCERS["external_secrets_store"]


def without_operator(example: str, **changes: object) -> PlanError:
    """`examples/<example>` planned on the dev platform's own outputs (no External Secrets operator): the error."""
    outputs = {**planned("dev").outputs, **changes}
    assert "externalSecretsStore" not in outputs
    with pytest.raises(PlanError) as err:
        plan_program(EXAMPLES / example, "dev", stack_refs={PLATFORM_STACK: outputs})
    return err.value


def test_the_platform_exports_its_store_exactly_when_it_installs_the_operator() -> None:
    prod, dev = planned("prod"), planned("dev")
    stores = [r for r in prod.of_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")
              if "$mlops:security:SecretsDelivery$" in r.urn]  # the operator's own (Qdrant makes others)
    assert len(stores) == 1
    assert prod.outputs["externalSecretsStore"] == stores[0].inputs["metadata"]["name"]
    assert dev.of_type("kubernetes:external-secrets.io/v1:ClusterSecretStore") == []
    assert "externalSecretsStore" not in dev.outputs
    # The value the examples' tests add for a dev platform with the operator follows the same naming.
    assert external_secrets()["externalSecretsStore"] == prod.outputs["externalSecretsStore"].replace("-prod-", "-dev-")


@pytest.mark.parametrize("example", NEEDS_OPERATOR)
def test_a_component_alone_on_a_cluster_without_the_operator_is_refused(example: str) -> None:
    err = without_operator(example)
    assert err.kind == "input"  # a RunError: the message alone, exit 2
    message = str(err)
    assert re.search(r": 1 problem with its refs\n  - External Secrets delivers .+, and nothing says this cluster runs "
                     r"its operator", message), message
    assert "its output 'externalSecretsStore'" in message and f"exported only with {PRODUCER}, in" in message
    assert "run `pulumi up` on the platform stack" in message
    assert 'external_secrets_store="<name>"' in message


@pytest.mark.parametrize("example", NEEDS_OPERATOR)
def test_the_same_component_plans_on_a_platform_that_runs_the_operator(example: str) -> None:
    inv = standalone(EXAMPLES / example)
    assert inv.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")


def test_every_problem_with_the_refs_comes_in_one_error() -> None:
    """On a Pod Identity cluster without the operator, both problems are named at once."""
    message = str(without_operator("lakefs", workloadIdentity="podIdentity"))
    assert message.count("\n  - ") == 2
    assert ": 2 problems with its refs" in message
    assert "IRSA ServiceAccount token" in message and "'externalSecretsStore'" in message


def test_a_store_named_by_the_caller_stands_for_the_output(tmp_path: Path) -> None:
    """An operator installed otherwise: the program names its ClusterSecretStore and plans on dev's own outputs."""
    program = tmp_path / "lakefs"
    shutil.copytree(EXAMPLES / "lakefs", program)
    main = program / "__main__.py"
    source = main.read_text(encoding="utf-8")
    call = "ClusterRefs.from_stack_outputs(platform, provider)"
    assert source.count(call) == 1
    main.write_text(source.replace(call, call[:-1] + ', external_secrets_store="team-secrets")'), encoding="utf-8")
    inv = plan_program(program, "dev", stack_refs={PLATFORM_STACK: planned("dev").outputs})
    assert inv.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")


def test_the_refs_error_is_a_value_error_the_engine_prints_alone() -> None:
    err = RefsError("x", ["a", "b"])
    assert isinstance(err, ValueError)
    assert str(err) == "x: 2 problems with its refs\n  - a\n  - b"


@pytest.mark.slow  # a subprocess CLI
def test_the_cli_prints_the_refusal_and_exits_2(tmp_path: Path) -> None:
    code, out, err = cli_plan(EXAMPLES / "qdrant", write_refs(tmp_path / "refs.json"))
    assert (code, out) == (2, "")
    assert err == (
        "mlops-infra: error: search-qdrant: 1 problem with its refs\n"
        "  - External Secrets delivers Qdrant's API keys, and nothing says this cluster runs its operator: "
        "ClusterRefs.external_secrets_store is None (from a platform stack: its output 'externalSecretsStore', "
        f"exported only with {PRODUCER}, in its `mlops:platform`). Fix: set that and run `pulumi up` on the platform "
        "stack; or, for an operator installed otherwise, name its ClusterSecretStore: "
        '`ClusterRefs.from_stack_outputs(..., external_secrets_store="<name>")` (or `ClusterRefs.existing`)\n')


def test_platform_outputs_adds_only_the_operator() -> None:
    """The fixture is a real plan's: dev with the operator differs from dev in its store, the add-on (with its owner)
    and the operator's namespace, and in nothing else."""
    dev, with_operator = planned("dev").outputs, platform_outputs()
    assert {k for k in {*dev, *with_operator} if dev.get(k) != with_operator.get(k)} == set(OPERATOR_OUTPUTS)
    assert "external-secrets" in with_operator["platformNamespaces"]  # type: ignore[operator]
    assert "externalSecrets" in with_operator["clusterAddOns"]  # type: ignore[operator]
