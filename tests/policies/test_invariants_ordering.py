"""Family `ordering`: a custom resource waits, directly or transitively, for what installs its CRD."""

from __future__ import annotations

from .helpers import R, messages

POLICY = "mlops-inv-crd-before-custom-resource"
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
WIDGET = "kubernetes:example.com/v1:Widget"
CM = "kubernetes:core/v1:ConfigMap"
EKS = R("aws:eks/cluster:Cluster", "eks", {"name": "c"})


def crd(name: str = "crd", parent: str | None = None) -> R:
    return R(CRD_TYPE, name, {"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced"}},
             parent=parent)


def widget(deps: list[str] | None = None, parent: str | None = None) -> R:
    return R(WIDGET, "w", {"metadata": {"name": "w", "namespace": "app"}, "spec": {}},
             deps={"dependsOn": deps} if deps else {}, parent=parent)


def test_direct_and_transitive_waits_count() -> None:
    assert messages(POLICY, [crd(), widget(["crd"])]) == []
    middle = R(CM, "cm", {"metadata": {"name": "cm", "namespace": "app"}}, deps={"dependsOn": ["crd"]})
    assert messages(POLICY, [crd(), middle, widget(["cm"])]) == []  # A -> B -> CRD: no false alarm


def test_missing_wait_names_both_ends_and_the_fix() -> None:
    found = messages(POLICY, [crd(), widget()])
    assert len(found) == 1
    assert "Widget app/w does not wait for CustomResourceDefinition widgets.example.com" in found[0]
    assert "depends_on" in found[0]
    unrelated = R(CM, "cm", {"metadata": {"name": "cm", "namespace": "app"}})
    assert messages(POLICY, [crd(), unrelated, widget(["cm"])]) != []


def test_waiting_for_the_release_or_component_that_renders_the_crd() -> None:
    release = R("kubernetes:helm.sh/v3:Release", "rel", {"chart": "widgets", "namespace": "app"})
    assert messages(POLICY, [release, crd(parent="rel"), widget(["rel"])]) == []
    found = messages(POLICY, [release, crd(parent="rel"), widget()])
    assert len(found) == 1 and "(installed by Release rel)" in found[0]
    component = R("acme:index:Operator", "op", {})
    assert messages(POLICY, [component, crd(parent="op"), widget(["op"])]) == []


def test_objects_of_one_installer_are_ordered_by_it() -> None:
    for type_ in ("kubernetes:helm.sh/v4:Chart", "kubernetes:kustomize/v2:Directory", "kubernetes:yaml/v2:ConfigFile",
                  "kubernetes:helm.sh/v3:Release"):
        owner = R(type_, "owner", {})
        assert messages(POLICY, [owner, crd(parent="owner"), widget(parent="owner")]) == [], type_


def test_siblings_under_a_plain_component_do_not_wait_for_each_other() -> None:
    component = R("acme:index:Platform", "platform", {})
    found = messages(POLICY, [component, crd(parent="platform"), widget(parent="platform")])
    assert len(found) == 1 and "Widget app/w" in found[0]


def test_custom_parent_is_waited_for() -> None:
    holder = R(CM, "holder", {"metadata": {"name": "holder", "namespace": "app"}}, deps={"dependsOn": ["crd"]})
    assert messages(POLICY, [crd(), holder, widget(parent="holder")]) == []


def test_no_installer_is_judged_only_where_the_cluster_is_owned() -> None:
    assert messages(POLICY, [widget()]) == []
    found = messages(POLICY, [EKS, widget()])
    assert len(found) == 1 and "nothing in the stack installs its CRD" in found[0]
    opaque = R("kubernetes:kustomize/v2:Directory", "dir", {"directory": "./base"})
    assert messages(POLICY, [EKS, opaque, widget()]) == []  # an unrendered base may carry it


def test_known_chart_not_rendered_is_the_installer() -> None:
    eso = R("kubernetes:helm.sh/v3:Release", "eso", {"chart": "external-secrets", "namespace": "external-secrets"})
    es = R("kubernetes:external-secrets.io/v1:ExternalSecret", "es", {"metadata": {"name": "db", "namespace": "app"}},
           deps={"dependsOn": ["eso"]})
    assert messages(POLICY, [EKS, eso, es]) == []
    es.deps = {}
    found = messages(POLICY, [EKS, eso, es])
    assert len(found) == 1 and "Release eso" in found[0] and "ExternalSecret app/db" in found[0]


def test_custom_resource_rendered_by_another_release_names_that_release() -> None:
    """Two releases (#30 ordering_two-releases): the fix is a depends_on on the second release, so the finding names
    the release that renders the custom resource as well as the one that installs the CRD."""
    first = R("kubernetes:helm.sh/v3:Release", "crds-rel", {"chart": "widgets", "namespace": "app"})
    second = R("kubernetes:helm.sh/v3:Release", "app-rel", {"chart": "app", "namespace": "app"})
    found = messages(POLICY, [first, second, crd(parent="crds-rel"), widget(parent="app-rel")])
    assert len(found) == 1
    assert "Widget app/w (installed by Release app-rel) does not wait for" in found[0]
    assert "(installed by Release crds-rel)" in found[0]
    assert messages(POLICY, [first, second, crd(parent="crds-rel"),
                             R(second.type, "app-rel", second.inputs, deps={"dependsOn": ["crds-rel"]}),
                             widget(parent="app-rel")]) == []


def test_crds_eks_installs_itself() -> None:
    vsc = R("kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass", "vsc", {"metadata": {"name": "ebs"}},
            deps={"dependsOn": ["snap"]})
    snap = R("aws:eks/addon:Addon", "snap", {"clusterName": "c", "addonName": "snapshot-controller"})
    assert messages(POLICY, [EKS, snap, vsc]) == []
    found = messages(POLICY, [EKS, snap, R(vsc.type, "vsc", vsc.inputs)])  # no wait for the add-on: a race
    assert len(found) == 1 and "Addon snap" in found[0]
    assert "nothing in the stack installs" in messages(POLICY, [EKS, R(vsc.type, "vsc", vsc.inputs)])[0]
    pool = R("kubernetes:karpenter.sh/v1:NodePool", "np", {"metadata": {"name": "gpu"}, "spec": {}})
    auto = R("aws:eks/cluster:Cluster", "eks", {"name": "c", "computeConfig": {"enabled": True}})
    assert messages(POLICY, [auto, pool]) == []
    assert len(messages(POLICY, [EKS, pool])) == 1  # without Auto Mode nothing installs karpenter.sh
