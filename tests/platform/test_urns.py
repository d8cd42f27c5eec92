"""The resource addresses (URNs) of the real stacks are pinned, so moving code between modules cannot rename a resource.

A changed URN makes `pulumi up` delete the old resource and create a new one (a new database, a new bucket). Type
tokens (`mlops:<module>:<Type>`) and child names are part of the URN; the files that define them are not. The
snapshots in tests/data/urns-<stack>.txt were taken from the code before it moved into concern packages; the test
compares for equality, so a resource that appears or disappears fails it too.

A change that adds or renames resources on purpose regenerates the snapshot, reviewed in the diff:
    mlops-infra plan --stack prod --format json | python -c "import json,sys; print('\\n'.join(sorted(
        r['urn'] for r in json.load(sys.stdin)['resources'])))" > tests/data/urns-prod.txt
"""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, planned

DATA = ROOT / "tests" / "data"


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_urns_equal_the_committed_snapshot(stack: str) -> None:
    expected = set((DATA / f"urns-{stack}.txt").read_text().split())
    actual = {r.urn for r in planned(stack)}
    assert expected, "empty snapshot"
    assert sorted(actual - expected) == [] and sorted(expected - actual) == [], (
        f"new: {sorted(actual - expected)}\ngone: {sorted(expected - actual)}"
    )
