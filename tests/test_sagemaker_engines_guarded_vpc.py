"""The SageMaker engines' buckets on a guarded VPC (issue 29, left alone by the third review's round): a pod in a VPC
whose S3 gateway endpoint admits consumer buckets named `<prefix>-*` only (the platform's `consumerBucketPrefixes`)
is denied every request to a bucket named otherwise. Given that VPC (`network=`), the engine refuses such a bucket at
plan, naming it; under an admitted prefix it plans; without `network` nothing is checked (as before)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops_infra.plan import Inventory, PlanError, plan_program
from tests.conftest import EXAMPLES

# example: (the Args call its program makes, the bucket (Pulumi name) its pods read)
ENGINES = {
    "sagemaker_feature_store": ("SageMakerFeatureStoreArgs(", "search-dev-features-offline"),
    "sagemaker_registry": ("SageMakerRegistryArgs(", "search-dev-registry-artifacts"),
}


def plan_on_vpc(tmp_path: Path, example: str, prefixes: list[str] | None) -> Inventory:
    """examples/<example>, its Args given a VPC whose guarded endpoint admits `prefixes` (None: no `network`)."""
    target = tmp_path / example
    shutil.copytree(EXAMPLES / example, target)
    if prefixes is not None:
        main = target / "__main__.py"
        source = main.read_text(encoding="utf-8")
        call = ENGINES[example][0]
        assert source.count(call) == 1
        network = (f"network=NetworkRefs(vpc_id='vpc-1', vpc_cidr='10.0.0.0/16', private_subnet_ids=['subnet-1'], "
                   f"s3_endpoint_bucket_prefixes={prefixes!r}), ")
        main.write_text("from mlops_infra.blocks.refs import NetworkRefs\n"
                        + source.replace(call, call + network), encoding="utf-8")
    return plan_program(target, "dev")


@pytest.mark.parametrize("example", sorted(ENGINES))
def test_a_sagemaker_engine_bucket_plans_on_a_guarded_vpc_only_under_an_admitted_prefix(
        tmp_path: Path, example: str) -> None:
    bucket = ENGINES[example][1]
    for prefixes in (None, ["search"]):
        inv = plan_on_vpc(tmp_path / str(prefixes), example, prefixes)
        assert bucket in {b.name for b in inv.of_type("aws:s3/bucket:Bucket")}
    with pytest.raises(PlanError) as refused:
        plan_on_vpc(tmp_path / "refused", example, ["ranking"])
    assert f"bucket {bucket!r} (autonamed `{bucket}-<random>`) is outside the names" in str(refused.value)
    assert "`ranking-*`" in str(refused.value)
