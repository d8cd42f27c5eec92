"""A stack file marked `mlops:template: true` plans (a plan is a preview) but its program refuses a real deployment,
naming the placeholders and the docs section."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.plan import engine, plan_program
from tests.conftest import ROOT


def test_the_plan_engine_is_a_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = engine.set_mocks

    def spy(*args: Any, **kwargs: Any) -> None:
        seen.append(kwargs["preview"])
        real(*args, **kwargs)

    monkeypatch.setattr(engine, "set_mocks", spy)
    inventory = plan_program(ROOT, "prod")  # marked a template: planning it works
    assert inventory.resources and seen == [True]


def test_a_template_stack_refuses_a_real_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.set_mocks

    def deploy(*args: Any, **kwargs: Any) -> None:  # what `pulumi up` does: not a dry run
        real(*args, **{**kwargs, "preview": False})

    monkeypatch.setattr(engine, "set_mocks", deploy)
    with pytest.raises(Exception) as caught:
        plan_program(ROOT, "prod")
    message = str(caught.value)
    assert "mlops:template: true" in message and "docs/deploying.md, Template stacks" in message
    assert "platform-admin" in message and "ml-platform-oncall@example.com" in message
    assert "feast-s3" in message


def test_a_stack_without_the_marker_deploys(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.set_mocks

    def deploy(*args: Any, **kwargs: Any) -> None:
        real(*args, **{**kwargs, "preview": False})

    monkeypatch.setattr(engine, "set_mocks", deploy)
    assert plan_program(ROOT, "dev").resources  # dev carries no marker: not refused
