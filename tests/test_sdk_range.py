"""Every Pulumi SDK the package declares is tested at its lower bound (.ci/sdk_lowest.sh), not only at the newest."""

from __future__ import annotations

import re

import tomllib

from tests.conftest import ROOT
from tests.nonempty import each


def test_sdk_lowest_installs_the_lower_bound_of_every_pulumi_dependency() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {m.group(1) for d in deps if (m := re.match(r"(pulumi[\w-]*)\s*>=", d))}
    script = (ROOT / ".ci" / "sdk_lowest.sh").read_text()
    names = re.search(r"for name in \(([^)]*)\):", script)
    assert names, ".ci/sdk_lowest.sh no longer lists the SDKs it pins"
    tested = set(re.findall(r'"([\w-]+)"', names.group(1)))
    for name in each(sorted(declared)):
        assert name in tested, f"{name}'s lower bound is never installed by .ci/sdk_lowest.sh"
