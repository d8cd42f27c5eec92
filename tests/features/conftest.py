"""The feature-store test program's plans, shared by this folder's tests (planned once per session)."""

from __future__ import annotations

import pytest

from mlops_infra.plan import Inventory
from tests.conftest import PROGRAMS, planned

PROGRAM = PROGRAMS / "feature_store"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/8ad6a98f-8bb1-da55-1dbf-f35ed8aff2e3"


@pytest.fixture(scope="module")
def dev() -> Inventory:
    return planned("dev", PROGRAM)


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", PROGRAM)


@pytest.fixture(scope="module")
def prod_dynamo() -> Inventory:
    return planned("proddynamo", PROGRAM)


@pytest.fixture(scope="module")
def sagemaker() -> Inventory:
    return planned("sagemaker", PROGRAM)
