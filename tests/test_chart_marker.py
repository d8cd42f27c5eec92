"""`@pytest.mark.charts` skips a test only where the chart store lacks a chart at the version lock.json pins."""

from __future__ import annotations

import pytest

from mlops_infra import charts
from tests.conftest import stored_chart_missing


@pytest.mark.charts("qdrant")
def test_a_chart_stored_only_at_another_version_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    (key,) = [k for k in charts.lock() if k[0] == "qdrant"]
    assert charts.find(*key) is not None and not stored_chart_missing("qdrant")
    monkeypatch.setattr(charts, "lock", lambda: {(key[0], key[1], "0.0.1"): {}})  # the pin moves, the store stays
    assert stored_chart_missing("qdrant")


def test_a_name_the_lock_does_not_pin_is_an_error() -> None:
    with pytest.raises(AssertionError, match="no such chart"):
        stored_chart_missing("no-such-chart")
