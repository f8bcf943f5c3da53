"""`python -m edgecc` is the `edgecc` command."""
import sys

from .cli import main

sys.exit(main())
