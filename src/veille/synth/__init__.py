"""The synthetic scenario generator: a benign, reproducible world to run Veille on.

``generate_scenario`` writes agencies, reports, hash lists, benign images,
take-down notices, database usage, questionnaires, travel notices, school
incidents and ``truth.json`` (every planted effect and link) from one seed.
"""

from __future__ import annotations
