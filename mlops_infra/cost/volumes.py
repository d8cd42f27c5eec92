"""The pricing context shared by the rules, and the block-storage rules: EBS volumes, node root volumes (from the
node group's launch template), PersistentVolumeClaims and the claims Helm charts make from their values."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .assumptions import Assumptions
from .model import Item, Line
from .prices import Price, PriceTable

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
GIB = {"Ki": 1 / 1024**2, "Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0, "K": 1e3 / 1024**3, "M": 1e6 / 1024**3,
       "G": 1e9 / 1024**3, "T": 1e12 / 1024**3, "": 1 / 1024**3}


def gib(quantity: Any) -> float | None:
    """A Kubernetes storage quantity ("200Gi", "1Ti", "5G") in GiB; None when it is not one."""
    match = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti|K|M|G|T|)", str(quantity).strip())
    return float(match.group(1)) * GIB[match.group(2)] if match else None


@dataclass
class Context:
    region: str
    prices: PriceTable
    assumptions: Assumptions
    items: list[Item]
    _templates: dict[str, Item] = field(init=False)
    _classes: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self._templates = {key: i for i in self.items if i.type == LAUNCH_TEMPLATE for key in (i.id, i.urn) if key}
        self._classes = {}
        for i in self.items:
            if i.type == STORAGE_CLASS and i.inputs.get("provisioner") == "ebs.csi.aws.com":
                meta = i.inputs.get("metadata") or {}
                kind = str((i.inputs.get("parameters") or {}).get("type") or "gp3")
                self._classes[str(meta.get("name") or i.name)] = kind
                if (meta.get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
                    self._classes[""] = kind

    @property
    def hours(self) -> float:
        return self.prices.hours_per_month

    def price(self, key: str) -> Price | None:
        return self.prices.get(self.region, key)

    def line(self, item: Item, what: str, idle: float | None, top: float | None, *, assumption: str | None = None,
             reason: str = "") -> Line:
        if idle is None or top is None:
            return Line(item.component, item.name, item.type, what, None, None, assumption, reason or "not priced")
        return Line(item.component, item.name, item.type, what, idle, top, assumption)

    def unpriced(self, item: Item, what: str, reason: str, assumption: str | None = None) -> Line:
        return Line(item.component, item.name, item.type, what, None, None, assumption, reason)

    def per_unit(self, item: Item, what: str, key: str, quantity: float, assumption: str | None = None) -> Line:
        price = self.price(key)
        if price is None:
            return self.unpriced(item, what, f"no price for {key} in {self.region}", assumption)
        return self.line(item, what, quantity * price.usd, quantity * price.usd, assumption=assumption)

    def hourly(self, item: Item, what: str, key: str, count: float = 1.0) -> Line:
        return self.per_unit(item, what, key, count * self.hours)

    def ebs_month(self, kind: str, size: float, iops: float | None = None,
                  throughput: float | None = None) -> tuple[float | None, str]:
        """USD per month for one volume, or (None, missing price key)."""
        base = self.price(f"ebs:{kind}-gb-month")
        if base is None:
            return None, f"ebs:{kind}-gb-month"
        total = size * base.usd
        if kind == "gp3" and throughput and throughput > 125:  # 125 MiB/s and 3000 IOPS included
            extra = self.price("ebs:gp3-throughput-mbps-month")
            if extra is None:
                return None, "ebs:gp3-throughput-mbps-month"
            total += (throughput - 125) * extra.usd
        if kind == "gp3" and iops and iops > 3000:
            extra = self.price("ebs:gp3-iops-month")
            if extra is None:
                return None, "ebs:gp3-iops-month"
            total += (iops - 3000) * extra.usd
        return total, ""

    def root_volume_lines(self, group: Item, low: float, high: float) -> list[Line]:
        ref = group.inputs.get("launchTemplate") or {}
        keys = [str(ref.get("id"))] if isinstance(ref, Mapping) else []
        keys += list(group.deps.get("launchTemplate") or [])
        template = next((self._templates[k] for k in keys if k in self._templates), None)
        if template is None:  # no launch template: EKS gives each node a `diskSize` GiB gp2 volume (default 20)
            size = float(group.inputs.get("diskSize") or 20)
            disks: list[tuple[str, float, float | None, float | None]] = [("gp2", size, None, None)]
        else:
            disks = [(str(ebs.get("volumeType") or "gp2"), float(ebs.get("volumeSize") or 8),
                      _float(ebs.get("iops")), _float(ebs.get("throughput")))
                     for bdm in template.inputs.get("blockDeviceMappings") or [] if isinstance(bdm, Mapping)
                     for ebs in [bdm.get("ebs") or {}] if isinstance(ebs, Mapping)]
        lines = []
        for kind, size, iops, throughput in disks:
            month, missing = self.ebs_month(kind, size, iops, throughput)
            what = f"{kind} root volume {size:g} GiB per node" + (f", {throughput:g} MiB/s" if throughput else "")
            if month is None:
                lines.append(self.unpriced(group, what, f"no price for {missing} in {self.region}"))
            else:
                lines.append(self.line(group, what, low * month, high * month))
        return lines

    def claim_line(self, item: Item, what: str, size: float, storage_class: str | None, copies: float) -> Line:
        kind = self._classes.get(storage_class or "")
        if kind is None:
            return self.unpriced(item, what, f"storage class {storage_class or '(default)'} is not an EBS class "
                                             "in this stack")
        month, missing = self.ebs_month(kind, size)
        if month is None:
            return self.unpriced(item, what, f"no price for {missing} in {self.region}")
        return self.line(item, f"{what} ({kind})", copies * month, copies * month)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def volume_lines(item: Item, ctx: Context) -> list[Line]:
    kind = str(item.inputs.get("type") or "gp3")
    size = _float(item.inputs.get("size")) or 0.0
    month, missing = ctx.ebs_month(kind, size, _float(item.inputs.get("iops")), _float(item.inputs.get("throughput")))
    what = f"{kind} volume {size:g} GiB"
    if month is None:
        return [ctx.unpriced(item, what, f"no price for {missing} in {ctx.region}")]
    return [ctx.line(item, what, month, month)]


def pvc_lines(item: Item, ctx: Context) -> list[Line]:
    spec = item.inputs.get("spec") or {}
    size = gib(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    if size is None:
        return [ctx.unpriced(item, "claim", "storage request is unknown")]
    return [ctx.claim_line(item, f"claim {size:g} GiB", size, spec.get("storageClassName"), 1)]


def _claims(values: Any, path: str = "", inherited: float = 1.0) -> Iterator[tuple[str, Mapping[str, Any], float]]:
    """(path, claim spec, replicas) for every `volumeClaimTemplate` and enabled `persistence` block in chart values.

    Replicas: the nearest `replicas`/`replicaCount` at or above the block (kube-prometheus-stack puts
    `prometheus.prometheusSpec.replicas` beside `storageSpec.volumeClaimTemplate`); default 1.
    """
    if not isinstance(values, Mapping):
        return
    replicas = _float(values.get("replicas")) or _float(values.get("replicaCount")) or inherited
    template = values.get("volumeClaimTemplate")
    if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
        yield f"{path}volumeClaimTemplate", template["spec"], replicas
    persistence = values.get("persistence")
    if isinstance(persistence, Mapping) and persistence.get("enabled") is True and persistence.get("size"):
        spec = {"resources": {"requests": {"storage": persistence["size"]}},
                "storageClassName": persistence.get("storageClass")}
        yield f"{path}persistence", spec, replicas
    for key, child in values.items():
        if key not in ("volumeClaimTemplate", "persistence"):
            yield from _claims(child, f"{path}{key}.", replicas)


def helm_volume_lines(item: Item, ctx: Context) -> list[Line]:
    lines = []
    for path, spec, replicas in _claims(item.inputs.get("values")):
        size = gib(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
        what = f"{path}: {replicas:g} x {size:g} GiB" if size is not None else path
        if size is None:
            lines.append(ctx.unpriced(item, what, "storage request is unknown"))
        else:
            lines.append(ctx.claim_line(item, what, size, spec.get("storageClassName"), replicas))
    return lines
