"""``python -m matcalc``: the command line (the same as the ``matcalc`` script)."""

import sys

from .cli import main

sys.exit(main())
