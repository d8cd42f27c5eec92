"""The PersistentVolumeClaims each pod of a template mounts, and the PersistentVolume a claim binds, for the
volume-zone family.

A pod's claims: its `persistentVolumeClaim` volumes (the PersistentVolumeClaim objects of the stack), its generic
ephemeral volumes (core/v1 EphemeralVolumeSource: a claim `<pod>-<volume>` made from the template), and for a
StatefulSet the claim `<template>-<set>-<ordinal>` of each volumeClaimTemplate. A StatefulSet's pods differ by their
claims, so each ordinal is judged apart, its claims of every template together: the controller uses a claim of that
name when it exists (kubernetes pkg/controller/statefulset stateful_pod_control.go createPersistentVolumeClaims
creates only the claims it does not find), so a PersistentVolumeClaim the stack pre-creates under that name, in the
set's namespace, is the ordinal's claim; otherwise the template's, bound to a PersistentVolume whose `spec.claimRef`
names it (name and namespace). Ordinals the stack neither pre-creates nor pre-binds are all alike: one of them is
judged, named `<template>-<set>-<ordinal>`. Replicas: `spec.replicas` (unset: 1); when it is not known, the
ordinals the stack pre-creates or pre-binds and one more.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .core import Resource, as_list
from .invariants_index import Index, meta
from .pod_model import PodTemplate

PERSISTENT_VOLUME = "kubernetes:core/v1:PersistentVolume"
CLAIM_KIND = "PersistentVolumeClaim"


@dataclass(frozen=True)
class Claim:
    name: str
    """As messages name it."""
    spec: Mapping[str, Any]
    pvc: Resource | None
    """The PersistentVolumeClaim object of the stack (None: made from a template)."""
    ref: str | None
    """The name a PersistentVolume's claimRef names to pre-bind this claim (None: not known, or known not to be)."""


_CLAIM_REFS: weakref.WeakKeyDictionary[Index, dict[tuple[str, str], Resource]] = weakref.WeakKeyDictionary()


def claim_refs(idx: Index) -> dict[tuple[str, str], Resource]:
    """(namespace, claim name) -> the PersistentVolume whose spec.claimRef pre-binds that claim (the first)."""
    found = _CLAIM_REFS.get(idx)
    if found is None:
        found = {}
        for pv in idx.of_type(PERSISTENT_VOLUME):
            ref = pv.get("spec", "claimRef")
            if isinstance(ref, Mapping) and isinstance(ref.get("name"), str) and isinstance(ref.get("namespace"), str):
                found.setdefault((ref["namespace"], ref["name"]), pv)
        _CLAIM_REFS[idx] = found
    return found


def bound_pv(idx: Index, namespace: str, claim: Claim) -> tuple[str, Resource | None] | None:
    """(name, object or None when not in the stack) of the PersistentVolume a claim binds: its `volumeName`, or a
    volume pre-bound to the claim by `spec.claimRef`; None: the claim is provisioned dynamically."""
    pv_name = claim.spec.get("volumeName")
    if isinstance(pv_name, str) and pv_name:
        return pv_name, idx.unnamespaced.get(("PersistentVolume", pv_name))
    pv = claim_refs(idx).get((namespace, claim.ref)) if claim.ref is not None else None
    return (str(meta(pv)[1] or pv.name), pv) if pv is not None else None


def _volume_claims(idx: Index, tpl: PodTemplate) -> Iterator[Claim]:
    for vol in as_list(tpl.spec.get("volumes")):
        if not isinstance(vol, Mapping):
            continue
        source = vol.get("persistentVolumeClaim")
        name = source.get("claimName") if isinstance(source, Mapping) else None
        pvc = idx.k8s.get((CLAIM_KIND, tpl.namespace, name)) if isinstance(name, str) else None
        spec = pvc.get("spec") if pvc is not None else None
        if isinstance(name, str) and isinstance(spec, Mapping):
            yield Claim(name, spec, pvc, name)
        eph = vol.get("ephemeral")
        template = eph.get("volumeClaimTemplate") if isinstance(eph, Mapping) else None
        if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
            yield Claim(f"<pod>-{vol.get('name')}", template["spec"], None, None)


def _named_ordinals(idx: Index, namespace: str, prefixes: list[str]) -> set[int]:
    """Ordinals whose claim `<prefix><ordinal>` the stack pre-creates or pre-binds."""
    names = [name for (kind, ns, name) in idx.k8s if kind == CLAIM_KIND and ns == namespace]
    names += [name for (ns, name) in claim_refs(idx) if ns == namespace]
    return {int(name[len(p):]) for name in names for p in prefixes
            if name.startswith(p) and name[len(p):].isdigit()}


def claim_sets(idx: Index, tpl: PodTemplate) -> Iterator[list[Claim]]:
    """The claims of each pod of the template that differs from the others by its claims (one set, except for a
    StatefulSet's ordinals); nothing when its pods mount no claim."""
    own = list(_volume_claims(idx, tpl))
    templates = [t for t in as_list(tpl.res.get("spec", "volumeClaimTemplates")) if isinstance(t, Mapping)
                 and isinstance(t.get("spec"), Mapping)] if tpl.kind == "StatefulSet" else []
    if not templates:
        if own:
            yield own
        return
    prefixes = [f"{(t.get('metadata') or {}).get('name')}-{tpl.name}-" for t in templates]
    replicas = tpl.res.get("spec", "replicas")
    replicas = 1 if replicas is None else replicas
    known = isinstance(replicas, int) and not isinstance(replicas, bool)
    named = _named_ordinals(idx, tpl.namespace, prefixes)
    # Pods are numbered from `spec.ordinals.start` (StatefulSetStartOrdinal, GA in 1.31; absent: 0). A start not
    # known at plan time: from the lowest ordinal the stack names a claim for.
    start = tpl.res.get("spec", "ordinals", "start")
    start = 0 if start is None else start
    if not isinstance(start, int) or isinstance(start, bool):
        start, known = min(named, default=0), False
    named = {o for o in named if o >= start and (not known or o < start + replicas)}
    last = max(named, default=start - 1)
    count = last - start + 2 if not known else min(replicas, last - start + 2)
    for ordinal in range(start, start + count):
        claims = list(own)
        for template, prefix in zip(templates, prefixes, strict=True):
            name = f"{prefix}{ordinal}"
            pvc = idx.k8s.get((CLAIM_KIND, tpl.namespace, name))
            if pvc is not None and isinstance(pvc.get("spec"), Mapping):
                claims.append(Claim(name, pvc.get("spec"), pvc, name))
            elif (tpl.namespace, name) in claim_refs(idx):
                claims.append(Claim(name, template["spec"], None, name))
            else:
                claims.append(Claim(f"{prefix}<ordinal>", template["spec"], None, None))
        yield claims
