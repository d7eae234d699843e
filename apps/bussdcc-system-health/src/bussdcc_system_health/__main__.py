"""`python -m bussdcc_system_health`: the same as the `bussdcc-system-health` command."""

import sys

from .cli import main

sys.exit(main())
