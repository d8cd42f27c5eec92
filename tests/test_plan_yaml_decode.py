"""`kubernetes.yaml.ConfigFile`/`ConfigGroup` (v1) register their objects only after the provider's
`kubernetes:yaml:decode` invoke answers; the plan engine answers it as the provider does."""

from __future__ import annotations

from mlops_infra.plan.outputs import invoke_result
from tests.conftest import PROGRAMS, planned


def test_decode_keeps_documents_with_kind_and_api_version_in_order() -> None:
    text = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" \
           "metadata: {name: no-kind}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
    result = invoke_result("kubernetes:yaml:decode", {"text": text}, "us-east-1")["result"]
    assert [(d["kind"], d["metadata"]["name"]) for d in result] == [("ConfigMap", "a"), ("Secret", "b")]


def test_a_config_group_registers_every_object_of_its_text() -> None:
    records = planned("good", PROGRAMS / "families" / "selector_configgroup").to_json()["resources"]
    children = {r["type"].rsplit(":", 1)[-1] for r in records if (r.get("parent") or "").endswith("ConfigGroup::feature-server")}
    assert children == {"Namespace", "ServiceAccount", "Deployment", "Service", "ServiceMonitor", "NetworkPolicy",
                        "Ingress"}
