"""``python -m rehab`` runs the command line."""

import sys

from rehab.cli import main

sys.exit(main())
