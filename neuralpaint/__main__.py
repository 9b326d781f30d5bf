"""``python -m neuralpaint``: the ``neuralpaint`` command, also under ``torchrun -m``."""

import sys

from neuralpaint.cli import main

sys.exit(main())
