"""The CLI's common options (they live in :mod:`veille.core.cli_options`)."""

from veille.core.cli_options import AllOption as AllOption
from veille.core.cli_options import AsOption as AsOption
from veille.core.cli_options import JsonOption as JsonOption
from veille.core.cli_options import agency_viewer as agency_viewer
from veille.core.cli_options import read_as_viewer as read_as_viewer
from veille.core.cli_options import tidy_help_types as tidy_help_types
