"""The chart store's digest covers exactly what Helm loads: a file added anywhere in a stored tree (a `STORE.json`
under `templates/` included) changes it, and a tree holding a symlink (Helm's loader follows it, out of the digest's
reach) is refused, by `find`/`plan`'s rendering and by `charts verify`. The render cache is keyed by the digest's
format, so a render cached under an older coverage is never served again.

Every tree here is a copy in a tmp store; the real store and the real render cache are never read or written."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_infra import charts
from mlops_infra.plan import plan_program, render, render_cache
from tests.conftest import TEST_CHARTS

REPO = "https://charts.example.test"
PROGRAM = Path(__file__).parent / "programs" / "rendered_chart"
INJECTED = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: injected}\ndata: {a: b}\n"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store holding only a verified copy of the tests' demo-exporter 1.0.0; a render cache of its own."""
    root = tmp_path / "store"
    shutil.copytree(TEST_CHARTS / "demo-exporter-1.0.0", root / "demo-exporter-1.0.0")
    monkeypatch.setenv(charts.STORE_ENV, str(root))
    monkeypatch.setenv("MLOPS_INFRA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(render_cache, "_MEMORY", {})
    charts._scan.cache_clear()
    assert charts.find("demo-exporter", REPO, "1.0.0") is not None  # the untouched copy is used
    charts._scan.cache_clear()
    yield root
    charts._scan.cache_clear()


def _rendered_names(case: str = "ok") -> tuple[list[dict[str, str]], set[str]]:
    inv = plan_program(PROGRAM, case, render=True)
    return inv.rendering, {str(r.inputs.get("metadata", {}).get("name")) for r in inv.rendered()}


def test_a_store_json_below_the_root_counts_and_a_tampered_copy_is_not_rendered(store: Path) -> None:
    chart = store / "demo-exporter-1.0.0"
    before = charts.tree_digest(chart)
    (chart / "templates" / charts.META).write_text(INJECTED)  # Helm renders every file under templates/
    assert charts.tree_digest(chart) != before
    assert charts.find("demo-exporter", REPO, "1.0.0") is None
    assert [p for p in charts.store_problems() if "do not match" in p and str(chart) in p]
    rendering, names = _rendered_names()
    assert [r["status"] for r in rendering] == ["unrendered"] and "injected" not in names
    assert "do not match" in rendering[0]["detail"] and "`mlops-infra charts pull`" in rendering[0]["detail"]


def test_the_root_store_json_is_the_only_file_left_out(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    (tree / "templates").mkdir(parents=True)
    (tree / "templates" / "a.yaml").write_text("a\n")
    digest = charts.tree_digest(tree)
    (tree / charts.META).write_text("{}\n")
    assert charts.tree_digest(tree) == digest
    (tree / "templates" / "a.yaml").write_text("b\n")
    assert charts.tree_digest(tree) != digest


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_symlink_in_a_stored_tree_is_refused_not_skipped(store: Path, tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "cm.yaml").write_text(INJECTED)
    chart = store / "demo-exporter-1.0.0"
    link = chart / "templates" / ("extra" if kind == "folder" else "extra.yaml")
    os.symlink(outside if kind == "folder" else outside / "cm.yaml", link)
    with pytest.raises(charts.UnsafeTree, match="symlink"):
        charts.tree_digest(chart)
    assert charts.tree_refusal(chart, "sha256:any") is not None
    assert charts.find("demo-exporter", REPO, "1.0.0") is None
    problems = charts.store_problems()
    assert [p for p in problems if "refused" in p and str(link) in p], problems
    rendering, names = _rendered_names()
    assert [r["status"] for r in rendering] == ["unrendered"] and "injected" not in names
    assert "symlink" in rendering[0]["detail"]


def test_a_special_file_in_a_stored_tree_is_refused(store: Path) -> None:
    fifo = store / "demo-exporter-1.0.0" / "templates" / "pipe.yaml"
    os.mkfifo(fifo)  # reading it for a digest would block forever
    with pytest.raises(charts.UnsafeTree, match="neither a regular file"):
        charts.tree_digest(store / "demo-exporter-1.0.0")
    assert charts.find("demo-exporter", REPO, "1.0.0") is None


def test_a_render_cached_under_another_digest_format_is_not_served(
        store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("helm_python")
    loads: list[str] = []
    real = render._load_chart
    monkeypatch.setattr(render, "_load_chart", lambda path: loads.append(path) or real(path))
    stored = charts.find("demo-exporter", REPO, "1.0.0")
    assert stored is not None

    def names() -> set[str]:
        return {str(o["metadata"]["name"]) for o in render.render_chart(stored, {}, "demo", "metrics")}

    first = names()
    assert first and len(loads) == 2  # the CRDs and the templates, each rendered once
    render_cache._MEMORY.clear()
    assert names() == first and len(loads) == 2  # served from the disk cache: nothing rendered again
    monkeypatch.setattr(charts, "DIGEST_FORMAT", "another")
    render_cache._MEMORY.clear()
    assert names() == first and len(loads) == 4  # another coverage: both rendered again
