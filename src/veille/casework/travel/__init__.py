"""The travel watch: known offenders on a watch list, travel notices matched against it, alerts.

A watch-list entry holds a person (names and transliterations, date of
birth, nationality, document numbers), the legal basis and issuing agency,
and the day it stops being valid: an expired entry takes part in no match
and is purged (with an audit event) by a scheduled task. Travel notices are
imported (CSV, JSON Lines) or posted to the API, matched through the one
person matcher (:mod:`veille.persons`), and each match above the threshold
becomes an alert to the destination country's agency, which a reviewer
confirms or dismisses.
"""
