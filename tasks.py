"""Invoke namespace for plain `invoke`: the composition lives in scripts/namespace.py.

`jhub` (scripts/cli.py) runs the same namespace; adopting invoke's running Program
gives plain `invoke` the same command-line handling (bad options: one line, exit 2)
and installs log redaction before any task runs.
"""

from scripts.cli import adopt_running_program
from scripts.namespace import build

ns = build()
adopt_running_program()
