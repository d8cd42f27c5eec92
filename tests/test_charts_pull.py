"""`mlops-infra charts pull|list|verify` on upstream repositories built here (this machine reaches no git host: the
upstream is a local repository, named through `--mirror` as a `file://` URL or a folder)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlops_infra import charts
from mlops_infra.charts.pull import LOCK_FILE, repository_url
from mlops_infra.charts.recipe import Recipe
from mlops_infra.cli.main import main
from tests.nonempty import each
from tests.test_vendor_tools import BASES, CHART, OTHER, _repo, _tool

REPO = "https://charts.example.invalid"
FILES = {  # the upstream tree at the tag; README.md and tests/ are development files no install reads
    "deploy/demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: v9\n",
    "deploy/demo/values.yaml": "greeting: hello\n",
    "deploy/demo/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n"
                                     "data: {greeting: {{ .Values.greeting | quote }}}\n",
    "deploy/demo/README.md": "docs\n",
    "deploy/demo/tests/unit.yaml": "suite: x\n",
    "other/big.bin": "not part of the chart\n",
}


def _true_digest(tmp_path: Path) -> str:
    """The digest of what the store must hold, from the files themselves (not from the code under test)."""
    root = tmp_path / "expected"
    for rel in ("Chart.yaml", "values.yaml", "templates/cm.yaml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(FILES[f"deploy/demo/{rel}"])
    return charts.tree_digest(root)


def _commit(git_dir: str, ref: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "rev-parse", f"{ref}^{{commit}}"], capture_output=True,
                          text=True, check=True).stdout.strip()


def _entry(digest: str, commit: str, ref: str = "demo-1.2.3") -> dict[str, Any]:
    return {"chart": "demo", "repo": REPO, "version": "1.2.3", "dir": "demo-1.2.3", "digest": digest,
            "source": {"repository": "o/demo", "ref": ref, "commit": commit, "path": "deploy/demo",
                       "subcharts": [], "stamped": None, "note": ""}}


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An upstream `o/demo` under `<tmp>/up`, a lock naming its tag with the true digest, an empty store."""
    git_dir = _repo(tmp_path / "up" / "o" / "demo", FILES, "demo-1.2.3")
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps({"charts": [_entry(_true_digest(tmp_path), _commit(git_dir, "demo-1.2.3"))]}))
    monkeypatch.setattr(charts, "LOCK", lock)
    monkeypatch.setenv(charts.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.delenv("MLOPS_INFRA_CHART_GIT_BASE", raising=False)
    charts._scan.cache_clear()
    return {"git_dir": git_dir, "lock": lock, "store": tmp_path / "store", "url": f"file://{tmp_path}/up",
            "folder": str(tmp_path / "up")}


def _store_entries(store: Path) -> list[str]:
    """What the store holds but its lock file (which concurrent pulls share, and which stays)."""
    return sorted(p.name for p in store.iterdir() if p.name != LOCK_FILE) if store.exists() else []


@pytest.mark.parametrize("base", ["url", "folder"])
def test_pull_stores_the_locked_chart_and_plans_find_it(upstream: dict[str, Any], base: str) -> None:
    assert charts.find("demo", REPO, "1.2.3") is None
    assert main(["charts", "verify"]) == 1
    assert main(["charts", "pull", "--mirror", upstream[base]]) == 0
    stored = charts.find("demo", REPO, "1.2.3")
    assert stored is not None and stored.path == upstream["store"] / "demo-1.2.3"
    assert sorted(p.relative_to(stored.path).as_posix() for p in stored.path.rglob("*") if p.is_file()) == [
        "Chart.yaml", "STORE.json", "templates/cm.yaml", "values.yaml"]
    assert _store_entries(upstream["store"]) == ["demo-1.2.3"]  # no scratch left behind
    assert main(["charts", "verify"]) == 0
    helm_python = pytest.importorskip("helm_python")
    out = helm_python.Chart.load(str(stored.path)).render({}, name="x", namespace="y", is_install=True)
    assert 'greeting: "hello"' in "".join(out.values())


def test_a_tree_that_does_not_give_the_lock_digest_is_refused_and_not_stored(
        upstream: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    work = Path(upstream["git_dir"]).parent
    (work / "deploy/demo/values.yaml").write_text("greeting: tampered\n")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-qam", "tamper"], check=True)
    subprocess.run([*git, "tag", "-f", "demo-1.2.3"], check=True, capture_output=True)
    lock = json.loads(upstream["lock"].read_text())
    lock["charts"][0]["source"]["commit"] = _commit(upstream["git_dir"], "demo-1.2.3")  # the tree, not the tag, lies
    upstream["lock"].write_text(json.dumps(lock))
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    err = capsys.readouterr().err
    assert "the lock records sha256:" in err and "nothing stored" in err
    assert _store_entries(upstream["store"]) == []
    assert charts.find("demo", REPO, "1.2.3") is None


def test_a_tag_that_names_another_commit_than_the_lock_is_refused(
        upstream: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    work = Path(upstream["git_dir"]).parent
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "later"], check=True)
    subprocess.run([*git, "tag", "-f", "demo-1.2.3"], check=True, capture_output=True)  # the tag moved
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    assert "tag demo-1.2.3 names" in capsys.readouterr().err
    assert _store_entries(upstream["store"]) == []


def test_a_ref_the_upstream_does_not_have_is_refused(
        upstream: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    lock = json.loads(upstream["lock"].read_text())
    lock["charts"][0]["source"]["ref"] = "demo-9.9.9"
    upstream["lock"].write_text(json.dumps(lock))
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    assert "no tag or branch 'demo-9.9.9'" in capsys.readouterr().err
    assert _store_entries(upstream["store"]) == []


def test_a_verified_chart_is_not_fetched_again_and_a_changed_one_is_replaced(
        upstream: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    capsys.readouterr()
    unreachable = upstream["url"] + "-gone"
    assert main(["charts", "pull", "--chart", "demo", "--mirror", unreachable]) == 0  # nothing fetched
    assert "already stored, digest verified" in capsys.readouterr().out
    values = upstream["store"] / "demo-1.2.3" / "values.yaml"
    values.write_text("greeting: edited in the store\n")
    assert main(["charts", "pull", "--mirror", unreachable]) == 1  # must fetch now, and cannot
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 0
    assert values.read_text() == FILES["deploy/demo/values.yaml"]


def test_pull_without_git_says_it_needs_git(
        upstream: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(upstream["store"].parent / "no-bin"))
    assert main(["charts", "pull", "--mirror", upstream["url"]]) == 1
    assert "needs git on PATH" in capsys.readouterr().err


def test_an_unknown_chart_name_is_a_usage_error(upstream: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["charts", "pull", "--chart", "nope"]) == 2
    assert "no locked chart named nope (locked: demo-1.2.3)" in capsys.readouterr().err


def test_the_lock_the_vendor_tool_writes_is_enough_to_pull_the_same_tree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One recipe, one digest: vendor a stamped chart with tools/vendor_chart.py, then pull it from that lock alone."""
    vc = _tool("vendor_chart")
    git_dir = _repo(tmp_path / "up" / "o" / "demo", CHART, "v1.2.3")
    monkeypatch.setattr(vc, "default_store", lambda: tmp_path / "vendored")
    monkeypatch.setattr(vc, "LOCK", tmp_path / "lock.json")
    assert vc.main(["--chart", "demo", "--repo", REPO, "--version", "v1.2.3", "--source", "o/demo",
                    "--git-dir", git_dir, "--ref", "v1.2.3", "--chart-dir", "chart", "--stamp-version",
                    "--stamp-app-version", "v1.2.3", "--drop", "signkey.txt"]) == 0
    monkeypatch.setattr(charts, "LOCK", tmp_path / "lock.json")
    monkeypatch.setenv(charts.STORE_ENV, str(tmp_path / "pulled"))
    assert main(["charts", "pull", "--mirror", f"file://{tmp_path}/up"]) == 0
    vendored, pulled = tmp_path / "vendored" / "demo-v1.2.3", tmp_path / "pulled" / "demo-v1.2.3"
    assert charts.tree_digest(pulled) == charts.tree_digest(vendored)
    assert (pulled / "Chart.yaml").read_text() == (vendored / "Chart.yaml").read_text()
    assert "appVersion: v1.2.3" in (pulled / "Chart.yaml").read_text()


def test_kustomize_bases_are_pulled_from_the_lock_the_vendor_tool_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The roots at the locked commit and each remote base at its own: the tree the tool stored, or nothing."""
    vk = _tool("vendor_kustomize")
    main_git = _repo(tmp_path / "up" / "o" / "main", BASES, "1.0")
    other_git = _repo(tmp_path / "up" / "o" / "other", OTHER, "v4")
    monkeypatch.setattr(vk, "default_store", lambda: tmp_path / "vendored")
    monkeypatch.setattr(vk, "LOCK", tmp_path / "lock.json")
    assert vk.main(["--name", "demo-1.0", "--source", "o/main", "--url", "https://github.com/o/main",
                    "--git-dir", main_git, "--ref", "1.0", "--root", "manifests/overlay",
                    "--remote", f"https://github.com/o/other={other_git}:o/other"]) == 0
    monkeypatch.setattr(charts, "LOCK", tmp_path / "lock.json")
    monkeypatch.setenv(charts.STORE_ENV, str(tmp_path / "pulled"))
    lock = json.loads((tmp_path / "lock.json").read_text())
    lock["kustomize"][0]["digest"] = "sha256:" + "0" * 64  # what the upstream does not give
    (tmp_path / "lock.json").write_text(json.dumps(lock))
    assert main(["charts", "pull", "--chart", "demo-1.0", "--mirror", f"file://{tmp_path}/up"]) == 1
    assert "the lock records sha256:000" in capsys.readouterr().err
    assert not (tmp_path / "pulled" / "kustomize" / "demo-1.0").exists()
    lock["kustomize"][0]["digest"] = charts.tree_digest(tmp_path / "vendored" / "kustomize" / "demo-1.0")
    (tmp_path / "lock.json").write_text(json.dumps(lock))
    assert main(["charts", "pull", "--chart", "demo-1.0", "--mirror", f"file://{tmp_path}/up"]) == 0
    pulled = tmp_path / "pulled" / "kustomize" / "demo-1.0"
    assert charts.kustomize_bases() == {("https://github.com/o/main", "1.0"): pulled}
    assert (pulled / "remote/o/other/v4/deploy/rbac/role.yaml").read_text() == OTHER["deploy/rbac/role.yaml"]


def test_every_locked_chart_records_a_recipe_pull_can_repeat() -> None:
    locked = json.loads(charts.LOCK.read_text())["charts"]
    for entry in each(locked):
        recipe = Recipe.from_lock(entry)
        source = entry["source"]
        assert recipe.ref == source["commit"] and recipe.chart_dir == source["path"], entry["dir"]
        # the vendor tool's --stamp-app-version value: without it the stamped Chart.yaml cannot be rebuilt
        assert ("stampedAppVersion" in source) == bool(recipe.stamp_app_version), entry["dir"]


def test_the_git_base_names_each_upstream_repository() -> None:
    assert repository_url("https://github.com", "o/n") == "https://github.com/o/n"
    assert repository_url("https://git.corp/mirror/", "o/n") == "https://git.corp/mirror/o/n"
    assert repository_url("/srv/mirror/{owner}+{name}/repo", "o/n") == "/srv/mirror/o+n/repo"
