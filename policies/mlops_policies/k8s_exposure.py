"""Kubernetes exposure: public load balancers without TLS, Ingress without TLS or with wildcard hosts, externalIPs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .core import Resource, known, resource_policy

SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
LB_TLS_CERT = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
LB_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
LB_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"
ALB_CERT = "alb.ingress.kubernetes.io/certificate-arn"
ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"
EXPOSURE_CONTROLS = ("SOC2 CC6.7", "ISO27001 A.8.20", "PCI-DSS 4.2.1")


def _annotations(res: Resource) -> Mapping[str, Any]:
    ann = known(res.get("metadata", "annotations"), "annotations")
    return ann if isinstance(ann, Mapping) else {}


@resource_policy(
    "mlops-k8s-lb-service-tls",
    types=[SERVICE],
    description="LoadBalancer Services are internal, or terminate TLS.",
    severity="high", pack="mlops-security",
    controls=EXPOSURE_CONTROLS,
    remediation=f"Annotate the Service with {LB_SCHEME}: internal, or {LB_TLS_CERT}: <ACM ARN> (and TLS ports); "
                "better, expose it through an Ingress with TLS.",
)
def lb_service_tls(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    if known(res.get("spec", "type"), "spec.type") != "LoadBalancer":
        return
    ann = _annotations(res)
    internal = ann.get(LB_SCHEME) == "internal" or str(ann.get(LB_INTERNAL, "")).lower() in ("true", "0.0.0.0/0")
    if not internal and not ann.get(LB_TLS_CERT):
        yield "public LoadBalancer Service without TLS (no ssl-cert annotation and not internal)"


@resource_policy(
    "mlops-k8s-ingress-tls",
    types=[INGRESS],
    description="Ingresses terminate TLS and name their hosts (no wildcard host).",
    severity="high", pack="mlops-security",
    controls=EXPOSURE_CONTROLS,
    remediation="Add spec.tls (or the ALB certificate-arn annotation) and list explicit hosts in the rules.",
)
def ingress_tls(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    tls = known(res.get("spec", "tls"), "spec.tls")
    if not tls and not _annotations(res).get(ALB_CERT):
        yield "Ingress has no TLS (spec.tls or the ALB certificate-arn annotation)"
    for rule in known(res.get("spec", "rules"), "spec.rules") or []:
        host = rule.get("host") if isinstance(rule, Mapping) else None
        if host is None or (isinstance(host, str) and host.startswith("*")):
            yield f"Ingress rule has a wildcard host ({host or 'none'})"


@resource_policy(
    "mlops-k8s-service-no-external-ips",
    types=[SERVICE],
    description="Services set no externalIPs (CVE-2020-8554 traffic interception).",
    severity="medium", pack="mlops-security",
    controls=("CIS-EKS 5.4.5", *EXPOSURE_CONTROLS),
    remediation="Remove spec.externalIPs; use a LoadBalancer or Ingress.",
)
def no_external_ips(res: Resource, config: Mapping[str, Any]) -> Iterable[str]:
    ips = known(res.get("spec", "externalIPs"), "spec.externalIPs")
    if ips:
        yield f"Service sets externalIPs {', '.join(map(str, ips))}"
