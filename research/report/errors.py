"""Errors in what the user asked the report for: one line on stderr, exit code 2."""


class ReportError(ValueError):
    """Bad input (no runs, unknown metric, missing study): says what is wrong, what is allowed."""
