"""tools/vendor_chart.py (its recipe is mlops_infra/charts/recipe.py): what it keeps of an upstream chart (Helm's
.helmignore rules), the release-job stamps it repeats, the packaged subcharts it unpacks and the dependencies it
refuses to leave out."""

from __future__ import annotations

import importlib.util
import io
import tarfile
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_chart", ROOT / "tools" / "vendor_chart.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vc = _tool()


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_helmignore_drops_what_helm_package_drops_and_keeps_the_rest(tmp_path: Path) -> None:
    _write(tmp_path, {
        ".helmignore": "# comment\nunittests/\nfiles/dashboards/\nfiles/*.json\nOWNERS\n*.bak\nci/\n",
        "Chart.yaml": "name: a\nversion: 1.0.0\n", "values.yaml": "{}\n", "OWNERS": "x",
        "templates/deploy.yaml": "", "templates/.hidden": "", "templates/x.bak": "",
        "unittests/t.yaml": "", "files/dashboards/d.json": "", "files/top.json": "", "files/sub/kept.json": "",
        "ci": "a file, not a folder: `ci/` matches folders only",
        # a subchart is packaged by its own rules: the parent's `files/*.json` is rooted at the parent
        "charts/sub/Chart.yaml": "name: sub\nversion: 1.0.0\n", "charts/sub/.helmignore": "*.txt\n",
        "charts/sub/files/top.json": "", "charts/sub/notes.txt": "", "charts/sub/OWNERS": "",
    })
    vc.helmignore(tmp_path)
    assert _files(tmp_path) == {
        ".helmignore", "Chart.yaml", "values.yaml", "templates/deploy.yaml", "files/sub/kept.json", "ci",
        "charts/sub/Chart.yaml", "charts/sub/.helmignore", "charts/sub/files/top.json", "charts/sub/OWNERS",
    }


def test_stamp_sets_a_nested_scalar_and_keeps_comments(tmp_path: Path) -> None:
    _write(tmp_path, {"values.yaml": "image:\n  # -- repo\n  repository: staging/x\n  tag: main  # dev\n"
                                     "other:\n  tag: keep\n", "Chart.yaml": "name: a\nversion: 0.1.0\n"})
    assert vc.stamp(tmp_path, "values.yaml:image.tag=v1.2.3") == {
        "file": "values.yaml", "key": "image.tag", "was": "main", "now": "v1.2.3"}
    text = (tmp_path / "values.yaml").read_text()
    assert "# -- repo" in text
    assert yaml.safe_load(text) == {"image": {"repository": "staging/x", "tag": "v1.2.3"}, "other": {"tag": "keep"}}
    vc.stamp(tmp_path, "Chart.yaml:appVersion=v1.2.3")  # a top-level key `helm package --app-version` adds
    assert yaml.safe_load((tmp_path / "Chart.yaml").read_text())["appVersion"] == "v1.2.3"
    with pytest.raises(vc.ChartError, match="not found"):
        vc.stamp(tmp_path, "values.yaml:image.digest=sha256:0")


def test_a_missing_or_mismatched_dependency_is_reported(tmp_path: Path) -> None:
    deps = [{"name": "grafana", "version": "11.1.7"}, {"name": "win", "version": "0.12.*"},
            {"name": "nfd", "version": "v0.18.2"}, {"name": "absent", "version": "1.0.0"}]
    _write(tmp_path, {"Chart.yaml": yaml.safe_dump({"name": "p", "version": "1.0.0", "dependencies": deps}),
                      "charts/grafana/Chart.yaml": "name: grafana\nversion: 11.1.8\n",
                      "charts/win/Chart.yaml": "name: win\nversion: 0.12.3\n",
                      "charts/nfd/Chart.yaml": "name: nfd\nversion: 0.18.2\n"})
    missing = vc.missing_dependencies(tmp_path)
    assert missing == [f"{tmp_path.name}: grafana 11.1.7 (charts/ holds 11.1.8)", f"{tmp_path.name}: absent 1.0.0"]


def test_a_packaged_subchart_is_unpacked_into_its_folder(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in {"nfd/Chart.yaml": b"name: nfd\nversion: 0.17.3\n", "nfd/templates/a.yaml": b""}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    _write(tmp_path, {"Chart.yaml": "name: p\nversion: 1.0.0\n"})
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "nfd-chart-0.17.3.tgz").write_bytes(buf.getvalue())
    assert vc.unpack_packaged(tmp_path) == [{"name": "nfd", "packaged": "charts/nfd-chart-0.17.3.tgz"}]
    assert _files(tmp_path) == {"Chart.yaml", "charts/nfd/Chart.yaml", "charts/nfd/templates/a.yaml"}
