"""Casework: take-down notices, the travel watch, questionnaires and school incidents.

Public doors for other capabilities: :func:`veille.casework.notices.notice_rows`
(take-down notices, for provider statistics) and
:func:`veille.casework.survey.survey_answers` (questionnaire answers, for
aggregation). The travel watch lives in :mod:`veille.casework.travel`, listed
as its own entry of ``CAPABILITIES`` so that its parts are found the same way.
"""
