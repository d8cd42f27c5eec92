"""SARIF URIs a code-scanning upload resolves: relative to the repository root under `uriBaseId` (SARIF 2.1.0 §3.4.4)
with the root in the run's `originalUriBaseIds` (§3.14.14: an absolute URI ending in `/`), whatever the caller's
directory; config values located by a whole quoted token only; registration sites past third-party code."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from mlops_infra.cli.main import main
from mlops_infra.cli.sarif_locations import locator, quoted_tokens, repository_root
from mlops_infra.plan import Inventory, plan_program
from mlops_infra.plan.inventory import ResourceRecord
from tests.conftest import ROOT
from tests.nonempty import each

MISCONFIGURED = ROOT / "tests" / "programs" / "misconfigured"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def test_uris_are_relative_to_the_repository_root_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository: URIs must not depend on where the command runs
    assert main(["check", "--program", str(MISCONFIGURED), "--stack", "test", "--format", "sarif", "--quiet"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    run = sarif["runs"][0]
    base = run["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert base.startswith("file:///") and base.endswith("/")
    assert Path(base.removeprefix("file://")) == repository_root(MISCONFIGURED) == ROOT
    artifacts = [loc["physicalLocation"]["artifactLocation"] for r in run["results"] for loc in r["locations"]]
    assert artifacts
    assert {a["uriBaseId"] for a in artifacts} == {"SRCROOT"}
    uris = {a["uri"] for a in artifacts}
    assert "tests/programs/misconfigured/__main__.py" in uris
    assert all((ROOT / uri).is_file() for uri in each(uris)), uris


def test_a_config_value_matches_a_whole_quoted_token_only(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(textwrap.dedent("""\
        config:
          mlops:platform:
            name: mlops
            modelRegistry:
              flavour: mlflow
            cluster:
              adminRoleArns:
                - arn:aws:iam::123456789012:role/platform-admin
        """))
    admin_line = 8
    locate = locator(Inventory("p", "prod", [], {}), stack_file, "Pulumi.prod.yaml", tmp_path)
    arn = "arn:aws:iam::123456789012:role/platform-admin"
    assert quoted_tokens(f"x 'a b' `c` \"d\" ({arn})") == {"a b", "c", "d", arn}
    assert locate("urn:x", "r", f"principalArn: account 123456789012 ({arn})")[:2] == ("Pulumi.prod.yaml", admin_line)
    assert locate("urn:x", "r", f"principalArn: {arn!r} is a placeholder")[:2] == ("Pulumi.prod.yaml", admin_line)
    # Part of a longer token, or unquoted prose: not the config value.
    assert locate("urn:x", "r", f"principalArn: ({arn}-breakglass)")[:2] == ("Pulumi.prod.yaml", 1)
    assert locate("urn:x", "r", f"role {arn} is unused")[:2] == ("Pulumi.prod.yaml", 1)
    # A bare word names too many things (here the container): an engine choice is not located by it.
    assert locate("urn:x", "r", "container 'mlflow' image docker.io/x/mlflow:3 is not pinned")[:2] == ("Pulumi.prod.yaml", 1)


def test_a_resource_made_inside_a_third_party_package_points_at_the_programs_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed-library case: a package under `site-packages` constructs the bucket; the registration site
    recorded for SARIF is the program's line that called it, not the package's."""
    site = tmp_path / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "vendored_buckets.py").write_text(
        "import pulumi_aws as aws\n\n\ndef bucket(name):\n    return aws.s3.Bucket(name)\n")
    program = tmp_path / "prog"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: thirdparty\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (program / "__main__.py").write_text("import vendored_buckets\n\nvendored_buckets.bucket('data')\n")
    monkeypatch.syspath_prepend(str(site))
    inventory = plan_program(program, "dev")
    [record] = [r for r in inventory if r.type == "aws:s3/bucket:Bucket"]
    assert record.source is not None
    assert (Path(record.source[0]).resolve(), record.source[1]) == ((program / "__main__.py").resolve(), 3)


def test_a_source_outside_the_repository_is_an_absolute_file_uri(tmp_path: Path) -> None:
    elsewhere = tmp_path / "other" / "__main__.py"
    record = ResourceRecord("urn:b", "aws:s3/bucket:Bucket", "b", None, True, "id", {}, {}, source=(str(elsewhere), 4))
    root = tmp_path / "repo"
    root.mkdir()
    locate = locator(Inventory("p", "dev", [record], {}), root / "Pulumi.dev.yaml", "Pulumi.dev.yaml", root)
    assert locate("urn:b", "b", "no tags")[:2] == (elsewhere.resolve().as_uri(), 4)


def test_a_relative_uri_is_percent_encoded_as_an_rfc3986_reference(tmp_path: Path) -> None:
    from urllib.parse import unquote, urljoin

    from mlops_infra.cli.sarif_locations import relative_uri
    stack_file = tmp_path / "infra #1" / "a:b 100%" / "Pulumi.prod.yaml"
    stack_file.parent.mkdir(parents=True)
    stack_file.write_text("config: {}\n")
    uri = relative_uri(stack_file, tmp_path)
    assert uri == "infra%20%231/a%3Ab%20100%25/Pulumi.prod.yaml"
    # Resolved against the SRCROOT base as a consumer does, it names the file again (a raw `#` would cut it).
    resolved = urljoin(tmp_path.resolve().as_uri() + "/", uri)
    assert Path(unquote(resolved.removeprefix("file://"))) == stack_file.resolve()
