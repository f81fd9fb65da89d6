"""Second process of a parallel bulk import: parses and validates, the parent writes.

Started by :func:`veille.intake.importer.import_reports`; not a command for users.
"""

from __future__ import annotations

import os
import sys

from veille.intake.import_child import parse_in_child
from veille.intake.worker import die_with_parent

if __name__ == "__main__":
    # A killed import must not leave its parser running for nobody.
    die_with_parent(os.getppid())
    parse_in_child(sys.stdin.buffer, sys.stdout.buffer)
