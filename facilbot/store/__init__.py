"""Persistence: models, Alembic migrations, and small repository functions per concept.

Repository functions take an ``AsyncConnection`` inside a transaction the caller opened
(``async with engine.begin() as connection``), so several of them can share one transaction.
"""
