"""The life cycle of an ESP report: submit, upload, fileinfo, finish, retract, expire.

This module is the door the ``/ispws`` routes and the CLI call; each call
lives in a module of its own:

- :mod:`~veille.intake.esp.lifecycle`: ``submit`` opens a submission,
  ``retract`` and ``expire`` discard it with its files;
- :mod:`~veille.intake.esp.files`: ``upload`` attaches a spooled file,
  ``fileinfo`` describes it;
- :mod:`~veille.intake.esp.finish`: ``finish`` makes the submission a
  Veille report and queues its files for the media worker;
- :mod:`~veille.intake.esp.claims`: the claim every call starts with;
- :mod:`~veille.intake.esp.record`: the report a submission becomes, and
  its checks; :mod:`~veille.intake.esp.audit`: each call's audit event;
  :mod:`~veille.intake.esp.errors`: the refusals.

An open submission is kept in ``intake_esp_report``; it becomes a Veille
report only on ``finish``. An unfinished one expires (deleted with its files)
24 hours after it was opened or 1 hour after its last change, whichever is
later. A finished report cannot change; a retracted one is discarded.
Every function takes the agency the credentials belong to, and a report of
another agency is answered exactly like one that does not exist.

A provider sends six calls per report, so per-call overhead decides the
throughput. On SQLite a call is one transaction of a few SQLAlchemy Core
statements. On PostgreSQL, where every statement is a round trip to the
server, ``submit``, ``upload`` and ``fileinfo`` are each a single statement
(the claim and the write joined by a ``WITH`` clause, committed on its own),
and ``finish`` is a transaction of five statements. Those calls are written
once, as plans (:mod:`veille.store.raw`): ``submit_report`` and the others
run them in a thread; the web server runs the same plans on asynchronous
connections (``submit_plan`` and the others).
"""

from __future__ import annotations

# Names, not wrappers: the routes' ``service.submit_plan`` is the function itself,
# so the hot path gains no call.
from veille.intake.esp.errors import EspError, parse_report_id
from veille.intake.esp.files import add_file_details, add_upload, file_details_plan, upload_plan
from veille.intake.esp.finish import Finished, finish_plan, finish_report
from veille.intake.esp.lifecycle import (
    expire_reports,
    retract_report,
    submit_plan,
    submit_report,
)

__all__ = [
    "EspError",
    "Finished",
    "add_file_details",
    "add_upload",
    "expire_reports",
    "file_details_plan",
    "finish_plan",
    "finish_report",
    "parse_report_id",
    "retract_report",
    "submit_plan",
    "submit_report",
    "upload_plan",
]
