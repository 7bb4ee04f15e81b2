"""Persistence: models, Alembic migrations, and small repository functions per concept.

Repository functions take an ``AsyncConnection`` inside a transaction the caller opened
(``async with engine.begin() as connection``), so several can share one transaction; use
``db.reading(engine)`` for read-only work (on SQLite it does not queue behind writers).

- ``db``: ``create_engine``, ``open_database`` (lock + migrate), ``reading``, ``db_now``
- ``migrate``: ``upgrade`` (the one path: ``facilbot migrate``, ``serve``, tests)
- ``shows``, ``sessions``, ``controls``, ``leases``, ``firings``, ``events``,
  ``participants``, ``activity`` (chat, poll answers, commitments), ``tokens``
"""
