"""A cluster-wide singleton is claimed once per cluster: refused when the cluster's platform says it runs it
(`ClusterRefs.add_ons`, from `clusterAddOns`) or when another component of the program already installs it."""

from __future__ import annotations

from typing import Any, cast

import pytest

from mlops_infra.blocks.cluster_add_ons import ADD_ONS, ClusterAddOnTaken, claim, installed
from mlops_infra.blocks.refs import ClusterRefs


class Provider:
    """A stand-in for the cluster's Kubernetes provider (claims are kept per provider)."""


def cluster(provider: Provider, add_ons: frozenset[str] | None) -> ClusterRefs:
    return ClusterRefs(name="c", identity=cast(Any, None), cluster_security_group_id="sg-1", version="1.35",
                       add_ons=add_ons, provider=cast(Any, provider))


def test_a_singleton_the_platform_runs_is_refused_naming_the_output_and_the_fix() -> None:
    assert ADD_ONS
    with pytest.raises(ClusterAddOnTaken, match=r"^team-monitoring: the cluster already runs the monitoring core .*"
                                                r"`monitoring` is in the platform stack's `clusterAddOns` output.*"
                                                r"Use the one the cluster runs, or build this component on a cluster"):
        claim(cluster(Provider(), frozenset({"monitoring", "gpuSoftware"})), "monitoring", "team-monitoring")


def test_a_second_install_in_one_program_on_one_cluster_is_refused_and_other_clusters_are_apart() -> None:
    first, other = Provider(), Provider()
    claim(cluster(first, None), "clusterAutoscaler", "a-autoscaler")  # unknown add-ons: the program decides
    claim(cluster(other, frozenset()), "clusterAutoscaler", "b-autoscaler")
    with pytest.raises(ClusterAddOnTaken, match=r"^c-autoscaler: a-autoscaler of this program already installs"):
        claim(cluster(first, frozenset()), "clusterAutoscaler", "c-autoscaler")
    assert installed(first) == installed(other) == ["clusterAutoscaler"]


def test_an_unknown_add_on_name_is_an_error() -> None:
    with pytest.raises(KeyError, match="'autoscaler' is not a cluster add-on"):
        claim(cluster(Provider(), None), "autoscaler", "x")
