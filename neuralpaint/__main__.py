"""``python -m neuralpaint``: the ``neuralpaint`` command."""

import sys

from neuralpaint.cli import main

sys.exit(main())
