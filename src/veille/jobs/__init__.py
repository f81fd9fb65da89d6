"""The job system's commands: ``veille worker`` runs a consumer, ``veille jobs`` shows the work.

The job system itself is :mod:`veille.core.jobs`; the tasks it runs are the
flow's steps (:mod:`veille.flow`) and those capabilities declare in a
``tasks`` module.
"""
