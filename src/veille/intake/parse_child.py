"""Second process of a parallel bulk import: parses and validates, the parent writes.

Started by :func:`veille.intake.importer.import_reports`; not a command for users.
"""

from __future__ import annotations

import sys

from veille.intake.importer import parse_in_child

if __name__ == "__main__":
    parse_in_child(sys.stdin.buffer, sys.stdout.buffer)
