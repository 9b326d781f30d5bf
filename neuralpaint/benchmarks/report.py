"""Copy committed results into the README, so no number there is typed by hand.

The README marks each included file::

    <!-- include: results/throughput/throughput.md -->
    ...replaced by the file's body...
    <!-- end include -->

``neuralpaint bench report`` replaces everything between each pair with the named
file's content, without its top-level title, and with image links rewritten relative
to the README.
"""

from __future__ import annotations

import re
from pathlib import Path

from neuralpaint.io import write_text

INCLUDE = re.compile(
    r"(<!-- include: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.DOTALL
)


def body_of(path: Path, folder: str) -> str:
    """A results file without its ``# title`` line, its other headings two levels down,
    and image links made relative to the README by prefixing ``folder`` (the file's
    folder as the README names it)."""
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    # Section headings of the file sit below the README's own section headings.
    lines = ["##" + line if re.match(r"#+ ", line) else line for line in lines]
    text = "\n".join(lines).strip() + "\n"
    return re.sub(r"!\[([^\]]*)\]\((?!http|/)([^)]+)\)", rf"![\1]({folder}/\2)", text)


def update_readme(readme: str | Path = "README.md", root: str | Path = ".") -> list[str]:
    """Refresh every include block; returns the included paths.

    Raises:
        FileNotFoundError: naming the results file an include block points at.
    """
    readme, root = Path(readme), Path(root)
    text = readme.read_text()
    included = []

    def replace(match: re.Match) -> str:
        path = root / match.group("path")
        if not path.is_file():
            raise FileNotFoundError(
                f"README includes {match.group('path')}, which does not exist; run the "
                "benchmark that writes it first"
            )
        included.append(match.group("path"))
        folder = Path(match.group("path")).parent.as_posix()
        return match.group(1) + body_of(path, folder) + match.group(4)

    write_text(readme, INCLUDE.sub(replace, text))
    return included
