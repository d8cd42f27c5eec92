"""The mlops-platform program (stacks/__main__.py, run as is) on the prod config, with an add-on that creates a data
bucket and then raises. The program catches the error only so the plan keeps what registered before it: the subject
of tests/platform/test_bucket_registry.py (nothing guarded may register narrowed)."""

import runpy
from pathlib import Path
from typing import Any

import pulumi

from mlops_infra.blocks.bucket import HardenedBucket, HardenedBucketArgs
from mlops_infra.platform import addons, installed

real = installed.add_ons


def failing(ctx: addons.PlatformContext) -> dict[str, Any]:
    ctx.add_bucket(HardenedBucket(f"{ctx.name}-doomed", HardenedBucketArgs(
        kms_key=ctx.data_key, tags=ctx.tags, protect=False, vpc_endpoint_guard=ctx.bucket_guard),
        pulumi.ResourceOptions(parent=ctx.parent)))
    raise RuntimeError("add-on failed after creating its bucket")


doomed = addons.AddOn("doomed", failing, outputs=())  # registered like any add-on: between the first and the rest
installed.add_ons = lambda: [*real()[:1], doomed, *real()[1:]]
try:
    runpy.run_path(str(Path(__file__).resolve().parents[3] / "stacks" / "__main__.py"), run_name="__main__")
except RuntimeError as err:
    pulumi.export("failure", str(err))
finally:
    installed.add_ons = real  # plans run in the test process: later programs must see the real add-ons
