"""Copy committed results into the README and docs/, so no number there is typed by hand.

A page marks each included file with its path from the repository root::

    <!-- include: results/throughput/throughput.md -->
    ...replaced by the file's body...
    <!-- end include -->

or a table the package generates from its own definitions (:data:`GENERATED`), such as
``<!-- include: neuralpaint:env-table -->``.

``neuralpaint bench report --readme`` replaces everything between each pair with the
named file's content, without its top-level title, and with image links rewritten
relative to the page. Pages without include blocks are left as they are.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from neuralpaint.io import write_text

RESULTS = "results"
"""The results folder the README and docs link to, relative to the repository root."""
PAGES = ("README.md", "docs/*.md", "neuralpaint/painters/weights/README.md")
"""The pages whose include blocks are refreshed, as globs from the repository root."""


def _env_table() -> str:
    from neuralpaint.envs.registration import env_table

    return env_table()


def _painter_table() -> str:
    from neuralpaint.painters.catalog import painter_table

    return painter_table()


def _brush_table() -> str:
    from neuralpaint.painters.brushes import describe_catalogue

    return describe_catalogue()


GENERATED = {
    "neuralpaint:env-table": _env_table,
    "neuralpaint:painter-table": _painter_table,
    "neuralpaint:brush-table": _brush_table,
}
"""Include names that are generated, not read from a results file."""

INCLUDE = re.compile(
    r"(<!-- include: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.DOTALL
)


LINK = re.compile(r"(!?\[[^\]]*\])\((?!https?:|/|#|mailto:)([^)\s]+)\)")
"""A Markdown link or image with a relative target."""


def body_of(path: Path, folder: str) -> str:
    """A results file without its ``# title`` line, its other headings two levels down,
    and relative links and images made relative to the page by prefixing ``folder``
    (the file's folder as seen from the page)."""
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    # Section headings of the file sit below the page's own section headings.
    lines = ["##" + line if re.match(r"#+ ", line) else line for line in lines]
    text = "\n".join(lines).strip() + "\n"
    return LINK.sub(lambda m: f"{m[1]}({posixpath.normpath(f'{folder}/{m[2]}')})", text)


def update_page(page: str | Path, root: str | Path = ".") -> list[str]:
    """Refresh every include block of one page; returns the included paths.

    Raises:
        FileNotFoundError: naming the results file an include block points at.
    """
    page, root = Path(page), Path(root)
    text = page.read_text()
    included = []

    def replace(match: re.Match) -> str:
        if match.group("path") in GENERATED:
            included.append(match.group("path"))
            return match.group(1) + GENERATED[match.group("path")]() + match.group(4)
        path = root / match.group("path")
        if not path.is_file():
            raise FileNotFoundError(
                f"{page} includes {match.group('path')}, which does not exist; run the "
                "benchmark that writes it first"
            )
        included.append(match.group("path"))
        folder = Path(os.path.relpath(path.parent, page.parent)).as_posix()
        return match.group(1) + body_of(path, folder) + match.group(4)

    new = INCLUDE.sub(replace, text)
    if new != text:
        write_text(page, new)
    return included


def refresh_includes(root: str | Path = ".") -> dict[str, list[str]]:
    """Refresh the include blocks of the README and every ``docs/*.md`` page under
    ``root``; returns each changed-or-checked page with the files it includes."""
    root = Path(root)
    pages = sorted({p for pattern in PAGES for p in root.glob(pattern) if p.is_file()})
    done = {}
    for page in pages:
        if included := update_page(page, root):
            done[page.relative_to(root).as_posix()] = included
    return done
