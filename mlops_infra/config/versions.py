"""Pinned versions in one place, each with where it was checked (Nov 2026).

EKS support dates: AWS EKS Kubernetes version lifecycle page (standard support 14 months, extended 12 more).
Chart versions: the peers listed in `docs/` and each chart's own repository index.
"""

from __future__ import annotations

# minor version -> (end of standard support, end of extended support)
EKS_VERSION_SUPPORT: dict[str, tuple[str, str]] = {
    "1.33": ("2026-07-29", "2027-07-29"),
    "1.34": ("2026-12-02", "2027-12-02"),
    "1.35": ("2027-03-27", "2028-03-27"),
}
SUPPORTED_EKS_VERSIONS: tuple[str, ...] = tuple(EKS_VERSION_SUPPORT)
DEFAULT_EKS_VERSION = "1.35"
