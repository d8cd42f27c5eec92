"""Security concern: the security baseline (audit trail, threat detection, secrets delivery, exfiltration guards)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .audit_trail import AuditTrail, AuditTrailArgs
    from .config import IntegrationSecret, SecurityBaselineConfig
    from .exfiltration_guards import ExfiltrationGuards, ExfiltrationGuardsArgs
    from .secrets_delivery import SecretsDelivery, SecretsDeliveryArgs
    from .security_baseline import SecurityBaseline, SecurityBaselineArgs
    from .threat_detection import ThreatDetection, ThreatDetectionArgs

# The public API (tests/data/public-api.txt pins it): each name and the module that defines it, imported
# on first use (PEP 562), so importing one module of the package loads nothing else of it.
_EXPORTS = {
    "AuditTrail": "audit_trail", "AuditTrailArgs": "audit_trail", "IntegrationSecret": "config",
    "SecurityBaselineConfig": "config", "ExfiltrationGuards": "exfiltration_guards",
    "ExfiltrationGuardsArgs": "exfiltration_guards", "SecretsDelivery": "secrets_delivery",
    "SecretsDeliveryArgs": "secrets_delivery", "SecurityBaseline": "security_baseline",
    "SecurityBaselineArgs": "security_baseline", "ThreatDetection": "threat_detection",
    "ThreatDetectionArgs": "threat_detection",
}

__all__ = [
    "AuditTrail", "AuditTrailArgs", "ExfiltrationGuards", "ExfiltrationGuardsArgs", "IntegrationSecret",
    "SecretsDelivery", "SecretsDeliveryArgs", "SecurityBaseline", "SecurityBaselineArgs", "SecurityBaselineConfig",
    "ThreatDetection", "ThreatDetectionArgs",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
