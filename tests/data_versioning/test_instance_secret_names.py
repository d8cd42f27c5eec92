"""Per-instance Secret names (`<name>-mlflow-credentials`, `<name>-feast-credentials`, Qdrant's client Secret) stay
distinct for distinct instance names, however long: a name cut to its limit carries a hash of the whole name.
Names that fit are the ones earlier releases wrote. The components call these functions for their defaults
(`MlflowRegistry`, `FeastFeatureStore`, `Qdrant`); a plan of a name that long is refused today by its IAM role
names (64), so the property is tested on the functions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mlops_infra.blocks.naming import instance_secret_name, truncate_name
from mlops_infra.data.qdrant import FULLNAME_LIMIT, client_secret_default
from tests.nonempty import each

# Instance names as the components take them: DNS-1123 labels (their names become Kubernetes names), up to 100
# characters; a small alphabet so that long shared prefixes, where a plain cut collides, are common.
ALNUM, INNER = "ab0", "ab0-"
NAMES = st.integers(min_value=0, max_value=99).flatmap(lambda n: st.builds(
    lambda first, rest: first + rest.rstrip("-"), st.sampled_from(ALNUM), st.text(INNER, min_size=n, max_size=n)))
SUFFIXES = ["mlflow-credentials", "feast-credentials", "credentials"]


@st.composite
def name_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two instance names, often sharing a long prefix (where a plain cut collides): a name, and that name with
    its tail replaced; or two independent names."""
    a = draw(NAMES)
    if draw(st.booleans()):
        return a, draw(NAMES)
    keep = draw(st.integers(min_value=max(1, len(a) - 20), max_value=len(a)))
    tail = draw(st.text(INNER, max_size=30)) + draw(st.sampled_from(ALNUM))
    return a, a[:keep] + tail


@given(pair=name_pairs())
def test_distinct_instance_names_never_give_one_secret_name(pair: tuple[str, str]) -> None:
    a, b = pair
    if a == b:
        return
    for suffix in each(SUFFIXES):
        assert instance_secret_name(a, suffix) != instance_secret_name(b, suffix), (a, b, suffix)
    assert client_secret_default(a) != client_secret_default(b), (a, b)


@given(name=NAMES)
def test_secret_names_are_dns_labels_and_those_that_fit_are_unchanged(name: str) -> None:
    for suffix in each(SUFFIXES):
        got = instance_secret_name(name, suffix)
        assert len(got) <= 63 and got[-1].isalnum()
        if len(f"{name}-{suffix}") <= 63:  # what earlier releases wrote (truncate_name cut nothing)
            assert got == truncate_name(f"{name}-{suffix}", 63)
    qdrant = client_secret_default(name)
    assert len(qdrant) <= 63 and qdrant[-1].isalnum()
    if len(name) <= FULLNAME_LIMIT:  # earlier releases: `<fullname>-credentials`, fullname the name cut to 40
        assert qdrant == f"{truncate_name(name, FULLNAME_LIMIT)}-credentials"

