"""Casework: take-down notices, school incidents and questionnaires (travel watch beside them).

Public doors for other capabilities: :func:`veille.casework.notices.notice_rows`
(take-down notices, for provider statistics) and
:func:`veille.casework.survey.survey_answers` (questionnaire answers, for
aggregation).
"""
