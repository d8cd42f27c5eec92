"""An engine's data bucket (KFP artifacts, Metaflow datastore) carries no exfiltration guard unless one is given; that
default is a visible choice (as aws-cdk warns when a default it picked weakens a resource, aws/aws-cdk#31705): the
plan (and `pulumi up`) warns on the engine, naming the bucket and both ways out; `UNGUARDED` chooses none silently;
the platform passes its guard or `UNGUARDED` (guards off by config), so its plans carry no such warning."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops_infra.plan import plan_program
from tests.conftest import EXAMPLES, planned
from tests.platform.test_standalone import PLATFORM_STACK, platform_outputs, standalone

DATA_BUCKETS = {"kubeflow_pipelines": "search-dev-kfp-artifacts", "metaflow": "search-dev-metaflow-datastore"}


def guard_warnings(diagnostics: list[str]) -> list[str]:
    return [d for d in diagnostics if "EngineRefs.bucket_guard is not set" in d]


@pytest.mark.parametrize(("example", "bucket"), sorted(DATA_BUCKETS.items()))
def test_an_engine_alone_without_a_guard_warns_naming_its_data_bucket(example: str, bucket: str) -> None:
    inv = standalone(EXAMPLES / example)
    (bucket_record,) = [b for b in inv.of_type("aws:s3/bucket:Bucket") if b.name == bucket]
    assert bucket_record.name == bucket
    assert guard_warnings(inv.diagnostics) == [
        f"warning: {bucket}: EngineRefs.bucket_guard is not set, so this data bucket carries no exfiltration guard (S3 "
        "requests from outside the VPC's gateway endpoint are not denied): pass a VpcEndpointGuard "
        "(security.exfiltration_guards.data_bucket_guard), or bucket_guard=UNGUARDED to choose none and silence "
        "this warning"]


def test_an_engine_without_a_data_bucket_does_not_warn() -> None:
    assert guard_warnings(standalone(EXAMPLES / "airflow").diagnostics) == []


def test_unguarded_chosen_explicitly_is_silent(tmp_path: Path) -> None:
    program = tmp_path / "kubeflow_pipelines"
    shutil.copytree(EXAMPLES / "kubeflow_pipelines", program)
    main = program / "__main__.py"
    source = main.read_text(encoding="utf-8")
    call = "refs = EngineRefs("
    assert source.count(call) == 1
    main.write_text(source.replace(call, f"{call}bucket_guard=UNGUARDED, ").replace(
        "from mlops_infra.pipelines.refs import EngineRefs", "from mlops_infra.pipelines.refs import UNGUARDED, EngineRefs"),
        encoding="utf-8")
    inv = plan_program(program, "dev", stack_refs={PLATFORM_STACK: platform_outputs()})
    assert inv.of_type("aws:s3/bucket:Bucket")
    assert guard_warnings(inv.diagnostics) == []


def test_the_platform_states_its_choice() -> None:
    """Staging builds Kubeflow Pipelines: the adapter hands it the platform's guard, or UNGUARDED when the guards
    are off by config (securityBaseline.exfiltrationGuards); either way no warning."""
    inv = planned("staging")
    assert inv.of_type("mlops:pipelines:KubeflowPipelines")
    assert guard_warnings(inv.diagnostics) == []
