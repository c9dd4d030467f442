"""`python -m modelmesh_healthd`."""

import sys

from modelmesh_healthd.cli import main

sys.exit(main())
