"""Alembic environment: migrations always run on the engine Veille hands over."""

from __future__ import annotations

from alembic import context

from veille.store import all_models

target_metadata = all_models.metadata


def run_migrations() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
