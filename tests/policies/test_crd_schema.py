"""CRD schema validation: the structural-schema rules on small hand-written CRDs, then the policies on inventories
(the stack's own CRDs, CRD folders, the chart store) and on KServe v0.20.0's real InferenceService CRD."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlops_policies import crd_catalog
from mlops_policies.core import UNKNOWN
from mlops_policies.crd_schema import CompiledSchema
from mlops_policies.runner import evaluate

from .cases import Case, check, params
from .helpers import R, inventory, run

GROUP = "demo.example.com"
STR, INT = {"type": "string"}, {"type": "integer"}
SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "apiVersion": STR, "kind": STR, "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}},
    "spec": {"type": "object", "required": ["image", "replicas"], "properties": {
        "image": {"type": "string", "pattern": "^[a-z]"},
        "replicas": {"type": "integer", "minimum": 1, "default": 1},
        "port": {"x-kubernetes-int-or-string": True, "anyOf": [INT, STR]},
        "mode": {"type": "string", "enum": ["a", "b"]},
        "owner": {"type": "string", "nullable": True},
        "note": STR,
        "labels": {"type": "object", "additionalProperties": STR},
        "opaque": {"type": "object"},
        "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                   "properties": {"retries": INT, "nested": {"type": "object", "properties": {"depth": INT}}}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": {"type": "object",
                     "x-kubernetes-preserve-unknown-fields": True}}},
        "ports": {"type": "array", "items": {"type": "object", "required": ["port"], "properties": {"port": INT}}},
        "size": {"type": "string", "anyOf": [{"pattern": "^[0-9]+Gi$"}, {"pattern": "^[0-9]+Mi$"}]},
    }}}}


def errors(spec: dict[str, Any], **top: Any) -> list[str]:
    obj = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"},
           "spec": {"image": "img", **spec}, **top}
    return [f"{e.path}: {e.message}" for e in CompiledSchema(SCHEMA).errors(obj)]


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, []),
    ({"imgae": "x"}, ["spec.imgae: unknown field"]),
    ({"port": 8080, "size": "1Gi"}, []),
    ({"port": "http"}, []),
    ({"port": True}, ["spec.port: True is not of type ['integer', 'string']"]),
    ({"mode": "c"}, ["spec.mode: 'c' is not one of ['a', 'b']"]),
    ({"replicas": 0}, ["spec.replicas: 0 fails minimum 1"]),
    ({"image": "Upper"}, ["spec.image: 'Upper' fails pattern '^[a-z]'"]),
    ({"owner": None}, []),  # nullable
    ({"note": None}, []),  # not nullable: pruned, not an error
    ({"image": None}, ["spec.image: required field is missing"]),  # pruned, then required fails
    ({"labels": {"any": "x", "key": "y"}}, []),
    ({"labels": {"any": 1}}, ["spec.labels.any: 1 is not of type 'string'"]),
    ({"opaque": {"x": 1}}, ["spec.opaque.x: unknown field"]),  # an object without properties keeps no field
    ({"config": {"retries": 2, "anything": {"goes": True}}}, []),
    ({"config": {"retries": "2"}}, ["spec.config.retries: '2' is not of type 'integer'"]),
    ({"config": {"nested": {"depth": 1, "deph": 2}}}, ["spec.config.nested.deph: unknown field"]),
    ({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}}, "spec": {"x": 1}}}, []),
    ({"template": {"kind": "Pod", "extra": 1}}, ["spec.template.extra: unknown field"]),
    ({"ports": [{"port": 1}, {"prot": 2}]}, ["spec.ports[1].port: required field is missing",
                                              "spec.ports[1].prot: unknown field"]),
    ({"size": "1Tb"}, ["spec.size: '1Tb' fails anyOf [{'pattern': '^[0-9]+Gi$'}, {'pattern': '^[0-9]+Mi$'}]"]),
])
def test_structural_rules(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors(spec) == expected


def test_root_metadata_is_object_meta_and_root_fields_are_closed() -> None:
    meta = {"name": "a-long-name", "labels": {"a": "b"}, "annotations": {"x": "y"}, "ownerReferences": []}
    assert errors({}, metadata=meta) == []  # the CRD cannot restrict metadata beyond name; ObjectMeta is the server's
    assert errors({}, status={"ready": True}) == ["status: unknown field"]


def test_unknown_values_never_fail_but_a_misspelling_beside_them_does() -> None:
    assert errors({"replicas": UNKNOWN, "port": UNKNOWN, "mode": UNKNOWN, "labels": UNKNOWN, "ports": [UNKNOWN]}) == []
    assert errors({"image": UNKNOWN}) == []
    assert errors({"replicas": UNKNOWN, "replica": 2}) == ["spec.replica: unknown field"]
    obj = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": UNKNOWN}
    assert CompiledSchema(SCHEMA).errors(obj) == []


# --- the policies ------------------------------------------------------------------------------------------------

SCHEMA_POLICY, NO_SCHEMA = "mlops-k8s-crd-schema", "mlops-k8s-crd-no-schema"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
WIDGET = f"kubernetes:{GROUP}/v1:Widget"


def crd(versions: tuple[tuple[str, bool], ...] = (("v1", True),)) -> R:
    return R(CRD, "widgets", {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                              "metadata": {"name": f"widgets.{GROUP}"},
                              "spec": {"group": GROUP, "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                                       "versions": [{"name": v, "served": served, "storage": True,
                                                     "schema": {"openAPIV3Schema": SCHEMA}} for v, served in versions]}})


def widget(spec: dict[str, Any], type_: str = WIDGET, name: str = "w") -> R:
    return R(type_, name, {"apiVersion": type_.split(":")[1], "kind": type_.rsplit(":", 1)[-1],
                           "metadata": {"name": name, "namespace": "ns"}, "spec": {"image": "img", **spec}})


def found(policy: str, resources: list[R], **config: Any) -> list[tuple[str, str]]:
    return [(f.enforcement, f.message) for f in run(policy, resources, env="dev",
                                                     config={"chartStore": False, **config}).findings]


def test_a_custom_resource_is_checked_against_the_stacks_own_crd() -> None:
    assert found(SCHEMA_POLICY, [crd(), widget({})]) == []
    assert found(SCHEMA_POLICY, [crd(), widget({"replica": 2})]) == [
        ("mandatory", f"Widget ns/w: spec.replica: unknown field (CRD widgets.{GROUP} v1, stack): the API server "
                      "prunes it (fieldValidation Warn): the setting is silently lost")]


def test_versions_of_the_crd() -> None:
    other = widget({}, type_=f"kubernetes:{GROUP}/v2:Widget")
    assert found(SCHEMA_POLICY, [crd(), other]) == [
        ("mandatory", f"Widget ns/w: the CRD of {GROUP}/Widget has no version v2 (versions: v1)")]
    assert found(SCHEMA_POLICY, [crd((("v1", False), ("v2", True))), widget({})]) == [
        ("mandatory", f"Widget ns/w: CRD widgets.{GROUP} does not serve version v1")]


def test_no_crd_anywhere_is_an_advisory_no_schema() -> None:
    assert found(SCHEMA_POLICY, [widget({"anything": 1})]) == []
    assert found(NO_SCHEMA, [widget({})]) == [
        ("advisory", f"Widget ns/w: no schema: no CRD of {GROUP}/Widget in the stack or the chart store")]
    assert found(NO_SCHEMA, [crd(), widget({})]) == []
    assert found(NO_SCHEMA, [R("kubernetes:apps/v1:Deployment", "d", {"metadata": {"name": "d"}})]) == []


def test_a_patch_of_a_known_kind_is_partial_and_not_judged() -> None:
    patch = widget({}, type_=f"kubernetes:{GROUP}/v1:WidgetPatch")
    del patch.inputs["spec"]["image"]
    assert found(SCHEMA_POLICY, [crd(), patch]) == [] and found(NO_SCHEMA, [crd(), patch]) == []


def test_a_typed_crd_in_the_plan_spells_extensions_the_python_way() -> None:
    """A plan records `JSONSchemaPropsArgs(x_kubernetes_int_or_string=True)` with underscores."""
    typed = crd()
    spec = typed.inputs["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"] = {**spec["properties"], "port": {"x_kubernetes_int_or_string": True},
                          "config": {"type": "object", "x_kubernetes_preserve_unknown_fields": True}}
    assert found(SCHEMA_POLICY, [typed, widget({"port": "http", "config": {"any": 1}})]) == []
    assert len(found(SCHEMA_POLICY, [crd(), widget({"port": [1]})])) == 1  # the control


def test_an_unknown_crd_schema_is_not_judged() -> None:
    unknown = crd()
    unknown.inputs["spec"]["versions"] = "[unknown]"
    assert found(SCHEMA_POLICY, [unknown, widget({"replica": 2})]) == []


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Parsed CRD files go to a cache of this module's own (parsed once: KServe's CRD takes ~1.5 s)."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_INFRA_CACHE", str(cache))
        crd_catalog._parsed.cache_clear()
        yield cache
    crd_catalog._parsed.cache_clear()


def write_crd(path: Path, text_prefix: str = "") -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_prefix + yaml.safe_dump(crd().inputs), encoding="utf-8")


def test_crds_come_from_chart_folders_like_helm_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     private_cache: Path) -> None:
    """crds/ of a chart and of its subcharts; an untemplated CRD among templates; never a templated file."""
    store = tmp_path / "store"
    (store / "app-1.0.0").mkdir(parents=True)
    (store / "app-1.0.0" / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    write_crd(store / "app-1.0.0" / "charts" / "sub" / "crds" / "widgets.yaml")
    (store / "app-1.0.0" / "charts" / "sub" / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 0.1.0\n")
    write_crd(store / "app-1.0.0" / "templates" / "templated.yaml", "{{- if .Values.crds }}\n")
    monkeypatch.setattr(crd_catalog, "chart_store", lambda: store)
    assert [m for _, m in found(SCHEMA_POLICY, [widget({"replica": 2})], chartStore=True)] == [
        f"Widget ns/w: spec.replica: unknown field (CRD widgets.{GROUP} v1, app-1.0.0/charts/sub/crds/widgets.yaml): "
        "the API server prunes it (fieldValidation Warn): the setting is silently lost"]
    digest = hashlib.sha256((store / "app-1.0.0" / "charts" / "sub" / "crds" / "widgets.yaml").read_bytes()).hexdigest()
    assert (private_cache / "crds" / f"{digest}.json").is_file()  # parsed once, kept on disk
    helm = pytest.importorskip("helm_python")
    ours = [p.relative_to(store / "app-1.0.0").as_posix() for p, _ in crd_catalog.files_of(store)]
    assert [c["filename"] for c in helm.Chart.load(store / "app-1.0.0").crds] == ["app/" + p for p in ours]


# An InferenceService CRD written for these tests: the fields the library sets, with the types and `required`
# lists of KServe v0.20.0's `charts/kserve-crd` serving.kserve.io_inferenceservices.yaml (read at the tag; the
# upstream file itself is not redistributed here). `resources` and `securityContext` stay open, as corev1 types
# they are judged elsewhere.
_MODEL: dict[str, Any] = {"type": "object", "properties": {
    "name": {"type": "string"}, "storageUri": {"type": "string"}, "protocolVersion": {"type": "string"},
    "runtime": {"type": "string"}, "image": {"type": "string"},
    "modelFormat": {"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
    "resources": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "securityContext": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "env": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    "ports": {"type": "array", "items": {"type": "object", "required": ["containerPort"], "properties": {
        "containerPort": {"type": "integer", "format": "int32"}, "name": {"type": "string"},
        "protocol": {"type": "string", "default": "TCP"}}}}}}
_PREDICTOR: dict[str, Any] = {"type": "object", "properties": {
    "name": {"type": "string"}, "scaleTarget": {"type": "integer"},
    "scaleMetric": {"type": "string", "enum": ["cpu", "memory", "concurrency", "rps"]},
    "securityContext": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "minReplicas": {"type": "integer"}, "maxReplicas": {"type": "integer"},
    "serviceAccountName": {"type": "string"}, "model": _MODEL,
    "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
    "tolerations": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    "topologySpreadConstraints": {"type": "array", "items": {"type": "object", "required": [
        "maxSkew", "topologyKey", "whenUnsatisfiable"], "properties": {
        "maxSkew": {"type": "integer"}, "topologyKey": {"type": "string"}, "whenUnsatisfiable": {"type": "string"},
        "labelSelector": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}
_CANARY_MODEL = {**_MODEL, "required": ["modelFormat", "name"]}
ISVC_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "inferenceservices.serving.kserve.io"},
    "spec": {"group": "serving.kserve.io", "scope": "Namespaced",
             "names": {"kind": "InferenceService", "plural": "inferenceservices", "singular": "inferenceservice"},
             "versions": [{"name": "v1beta1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {
                     "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
                     "spec": {"type": "object", "required": ["predictor"], "properties": {
                         "predictor": _PREDICTOR,
                         "canary": {"type": "array", "items": {"type": "object", "properties": {
                             "predictor": {**_PREDICTOR, "properties": {**_PREDICTOR["properties"],
                                                                       "model": _CANARY_MODEL}},
                             "trafficPercent": {"type": "integer"}}}}}},
                     "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


@pytest.fixture()
def kserve(tmp_path: Path) -> Path:
    import yaml

    folder = tmp_path / "kserve-crd"
    folder.mkdir()
    (folder / "serving.kserve.io_inferenceservices.yaml").write_text(yaml.safe_dump(ISVC_CRD), encoding="utf-8")
    return folder
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
GOOD_ISVC = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
             "metadata": {"name": "ranker", "namespace": "serving", "annotations": {"serving.kserve.io/deploymentMode": "Standard"}},
             "spec": {"predictor": {"minReplicas": 1, "serviceAccountName": "ranker", "model": {
                 "modelFormat": {"name": "sklearn"}, "storageUri": "s3://models/ranker/v3", "protocolVersion": "v2",
                 "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": 1, "memory": "[unknown]"}},
                 "ports": [{"containerPort": 8080, "protocol": "TCP"}]}}}}


def isvc(**model: Any) -> R:
    body = copy.deepcopy(GOOD_ISVC)
    body["spec"]["predictor"]["model"].update(model)
    return R(ISVC, "ranker", body)


def test_an_inference_service_with_a_misspelled_field_fails_crd_validation(kserve: Path) -> None:
    """Issue 25 acceptance, against the InferenceService schema above (KServe v0.20.0's fields)."""
    KSERVE = kserve
    assert found(SCHEMA_POLICY, [isvc()], crdDirectories=[str(KSERVE)]) == []
    bad = isvc(storageUrl="s3://models/ranker/v3")
    del bad.inputs["spec"]["predictor"]["model"]["storageUri"]
    assert found(SCHEMA_POLICY, [bad], crdDirectories=[str(KSERVE)]) == [
        ("mandatory", "InferenceService serving/ranker: spec.predictor.model.storageUrl: unknown field (CRD "
                      "inferenceservices.serving.kserve.io v1beta1, serving.kserve.io_inferenceservices.yaml): the API "
                      "server prunes it (fieldValidation Warn): the setting is silently lost")]


def test_a_rendered_inference_service_names_its_release_and_helms_refusal(kserve: Path) -> None:
    KSERVE = kserve
    inv = inventory([R("kubernetes:helm.sh/v3:Release", "serving", {"chart": "x"}), isvc(minReplica=1)])
    inv["resources"][1]["parent"] = inv["resources"][0]["urn"]
    report = evaluate(inv, environment="prod", only=[SCHEMA_POLICY],
                      policy_config={SCHEMA_POLICY: {"crdDirectories": [str(KSERVE)], "chartStore": False}})
    assert [f.message for f in report.findings] == [
        "InferenceService serving/ranker (release serving): spec.predictor.model.minReplica: unknown field (CRD "
        "inferenceservices.serving.kserve.io v1beta1, serving.kserve.io_inferenceservices.yaml): the API server prunes "
        "it and release serving installs with a warning, without the setting"]


POLICY_CASES = [
    Case("valid", SCHEMA_POLICY, [crd(), widget({})], []),
    Case("misspelled", SCHEMA_POLICY, [crd(), widget({"imgae": "x"})],
         [f"w: Widget ns/w: spec.imgae: unknown field (CRD widgets.{GROUP} v1, stack): the API server prunes it "
          "(fieldValidation Warn): the setting is silently lost"]),
    Case("has-crd", NO_SCHEMA, [crd(), widget({})], []),
    Case("no-crd", NO_SCHEMA, [widget({})],
         [f"w: Widget ns/w: no schema: no CRD of {GROUP}/Widget in the stack or the chart store"]),
]


@params(POLICY_CASES)
def test_policy_cases(case: Case) -> None:
    check(case)


def test_the_prod_inference_service_matches_kserves_crd(kserve: Path) -> None:
    from tests.conftest import planned

    KSERVE = kserve
    inv = planned("prod").to_json()
    assert any(r["type"] == ISVC for r in inv["resources"])
    report = evaluate(inv, environment="prod", only=[SCHEMA_POLICY],
                      policy_config={SCHEMA_POLICY: {"crdDirectories": [str(KSERVE)]}})
    assert [f.message for f in report.findings] == []
