"""README.md and docs/: every generated region (config reference, output contract, prod diagram, figures) matches
what the code generates now; hand-written figures that would drift are refused; the mkdocs site lists every page."""

from __future__ import annotations

import re

import pytest

from mlops_infra import docs, docs_figures
from mlops_infra.plan.graph import mermaid
from tests.conftest import ROOT, planned
from tests.nonempty import each

README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted((ROOT / "docs").glob("*.md"))
FILES = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *PAGES]}


def region(name: str) -> str:
    start, end = docs.markers(name)
    found = [m.group(1) for text in FILES.values()
             for m in re.finditer(re.escape(start) + r"\n(.*?)\n" + re.escape(end), text, re.S)]
    assert len(found) == 1, f"{name}: {len(found)} regions in README.md and docs/ (want exactly one)"
    return found[0]


@pytest.fixture(autouse=True)
def _shared_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    # The figures plan the repository's stacks; reuse the session's plans (deterministic) instead of planning again.
    monkeypatch.setattr(docs_figures, "planned", planned)


def test_docs_has_pages_and_every_region_generator_has_a_home() -> None:
    assert PAGES and docs.REGIONS
    for name in docs.REGIONS:
        region(name)


@pytest.mark.parametrize("name", [r for r in docs.REGIONS if r != "prod-diagram"])
def test_generated_region_is_current(name: str) -> None:
    assert region(name) == docs.REGIONS[name](), f"run: {docs.GENERATOR}"


def test_prod_diagram_is_what_graph_prints_for_prod() -> None:
    assert region("prod-diagram") == f"```mermaid\n{mermaid(planned('prod'))}\n```"


def test_headline_counts_are_the_plan_and_the_registry() -> None:
    from mlops_policies.packs import all_rules

    headline = region("headline")
    assert f"**{len(planned('prod').resources)} resources**" in headline
    assert f"**{len(all_rules())} policies**" in headline


def test_a_stale_figure_fails_the_region_check() -> None:
    # The drift test compares text: a README whose figure is one off is not current.
    stale = region("headline").replace(f"**{len(planned('prod').resources)} resources**",
                                       f"**{len(planned('prod').resources) - 1} resources**")
    assert stale != docs.REGIONS["headline"]()


FIGURE = re.compile(r"\b\d[\d,]* (resources|policies)\b|\$\d[\d,]*(\.\d+)?/month|\b\d+m\d\ds\b")


@pytest.mark.parametrize("path", list(FILES))
def test_no_hand_written_count_cost_or_deploy_time_outside_generated_regions(path: str) -> None:
    text = FILES[path]
    for name in docs.REGIONS:
        start, end = docs.markers(name)
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), "", text, flags=re.S)
    assert FIGURE.findall(text) == [], f"{path}: put the figure in a generated region (mlops_infra/docs_figures.py)"


def test_config_reference_lists_every_config_key() -> None:
    table = region("config-reference")
    for key in ("network.azCount", "cluster.endpointPublicAccess", "gpuPools[].instanceTypes",
                "featureStore.online.type", "modelRegistry.database.multiAz", "monitoring.thresholds.driftScore",
                "securityBaseline.exfiltrationGuards"):
        assert f"| `{key}` |" in table


def test_readme_quick_start_is_two_commands() -> None:
    quick = README[README.index("## Quick start"):README.index("## What it deploys")]
    blocks = re.findall(r"```bash\n(.*?)```", quick, re.S)
    assert [b.strip() for b in blocks] == [
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/mlops-infra plan --stack dev",
        ".venv/bin/python -m pytest",
    ]
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_readme_keeps_what_a_newcomer_needs() -> None:
    headings = re.findall(r"^## (.+)$", README, re.M)
    for needed in ("Quick start", "What it deploys", "Using the components in your own stack", "Deploying for real"):
        assert needed in headings


def test_every_relative_link_resolves() -> None:
    for path, text in each(FILES.items()):
        base = (ROOT / path).parent
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
            assert (base / target).resolve().exists(), f"{path} links to missing {target}"


def test_every_docs_link_stays_inside_docs() -> None:
    """`mkdocs build --strict` (docs_dir: docs) aborts on a link to a file outside docs/: the site holds only docs/."""
    docs_dir = (ROOT / "docs").resolve()
    for page in each(PAGES):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z][\w+.-]*:", target):  # https:, mailto:
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(docs_dir) and resolved.exists(), f"{page.name} links to {target}"


def test_mkdocs_nav_is_exactly_the_docs_pages() -> None:
    nav = set(re.findall(r":\s*([\w-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M))
    assert nav == {p.name for p in PAGES}


def test_the_pointers_runtime_messages_print_still_resolve_to_a_readme_heading() -> None:
    # Alerts and CLI messages say "README: <heading>"; each such heading exists in the README.
    sources = [*ROOT.glob("mlops_infra/**/*.py"), *ROOT.glob("policies/mlops_policies/**/*.py")]
    pointers = {m for p in sources for m in re.findall(r"README: ([A-Z][\w ]+?)[)\".,]", p.read_text("utf-8"))}
    assert pointers
    headings = set(re.findall(r"^#{2,3} (.+)$", README, re.M))
    assert not [p for p in sorted(pointers) if p.strip() not in headings and not any(
        h.startswith(p.strip()) for h in headings)]


