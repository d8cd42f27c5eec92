"""Every component takes its resource options as `opts`, the keyword every Pulumi resource uses, so
`FeatureStore("fs", args, opts=pulumi.ResourceOptions(provider=k8s))` works like any other resource."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pulumi

import mlops_infra


def components() -> list[type[pulumi.ComponentResource]]:
    for info in pkgutil.walk_packages(mlops_infra.__path__, "mlops_infra."):
        importlib.import_module(info.name)
    found: list[type[pulumi.ComponentResource]] = []
    pending = list(pulumi.ComponentResource.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("mlops_infra."):
            found.append(cls)
    return found


def test_every_component_takes_opts() -> None:
    found = components()
    assert len(found) > 25
    wrong = {}
    for cls in found:
        params = list(inspect.signature(cls.__init__).parameters)
        # (self, name, args | config, opts)
        if params[1] != "name" or params[3:4] != ["opts"]:
            wrong[f"{cls.__module__}.{cls.__qualname__}"] = params
    assert wrong == {}
