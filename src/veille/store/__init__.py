"""Storage: the SQLAlchemy models, Alembic migrations, engines and sessions.

The same models and queries run on the embedded SQLite default and on PostgreSQL.
"""

from __future__ import annotations

from veille.store.db import Database, open_database

__all__ = ["Database", "open_database"]
