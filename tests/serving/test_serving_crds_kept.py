"""Removing the stack that installed KServe keeps the cluster's serving CRDs (deleting a CRD deletes every object
of it: every InferenceService on the cluster, other stacks' included). Through the plans: the platform's (prod)
and a ModelServing alone (examples/model_serving, which installs KServe itself)."""

from __future__ import annotations

import pytest

from mlops_infra.plan import Inventory, ResourceRecord
from tests.conftest import EXAMPLES
from tests.nonempty import each
from tests.platform.test_standalone import standalone

RELEASE = "kubernetes:helm.sh/v3:Release"


def serving_releases(inv: Inventory) -> dict[str, ResourceRecord]:
    """The ModelServing's Helm releases by chart name."""
    return {r.inputs["chart"].rsplit("/", 1)[-1]: r for r in inv.of_type(RELEASE)
            if "mlops:serving:ModelServing" in r.urn}


@pytest.fixture(params=["prod", "model_serving"])
def inv(request: pytest.FixtureRequest) -> Inventory:
    if request.param == "prod":
        return request.getfixturevalue("prod_plan")
    return standalone(EXAMPLES / "model_serving")


def test_the_kserve_crd_release_is_retained_when_pulumi_deletes_it(inv: Inventory) -> None:
    releases = serving_releases(inv)
    assert set(releases) == {"cert-manager", "kserve-crd", "kserve-resources"}
    assert releases["kserve-crd"].options["retainOnDelete"] is True
    assert releases["kserve-crd"].options["protect"] is False  # removable: docs/teardown.md "Serving CRDs"
    # The controllers themselves go with the stack: only what other stacks' objects need stays.
    assert releases["kserve-resources"].options["retainOnDelete"] is False
    assert releases["cert-manager"].options["retainOnDelete"] is False


def test_cert_managers_crds_are_kept_when_its_release_is_uninstalled(inv: Inventory) -> None:
    crds = serving_releases(inv)["cert-manager"].inputs["values"]["crds"]
    assert crds == {"enabled": True, "keep": True}


def test_the_kserve_crd_release_never_uninstalls_crds_it_adopted_when_an_install_fails(inv: Inventory) -> None:
    # A later install adopts the kept CRDs (docs/teardown.md). Helm reads `keep` only from the release's own
    # manifest, which the kserve-crd chart does not write: an atomic install that fails or is cancelled after
    # adopting them would uninstall them (and every InferenceService). So that release is not atomic; the others are.
    releases = serving_releases(inv)
    crd = releases["kserve-crd"].inputs
    assert (crd["atomic"], crd["cleanupOnFail"]) == (False, False)
    assert all((r.inputs["atomic"], r.inputs["cleanupOnFail"]) == (True, True)
               for chart, r in each(releases.items()) if chart != "kserve-crd")
