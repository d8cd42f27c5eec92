"""The security-baseline test program planned for prod and dev, and the lookups the security tests share."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import PROGRAMS, planned

PROGRAM = PROGRAMS / "security_baseline"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


@pytest.fixture(scope="module")
def prod() -> Inventory:
    return planned("prod", PROGRAM)


@pytest.fixture(scope="module")
def dev() -> Inventory:
    return planned("dev", PROGRAM)


def key(inv: Inventory, name: str) -> ResourceRecord:
    """The aws.kms.Key (its KmsKey component carries the same name)."""
    (found,) = [r for r in inv.of_type("aws:kms/key:Key") if r.name == name]
    return found


def bucket(inv: Inventory, name: str) -> ResourceRecord:
    """The aws.s3.Bucket (its HardenedBucket component carries the same name)."""
    (found,) = [r for r in inv.of_type("aws:s3/bucket:Bucket") if r.name == name]
    return found


def policy_doc(record: ResourceRecord) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(record.inputs["policy"])
    return doc


def stmt(record: ResourceRecord, sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in policy_doc(record)["Statement"] if s["Sid"] == sid)
    return found
