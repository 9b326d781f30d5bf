"""The README and docs quote no number that no results file holds, and the README's
results section is a table that fits on one screen."""

import re
from functools import cache
from pathlib import Path

import numpy as np

from neuralpaint.benchmarks import claims

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("docs/*.md"))]
NOT_RESULTS = {
    ("docs/install.md", "1.6"): "libmypaint's version",
    ("docs/install.md", "1.5"): "a Debian package's version",
}
"""Decimals in prose that are not measurements, with what they are."""
UNSOURCED = {
    ("docs/painters.md", n): "painter training logs, not committed under results/"
    for n in (
        *("4.4", "0.94", "0.81", "0.89", "0.894", "0.8986", "0.8980", "0.8987", "0.889"),
        *("0.899", "0.9039", "0.9029", "0.9013", "0.7573", "0.7581", "0.7590"),
    )
}
"""Measurements the pages quote without a results file to check them against: each
should be moved into a results file or generated; no new one may join this list."""

INCLUDE = re.compile(r"<!-- include: [^ ]+ -->\n.*?<!-- end include -->", re.DOTALL)
DECIMAL = re.compile(r"(?<![\w.\-/])(\d+\.\d+)(?![\w.]*\d)")
SOURCE = re.compile(r"(?:results|neuralpaint)/[\w./@-]+\w")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def sources() -> list[Path]:
    """The files a quoted number may come from."""
    found = [p for p in ROOT.glob("results/**/*") if p.suffix in (".csv", ".md", ".json")]
    for p in ROOT.glob("neuralpaint/**/weights/**/*"):
        if p.suffix == ".json" or p.name == "README.md":
            found.append(p)
    return [p for p in found if p.is_file()]


@cache
def numbers_in(path: Path) -> np.ndarray:
    return np.abs(np.array([float(x) for x in NUMBER.findall(path.read_text())] or [np.nan]))


@cache
def written_anywhere() -> frozenset[str]:
    """Every decimal as written in some source file."""
    return frozenset(t for p in sources() for t in re.findall(r"\d+\.\d+", p.read_text()))


def holds(path: Path, quoted: str) -> bool:
    """Whether ``path`` holds a number that rounds to ``quoted``."""
    half = 0.5 * 10.0 ** -len(quoted.split(".")[1]) + 1e-12
    return bool(np.any(np.abs(numbers_in(path) - float(quoted)) <= half))


def suite_of(path: Path) -> list[Path]:
    """The source files of the suite a named path belongs to: its folder under
    ``results/`` (all of ``results/demo/`` for ``results/demo/x.json``), or the named
    file's own folder elsewhere; none if the path names nothing."""
    if not path.exists():
        return []
    parts = path.relative_to(ROOT).parts
    scope = ROOT.joinpath(*parts[:2]) if parts[0] == "results" else path.parent
    return [p for p in sources() if p.is_relative_to(scope)]


def paragraphs(text: str) -> list[str]:
    """Prose blocks: no include blocks (copied from results or generated) or code."""
    text = re.sub(r"```.*?```", "", INCLUDE.sub("", text), flags=re.DOTALL)
    return re.split(r"\n\s*\n", text)


def unsourced(page: str, text: str | None = None) -> list[str]:
    """Each decimal ``page`` (or ``text`` under its name) quotes that no results file
    holds. A paragraph that names results files must quote their suite's files;
    another, a number as some results file writes it."""
    out = []
    for block in paragraphs((ROOT / page).read_text() if text is None else text):
        named = {f for p in SOURCE.findall(block) for f in suite_of(ROOT / p)}
        prose = re.sub(r"\]\([^)]*\)", "]", re.sub(r"`[^`\n]*`", "", block))
        prose = re.sub(r"section \d+\.\d+", "", prose)  # the paper's section numbers
        for quoted in DECIMAL.findall(prose):
            if (page, quoted) in NOT_RESULTS or (page, quoted) in UNSOURCED:
                continue
            ok = any(holds(p, quoted) for p in named) if named else quoted in written_anywhere()
            if not ok:
                where = ", ".join(sorted(p.relative_to(ROOT).as_posix() for p in named))
                out.append(f"{page}: {quoted}" + (f" (not in {where})" if where else ""))
    return out


def test_pages_quote_only_numbers_a_results_file_holds():
    assert [bad for page in PAGES for bad in unsourced(page)] == []


def test_the_check_finds_a_number_typed_by_hand():
    page = (
        "*The agent scores 0.0103 (in `results/demo/mnist_scores.json`).*\n\n"
        "A number no results file writes: 0.123456.\n"
    )
    scores = "results/demo/mnist_scores.json"
    found = unsourced("docs/new.md", page)
    assert found[0] == f"docs/new.md: 0.0103 (not in {scores})"
    assert len(found) == 2 and found[1].endswith(": 0.123456")
    assert holds(ROOT / scores, "0.0094") and not holds(ROOT / scores, "0.0103")


def readme_section() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("## Headline results")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    return lines[start:end]


def test_the_readme_results_section_fits_on_one_screen():
    section = readme_section()
    assert len(section) <= 25
    assert any(line.startswith("| claim | verdict |") for line in section)
    for line in section:
        cells = line.strip("|").split(" | ") if line.startswith("|") else [line]
        for cell in cells:
            for sentence in re.split(r"(?<=[.!?])\s+", cell):
                assert len(sentence.split()) <= 40, sentence


def test_the_readme_table_links_to_headings_of_docs_benchmarks():
    links = re.findall(r"\]\(docs/benchmarks\.md#([^)]+)\)", "\n".join(readme_section()))
    assert len(links) >= len(claims.ROWS)
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    anchors = {claims.anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
    assert set(links) <= anchors
