"""C sources compiled on first use, for the few passes torch runs far below memory speed.

Each kernel module keeps its source text as it was imported (so an edit or an upgrade
while a process runs can never pair a wrapper with another kernel) and asks
:func:`build` for the library. Builds are cached next to the datasets
(``$NEURALPAINT_DATA/kernels``), one file per source text, flags and machine type, and
written atomically. Without a C compiler, or when compiling fails, :func:`build` warns
and returns ``None``, and the caller keeps its torch path.
"""

from __future__ import annotations

import ctypes
import hashlib
import platform
import shutil
import subprocess
import warnings
from pathlib import Path

from neuralpaint.io import atomic_path
from neuralpaint.painters.dataset import default_data_root

COMPILE_FLAGS = ("-O3", "-fno-trapping-math", "-fno-math-errno", "-fPIC", "-shared", "-std=c99")
"""``-fno-trapping-math`` lets gcc vectorise loops with float operations under a
condition, and ``-fno-math-errno`` loops that take square roots; they change no
result, only the promises that such operations may trap or set ``errno``."""


class KernelCompileError(RuntimeError):
    """The C compiler refused a kernel's source."""


def library_path(name: str, text: bytes) -> Path:
    """Where the build of source ``text`` (file ``name``) is cached."""
    digest = hashlib.sha256(text + " ".join(COMPILE_FLAGS).encode()).hexdigest()
    stem = Path(name).stem
    return default_data_root() / "kernels" / f"{stem}-{digest[:12]}-{platform.machine()}.so"


def build(name: str, text: bytes, path: Path, fallback: str) -> ctypes.CDLL | None:
    """The library compiled from ``text`` at ``path`` (built unless there), or ``None``
    with a warning that names the source file ``name`` and what the caller does instead
    (``fallback``, e.g. "the dab twin keeps its torch rasteriser")."""
    if not path.exists():
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if cc is None:
            warnings.warn(
                f"no C compiler (cc, gcc or clang) found to build {name}: {fallback}; "
                "install one (apt-get install gcc) for speed",
                stacklevel=3,
            )
            return None
        try:  # an error inside the block leaves no file behind
            with atomic_path(path) as tmp, atomic_path(path.with_suffix(".c")) as source:
                source.write_bytes(text)
                done = subprocess.run(
                    [cc, *COMPILE_FLAGS, "-o", str(tmp), str(source), "-lm"],
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise KernelCompileError(done.stderr)
        except (KernelCompileError, OSError, subprocess.SubprocessError) as error:
            warnings.warn(f"compiling {name} failed, {fallback}:\n{error}", stacklevel=3)
            return None
    try:
        return ctypes.CDLL(str(path))
    except OSError as error:  # e.g. a cached build from another system on shared storage
        warnings.warn(
            f"loading {path} failed ({error}); {fallback}. Delete the file to rebuild it.",
            stacklevel=3,
        )
        return None
