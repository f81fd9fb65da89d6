"""Threat and trend analytics: what changed, where, how sure we are.

Report counts are kept in rollup tables as reports arrive (the flow's
``rollup`` step), so that series, period comparisons and change checks read
small aggregates in SQL instead of the report table. Counts obey markings:
an agency's series count only the reports it may see.
"""
