"""Names cut to a service's limit stay valid for that service (issue #31: `[:63]` could end in `-`)."""

from __future__ import annotations

import re

from tests.conftest import PROGRAMS, planned

# CreateModelPackageGroup ModelPackageGroupName (SageMaker API reference).
MODEL_PACKAGE_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def test_model_package_group_name_cut_at_a_separator_is_still_valid() -> None:
    inv = planned("test", PROGRAMS / "names")
    (group,) = inv.of_type("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    name = group.inputs["modelPackageGroupName"]
    assert ("p" * 62 + "-ranker")[:63].endswith("-")  # what the old `[:63]` produced
    assert MODEL_PACKAGE_GROUP_NAME.match(name), name
    assert name == "p" * 62
