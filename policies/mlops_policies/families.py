"""The #30 invariant families and the policies that judge each (the fixture harness and the closing note read this).

A family is a kind of cross-resource relation judged over the whole inventory, rendered chart objects included:
1 `selector`, 2 `placement`, 3 `kms-users`, 4 `identity`, 5 `service-reach`, 6 `ordering` (the issue's minimum), and
three added from public EKS and Kubernetes issues: 7 `volume-zone` (a zonal EBS volume vs the zones of the pools that
admit its pod), 8 `ip-capacity` (node groups at their maximum vs the addresses of their subnets) and 9 `probe-port`
(a probe's named port vs the probed container's ports); their modules cite the reports.
"""

from __future__ import annotations

POLICIES_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "selector": (
        "mlops-inv-service-selects-pods",
        "mlops-inv-servicemonitor-target",
        "mlops-inv-podmonitor-target",
        "mlops-inv-netpol-pod-port",
        "mlops-inv-netpol-peer-selects-pods",
        "mlops-inv-pdb-selects-pods",
        "mlops-inv-hpa-scale-target",
        "mlops-inv-hpa-metrics-source",
        "mlops-inv-ingress-backend",
    ),
    "placement": (
        "mlops-inv-pod-fits-node",
        "mlops-inv-pod-reference",
        "mlops-k8s-pod-security-admission",
    ),
    "kms-users": (
        "mlops-inv-kms-key-users",
    ),
    "identity": (
        "mlops-inv-workload-identity",
    ),
    "service-reach": (
        "mlops-inv-aws-service-reachable",
    ),
    "ordering": (
        "mlops-inv-crd-before-custom-resource",
    ),
    "volume-zone": (
        "mlops-inv-volume-zone",
    ),
    "ip-capacity": (
        "mlops-inv-subnet-ip-capacity",
    ),
    "probe-port": (
        "mlops-inv-probe-port",
    ),
}
