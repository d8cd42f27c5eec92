"""Property tests (hypothesis) for pure helpers whose contract is a property, not a table of examples: subnet
carving, name truncation and bounding, IAM policy name prefixes, URN construction, SARIF's quoted tokens and the
placeholder policy's reserved domains."""

from __future__ import annotations

import ipaddress
import itertools
import re

from hypothesis import assume, given
from hypothesis import strategies as st
from mlops_policies.placeholders import placeholder_domain

from mlops_infra.blocks.grants import (
    AUTONAME_SUFFIX,
    NAME_PREFIX_SUFFIX,
    POLICY_NAME_MAX,
    planned_policy_name,
    policy_name_prefix,
    valid_policy_name,
)
from mlops_infra.blocks.naming import AUTO_NAME_SUFFIX, bounded_name, name_within, truncate_name
from mlops_infra.cli.sarif_locations import quoted_tokens
from mlops_infra.network.config import MAX_SUBNET_PREFIX, carve_subnets
from mlops_infra.plan.urns import engine_urn, qualified_type, urn_name
from tests.nonempty import each

# --- carve_subnets ------------------------------------------------------------------------------------------------


@st.composite
def vpcs(draw: st.DrawFn) -> ipaddress.IPv4Network:
    prefix = draw(st.integers(min_value=16, max_value=24))
    address = draw(st.integers(min_value=0, max_value=2**32 - 1))
    return ipaddress.IPv4Network((address, prefix), strict=False)


@given(vpc=vpcs(), azs=st.integers(min_value=1, max_value=6), private=st.integers(min_value=16, max_value=30),
       public=st.integers(min_value=16, max_value=30))
def test_carved_subnets_are_aligned_disjoint_inside_the_vpc_and_private_first(
        vpc: ipaddress.IPv4Network, azs: int, private: int, public: int) -> None:
    plan = carve_subnets(str(vpc), azs, private, public)
    if plan is None:
        return
    assert vpc.prefixlen < min(private, public) and max(private, public) <= MAX_SUBNET_PREFIX
    assert (len(plan.private), len(plan.public)) == (azs, azs)
    subnets = [ipaddress.IPv4Network(c) for c in plan.private + plan.public]  # strict: each is aligned to its size
    assert [s.prefixlen for s in subnets] == [private] * azs + [public] * azs
    assert all(s.subnet_of(vpc) for s in each(subnets))
    ordered = sorted(subnets)
    assert ordered == subnets  # private subnets first, each after the one before
    assert all(a.broadcast_address < b.network_address for a, b in each(itertools.pairwise(ordered)))


@given(vpc=vpcs(), azs=st.integers(min_value=1, max_value=6), private=st.integers(min_value=17, max_value=28),
       extra=st.integers(min_value=0, max_value=11))
def test_carving_fails_exactly_when_the_subnets_do_not_fit(
        vpc: ipaddress.IPv4Network, azs: int, private: int, extra: int) -> None:
    """Private subnets at least as large as public ones pack without alignment gaps: they fit iff their sizes sum
    to at most the VPC's (and both prefixes lie between the VPC's and /28)."""
    public = min(private + extra, MAX_SUBNET_PREFIX)
    assume(vpc.prefixlen < private)
    needed = azs * (2 ** (32 - private) + 2 ** (32 - public))
    assert (carve_subnets(str(vpc), azs, private, public) is not None) == (needed <= vpc.num_addresses)


# --- names --------------------------------------------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=200)


@given(name=NAMES, limit=st.integers(min_value=1, max_value=120))
def test_truncate_name_is_a_prefix_within_the_limit_without_a_trailing_separator(name: str, limit: int) -> None:
    assume(re.search(r"[a-z0-9]", name[:limit]))
    cut = truncate_name(name, limit)
    assert name.startswith(cut) and 0 < len(cut) <= limit
    assert cut[-1] not in "-._"
    assert truncate_name(cut, limit) == cut  # idempotent: a released name never changes
    if len(name) <= limit and name[-1] not in "-._":
        assert cut == name


@given(name=NAMES, limit=st.integers(min_value=12, max_value=120))
def test_bounded_name_fits_keeps_short_names_and_is_deterministic(name: str, limit: int) -> None:
    assume(re.search(r"[a-z0-9]", name[:limit - 9]))
    bounded = bounded_name(name, limit)
    assert len(bounded) <= limit and bounded == bounded_name(name, limit)
    if len(name) <= limit:
        assert bounded == name


@given(stem=NAMES, a=NAMES, b=NAMES, limit=st.integers(min_value=12, max_value=63))
def test_long_names_sharing_their_first_characters_stay_distinct(stem: str, a: str, b: str, limit: int) -> None:
    first, second = "x" + stem * 70 + a, "x" + stem * 70 + b
    assume(first != second)
    assert bounded_name(first, limit) != bounded_name(second, limit)


@given(name=NAMES, limit=st.integers(min_value=12, max_value=128))
def test_name_within_keeps_the_auto_name_exactly_when_it_fits(name: str, limit: int) -> None:
    assume(re.search(r"[a-z0-9]", name[:limit - 9]))
    explicit = name_within(name, limit)
    assert (explicit is None) == (len(name) + AUTO_NAME_SUFFIX <= limit)
    assert explicit is None or len(explicit) <= limit


# --- IAM policy names ---------------------------------------------------------------------------------------------

_ANY_NAMES = st.text(min_size=1, max_size=300).filter(lambda s: s.strip() != "")
# A valid name plus a trailing newline ("team-a\n") is the case `re.match(r"^...$")` wrongly admits.
RESOURCE_NAMES = st.one_of(
    _ANY_NAMES, st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,120}", fullmatch=True).map(lambda s: s + "\n"))


IAM_POLICY_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,128}")
"""The IAM API reference's PolicyName, written out: ASCII letters and digits plus _+=,.@-, at most 128."""


@given(name=RESOURCE_NAMES)
def test_every_planned_policy_name_is_valid(name: str) -> None:
    prefix = policy_name_prefix(name)
    inputs = {} if prefix is None else {"namePrefix": prefix}
    planned = planned_policy_name(name, inputs)
    assert IAM_POLICY_NAME.fullmatch(planned), (name, prefix)
    assert valid_policy_name(planned) and valid_policy_name(name) == bool(IAM_POLICY_NAME.fullmatch(name))
    if prefix is None:
        assert len(name) + AUTONAME_SUFFIX <= POLICY_NAME_MAX
    else:
        assert len(prefix) + NAME_PREFIX_SUFFIX <= POLICY_NAME_MAX


@given(a=RESOURCE_NAMES, b=RESOURCE_NAMES)
def test_distinct_long_resource_names_get_distinct_policy_prefixes(a: str, b: str) -> None:
    pa, pb = policy_name_prefix("p" * 130 + a), policy_name_prefix("p" * 130 + b)
    assert pa is not None and pb is not None
    assert (pa == pb) == (a == b)


# --- URNs ---------------------------------------------------------------------------------------------------------

SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
TYPES = st.builds(lambda p, m, t: f"{p}:{m}:{t}", SEGMENT, SEGMENT, SEGMENT)


@given(stack=SEGMENT, project=SEGMENT, parent_type=TYPES, typ=TYPES, name=st.text(min_size=1, max_size=60))
def test_engine_urns_carry_the_parent_type_chain_and_the_name(
        stack: str, project: str, parent_type: str, typ: str, name: str) -> None:
    parent = engine_urn(stack, project, "", parent_type, "parent")
    assert qualified_type(parent) == parent_type
    child = engine_urn(stack, project, parent, typ, name)
    assert qualified_type(child) == f"{parent_type}${typ}" and urn_name(child) == name
    assert qualified_type(engine_urn(stack, project, "", typ, name)) == typ


# --- SARIF quoted tokens and reserved domains --------------------------------------------------------------------

TOKENS = st.text(alphabet=st.characters(blacklist_characters="'\"`()", blacklist_categories=("Cs",)), min_size=1)


@given(token=TOKENS, before=st.sampled_from(["", "x ", "key: "]))
def test_a_quoted_token_is_found_whole(token: str, before: str) -> None:
    for quoted in (f"'{token}'", f'"{token}"', f"`{token}`", f"({token})"):
        assert token in quoted_tokens(f"{before}{quoted} rest")
    assert quoted_tokens(f"{before}{token}") == set()


LABEL = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@given(labels=st.lists(LABEL, min_size=1, max_size=4), tld=st.sampled_from(["test", "invalid", "example", "localhost"]))
def test_a_reserved_tld_name_is_a_domain_only_where_a_host_stands(labels: list[str], tld: str) -> None:
    name = ".".join([*labels, tld])
    assert placeholder_domain(name) is None  # a dotted identifier (`pipelines.test`)
    assert placeholder_domain(name, host=True) == name
    assert placeholder_domain(f"https://{name}/x") == name
    assert placeholder_domain(f"{name}:8080") == name
    assert placeholder_domain(f"ops@{name}") == name


@given(svc=LABEL, ns=st.sampled_from(["test", "invalid", "example", "localhost"]),
       suffix=st.sampled_from([".svc", ".svc.cluster.local", ".svc.cluster.local."]),
       form=st.sampled_from(["http://{}:5000", "{}", "{}:5000", "grpc://{}", "ops@{}"]))
def test_in_cluster_service_dns_in_a_reserved_named_namespace_is_not_a_domain(
        svc: str, ns: str, suffix: str, form: str) -> None:
    host = f"{svc}.{ns}{suffix}"  # a Service in a namespace named `test`: cluster DNS, not the reserved TLD
    assert placeholder_domain(form.format(host)) is None
    assert placeholder_domain(host, host=True) is None
