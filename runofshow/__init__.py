"""The run-of-show format: parse, validate, lint and plan. Pure: no web, database or platform."""
