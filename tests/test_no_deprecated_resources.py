"""No plan registers a resource type its SDK marks deprecated (e.g. s3.BucketV2 in pulumi-aws v7)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from tests.conftest import planned


def sdk_class(token: str) -> type | None:
    """`aws:s3/bucket:Bucket` -> pulumi_aws.s3.Bucket (None for tokens that are not SDK resources)."""
    package, module_path, cls_name = token.split(":")
    sdk = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes", "random": "pulumi_random"}.get(package)
    if sdk is None:
        return None
    module = module_path.split("/")[0]
    if package == "kubernetes":
        group, version = module_path.rsplit("/", 1)
        module = f"{group.split('.')[0]}.{version}"
    try:
        mod = importlib.import_module(f"{sdk}.{module}" if module != "index" else sdk)
    except ModuleNotFoundError:  # a custom resource kind (e.g. monitoring.coreos.com/v1): no SDK class
        return None
    return getattr(mod, cls_name, None)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plans_use_no_deprecated_resource_types(stack: str) -> None:
    deprecated = []
    for token in sorted({r.type for r in planned(stack)}):
        cls = sdk_class(token)
        if cls is not None and "has been deprecated" in inspect.getsource(cls):
            deprecated.append(token)
    assert deprecated == []


def test_the_check_itself_recognises_a_deprecated_type() -> None:
    cls = sdk_class("aws:s3/bucketV2:BucketV2")
    assert cls is not None and "has been deprecated" in inspect.getsource(cls)
