"""tools/vendor_chart.py and tools/vendor_kustomize.py on small repositories built here (no upstream content)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from mlops_infra import charts
from mlops_infra.charts import tree_digest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def _repo(root: Path, files: Mapping[str, str | bytes], tag: str) -> str:
    """A git repository holding `files`, tagged `tag`; returns its git dir."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "release"], check=True)
    subprocess.run([*git, "tag", tag], check=True)
    return str(root / ".git")


CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: demo\n# set by the release job\nversion: v0.0.0\nappVersion: v0.0.0\n",
    "chart/values.yaml": "image: {}\n",
    "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n"
                               "data: {tag: {{ .Chart.AppVersion | quote }}}\n",
    "chart/signkey.txt": "fingerprint: ABC\n",
}


def _store(vc: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(vc, "default_store", lambda: tmp_path / "store")
    monkeypatch.setattr(vc, "LOCK", tmp_path / "lock.json")
    return tmp_path / "store"


def test_vendor_chart_drops_the_build_inputs_a_release_does_not_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vc = _tool("vendor_chart")
    git_dir = _repo(tmp_path / "up", CHART, "v1.2.3")
    store = _store(vc, tmp_path, monkeypatch)
    args = ["--chart", "demo", "--repo", "https://charts.example.invalid", "--version", "v1.2.3", "--source", "o/demo",
            "--git-dir", git_dir, "--ref", "v1.2.3", "--chart-dir", "chart", "--stamp-version",
            "--stamp-app-version", "v1.2.3"]
    assert vc.main([*args, "--drop", "absent.txt"]) == 2
    assert vc.main([*args, "--drop", "signkey.txt"]) == 0
    stored = store / "demo-v1.2.3"
    files = sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file())
    assert files == ["Chart.yaml", "STORE.json", "templates/cm.yaml", "values.yaml"]
    meta = json.loads((stored / "STORE.json").read_text())
    assert meta["digest"] == tree_digest(stored) and meta["source"]["dropped"] == ["signkey.txt"]
    assert json.loads((tmp_path / "lock.json").read_text())["charts"] == [meta]
    helm_python = pytest.importorskip("helm_python")
    out = helm_python.Chart.load(str(stored)).render({}, name="x", namespace="y", is_install=True)
    assert 'tag: "v1.2.3"' in "".join(out.values())


def _package(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, content in files.items():
            info = tarfile.TarInfo(f"demo/{rel}")
            info.size = len(content.encode())
            tar.addfile(info, io.BytesIO(content.encode()))
    return buf.getvalue()


PACKAGED = {"Chart.yaml": "apiVersion: v2\nname: demo\nversion: 2026.1.1\ndependencies:\n"
                          "- {name: common, version: 2.41.0}\n- {name: postgresql, version: 12.0.0}\n",
            "values.yaml": "", "README.md": "docs",
            "charts/common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 2.41.0\n",
            "charts/postgresql/Chart.yaml": "apiVersion: v2\nname: postgresql\nversion: 12.0.0\n"}


def test_vendor_chart_takes_a_published_package_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vc = _tool("vendor_chart")
    package = _package(PACKAGED)
    git_dir = _repo(tmp_path / "up", {"charts/demo-2026.1.1.tgz": package}, "pages")
    store = _store(vc, tmp_path, monkeypatch)
    assert vc.main(["--chart", "demo", "--repo", "r", "--version", "2026.1.1", "--source", "o/demo",
                    "--git-dir", git_dir, "--ref", "pages", "--chart-dir", "charts/demo-2026.1.1.tgz",
                    "--package"]) == 0
    stored = store / "demo-2026.1.1"
    files = sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file())
    assert files == ["Chart.yaml", "STORE.json", "charts/common/Chart.yaml", "charts/postgresql/Chart.yaml",
                     "values.yaml"]
    meta = json.loads((stored / "STORE.json").read_text())["source"]
    assert meta["package_sha256"] == "sha256:" + hashlib.sha256(package).hexdigest()


def test_vendor_chart_refuses_a_package_missing_a_declared_dependency(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vc = _tool("vendor_chart")
    package = _package({k: v for k, v in PACKAGED.items() if "postgresql" not in k})
    git_dir = _repo(tmp_path / "up", {"charts/demo-2026.1.1.tgz": package}, "pages")
    store = _store(vc, tmp_path, monkeypatch)
    assert vc.main(["--chart", "demo", "--repo", "r", "--version", "2026.1.1", "--source", "o/demo",
                    "--git-dir", git_dir, "--ref", "pages", "--chart-dir", "charts/demo-2026.1.1.tgz",
                    "--package"]) == 2
    assert not (store / "demo-2026.1.1").exists()


BASES = {
    "manifests/overlay/kustomization.yaml": "resources:\n- ../base\n- https://github.com/o/other/deploy/rbac?ref=v4\n"
                                            "patches:\n- path: patches/replicas.yaml\n",
    "manifests/overlay/patches/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n"
                                               "spec: {replicas: 2}\n",
    "manifests/base/kustomization.yaml": "resources:\n- api.yaml\nconfigMapGenerator:\n- name: params\n"
                                         "  envs: [params.env]\n",
    "manifests/base/api.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n"
                               "spec: {template: {spec: {containers: [{name: api, image: api:1}]}}}\n",
    "manifests/base/params.env": "a=b\n",
    "manifests/base/unused.yaml": "kind: Nothing\n",
}
OTHER = {"deploy/rbac/kustomization.yaml": "resources: [role.yaml]\n",
         "deploy/rbac/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n"}


def test_vendor_kustomize_copies_what_is_reached_and_vendors_remote_bases(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vk = _tool("vendor_kustomize")
    main_git = _repo(tmp_path / "main", BASES, "1.0")
    other_git = _repo(tmp_path / "other", OTHER, "v4")
    monkeypatch.setattr(vk, "default_store", lambda: tmp_path / "store")
    monkeypatch.setattr(vk, "LOCK", tmp_path / "lock.json")
    assert vk.main(["--name", "demo-1.0", "--source", "o/main", "--url", "https://github.com/o/main",
                    "--git-dir", main_git, "--ref", "1.0", "--root", "manifests/overlay",
                    "--remote", f"https://github.com/o/other={other_git}:o/other"]) == 0
    dest = tmp_path / "store" / "kustomize" / "demo-1.0"
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["STORE.json", "manifests/base/api.yaml", "manifests/base/kustomization.yaml",
                     "manifests/base/params.env", "manifests/overlay/kustomization.yaml",
                     "manifests/overlay/patches/replicas.yaml", "remote/o/other/v4/deploy/rbac/kustomization.yaml",
                     "remote/o/other/v4/deploy/rbac/role.yaml"]
    meta = json.loads((dest / "STORE.json").read_text())
    assert meta["digest"] == tree_digest(dest) and meta["source"]["remotes"][0]["ref"] == "v4"
    assert json.loads((tmp_path / "lock.json").read_text())["kustomize"] == [meta]
    assert meta["source"]["rewritten"] == [{"file": "manifests/overlay/kustomization.yaml",
                                            "from": "https://github.com/o/other/deploy/rbac?ref=v4",
                                            "to": "../../remote/o/other/v4/deploy/rbac"}]
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (kustomize) is not installed")
    out = subprocess.run(["kubectl", "kustomize", str(dest / "manifests/overlay")], capture_output=True, text=True,
                         check=True).stdout
    kinds = sorted((d["kind"], d["metadata"]["name"].split("-")[0]) for d in yaml.safe_load_all(out))
    assert kinds == [("ConfigMap", "params"), ("Deployment", "api"), ("Role", "r")]
    assert "replicas: 2" in out


def test_localize_points_remote_bases_at_the_stored_tree_only_while_it_matches_the_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vk = _tool("vendor_kustomize")
    main_git = _repo(tmp_path / "main", BASES, "1.0")
    other_git = _repo(tmp_path / "other", OTHER, "v4")
    monkeypatch.setattr(vk, "default_store", lambda: tmp_path / "store")
    monkeypatch.setattr(vk, "LOCK", tmp_path / "lock.json")
    monkeypatch.setattr(charts, "LOCK", tmp_path / "lock.json")
    monkeypatch.setenv(charts.STORE_ENV, str(tmp_path / "store"))
    assert vk.main(["--name", "demo-1.0", "--source", "o/main", "--url", "https://github.com/o/main",
                    "--git-dir", main_git, "--ref", "1.0", "--root", "manifests/overlay",
                    "--remote", f"https://github.com/o/other={other_git}:o/other"]) == 0
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "kustomization.yaml").write_text("namespace: team\nresources:\n"
                                             "- https://github.com/o/main//manifests/overlay?ref=1.0\n")
    assert charts.localize(ours, tmp_path / "local") == []
    stored = tmp_path / "store" / "kustomize" / "demo-1.0"
    assert "- ../store/kustomize/demo-1.0/manifests/overlay\n" in (tmp_path / "local" / "kustomization.yaml").read_text()
    (stored / "manifests/base/api.yaml").write_text("kind: Edited\n")  # no longer what the lock recorded
    assert charts.localize(ours, tmp_path / "edited") == ["https://github.com/o/main//manifests/overlay?ref=1.0"]
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (kustomize) is not installed")
    (stored / "manifests/base/api.yaml").write_text(BASES["manifests/base/api.yaml"])
    out = subprocess.run(["kubectl", "kustomize", str(tmp_path / "local")], capture_output=True, text=True,
                         check=True).stdout
    assert {d["metadata"]["namespace"] for d in yaml.safe_load_all(out)} == {"team"}
