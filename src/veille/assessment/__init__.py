"""The threat assessment: a report in French or English, HTML and PDF, computed from the data."""
