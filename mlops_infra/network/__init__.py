"""Network concern: the VPC (or an existing one), subnets, NAT, flow logs and VPC endpoints."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ExistingVpcConfig, FlowLogsConfig, NetworkConfig, SubnetPlan, carve_subnets
    from .network import Network, NetworkArgs

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "ExistingVpcConfig": "config", "FlowLogsConfig": "config", "NetworkConfig": "config", "SubnetPlan": "config",
    "carve_subnets": "config", "Network": "network", "NetworkArgs": "network",
}

__all__ = [
    "ExistingVpcConfig", "FlowLogsConfig", "Network", "NetworkArgs", "NetworkConfig", "SubnetPlan", "carve_subnets",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
