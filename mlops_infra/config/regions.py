"""Checks of a stack's `region`: the AWS provider creates every resource in `aws:region`, so the two must agree, and
the Region must be one AWS has (botocore's endpoints data, read locally: no network)."""

from __future__ import annotations

import functools

from .base import Problem


@functools.cache
def known_regions() -> frozenset[str]:
    """Every Region of every partition in the installed botocore's `endpoints.json`."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def region_problems(region: str, aws_region: str | None) -> list[Problem]:
    """(path, message) for a `region` botocore does not know, or one that differs from `aws:region` (None: unset)."""
    import botocore

    found: list[Problem] = []
    if region not in known_regions():
        found.append(("region", f"{region!r} is not an AWS Region botocore {botocore.__version__} knows (e.g. "
                      "us-east-1, eu-west-1): fix the spelling, or upgrade boto3/botocore if the Region is new"))
    if aws_region is not None and aws_region != region:
        found.append(("region", f"{region!r} differs from aws:region {aws_region!r}, where the AWS provider creates "
                      f"every resource: set both to the same Region (`region: {aws_region}` here, or `pulumi config set "
                      f"aws:region {region}`)"))
    return found
