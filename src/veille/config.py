"""Settings, read from the environment (prefix ``VEILLE_``) or a ``.env`` file.

Every setting is documented in the README; ``tests/test_docs.py`` checks that.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration of one Veille installation."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("./veille-data"),
        description="Folder for the SQLite database, the hash index and generated outputs.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; default: a SQLite file veille.db in data_dir.",
    )
    index_dir: Path | None = Field(
        default=None,
        description="Folder of the persisted perceptual-hash index; default: data_dir/index.",
    )
    user: str | None = Field(
        default=None,
        description="Name recorded in the audit log for CLI actions; default: the OS user.",
    )

    def resolved_database_url(self) -> str:
        """The database URL to use, with the SQLite default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'veille.db').resolve()}"

    def resolved_index_dir(self) -> Path:
        """Where the perceptual-hash index lives."""
        return self.index_dir if self.index_dir is not None else self.data_dir / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
