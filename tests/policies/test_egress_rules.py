"""Egress rules as address sets: an egress rule with `to` missing or empty admits every destination."""

from __future__ import annotations

import ipaddress

from mlops_policies.egress_rules import parse_rule

S3 = ipaddress.ip_network("52.216.0.0/15")
HTTPS = [{"protocol": "TCP", "port": 443}]


def test_an_empty_or_missing_to_matches_all_destinations() -> None:
    # reviewer's reach-empty-to: `to: []` was dropped as "names no ipBlock", so S3 looked unreachable
    for rule in ({"to": [], "ports": HTTPS}, {"ports": HTTPS}):
        parsed = parse_rule(rule)
        assert parsed is not None, rule
        assert parsed.covers(S3, 443) and parsed.admits_internet(443), rule
        assert not parsed.covers(S3, 80), rule


def test_peers_without_an_ip_block_still_name_no_address() -> None:
    assert parse_rule({"to": [{"podSelector": {"matchLabels": {"app": "dns"}}}], "ports": HTTPS}) is None
    only_vpc = parse_rule({"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": HTTPS})
    assert only_vpc is not None and not only_vpc.covers(S3, 443)
