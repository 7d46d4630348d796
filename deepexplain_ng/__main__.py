"""``python -m deepexplain_ng``: the command line (see :mod:`deepexplain_ng.cli`)."""
import sys

from .cli import main

sys.exit(main())
