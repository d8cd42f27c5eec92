"""Large manifest batches are parsed by Go (Helm's `fromYaml | toJson`, sigs.k8s.io/yaml), small ones by PyYAML: both
give the objects the API server would read, so which one runs never changes a finding."""

from __future__ import annotations

import pytest

from mlops_infra.plan import render_cache
from mlops_infra.plan.render_cache import GO_BATCH_BYTES, documents_of

pytest.importorskip("helm_python")

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-{i}
  labels: {{app: demo, tier: "1"}}
data:
  rule: "up == 0"
  equals: =
  text: |
    line one
    line two
---# a comment right after the separator (cert-manager's rbac.yaml)
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {{name: svc-{i}}}
  spec:
    ports: [{{port: 80, targetPort: 8080}}]
    publishNotReadyAddresses: true
- apiVersion: apps/v1
  kind: Deployment
  metadata: {{name: dep-{i}}}
  spec:
    replicas: 2
    template:
      spec:
        containers: [{{name: c, image: "x:1", resources: {{limits: {{cpu: 0.5, memory: 64Mi}}}}}}]
---
# Scalars the two YAML libraries resolve differently by default (review finding): go-yaml v2 is the reference.
apiVersion: example.com/v1
kind: Widget
metadata: {{name: w-{i}, annotations: {{example.com/expires: 2027-01-01}}}}
spec: {{flag: n, on: Y, scale: 1e3, mode: 0o755, legacy: 0755}}
---
# only a comment: no object
"""


def _batch(count: int) -> list[str]:
    return [MANIFEST.format(i=i) for i in range(count)]


def test_the_go_and_python_parsers_agree_object_for_object(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _batch(600)
    assert sum(map(len, texts)) >= GO_BATCH_BYTES  # this batch takes the Go path
    calls: list[int] = []
    original = render_cache._parse_go

    def spy(parts: list[str]) -> list[list[object]] | None:
        calls.append(len(parts))
        return original(parts)

    monkeypatch.setattr(render_cache, "_parse_go", spy)
    by_go = documents_of(texts)
    assert calls, "the Go parser did not run"
    monkeypatch.setattr(render_cache, "GO_BATCH_BYTES", 10**12)  # now PyYAML alone
    by_python = documents_of(texts)
    assert by_go and by_go == by_python
    first = by_go[0]
    assert [o["kind"] for o in first] == ["ConfigMap", "Service", "Deployment", "Widget"]
    assert first[3]["metadata"]["annotations"]["example.com/expires"] == "2027-01-01"
    assert first[3]["spec"] == {"flag": False, "true": True, "scale": 1000, "mode": 493, "legacy": 493}
    assert first[0]["data"]["equals"] == "=" and first[0]["metadata"]["labels"]["tier"] == "1"
    assert first[2]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == 0.5


def test_a_document_go_cannot_parse_is_read_by_pyyaml_which_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_cache, "GO_BATCH_BYTES", 0)
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n"
    with pytest.raises(Exception, match="flow"):
        documents_of(["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n", broken])
    assert documents_of(["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"]) == [
        [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"}}]]
