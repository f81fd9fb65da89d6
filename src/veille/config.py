"""Settings, read from the environment (prefix ``VEILLE_``) or a ``.env`` file.

Every setting is documented in the README; ``tests/test_docs.py`` checks that.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingError(ValueError):
    """A setting holds a value Veille cannot use; the message names the setting."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting


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
    serve_keep_alive_s: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="veille serve: seconds an idle keep-alive connection stays open.",
    )
    serve_shutdown_grace_s: int = Field(
        default=3,
        ge=0,
        le=600,
        description="veille serve: seconds requests in flight get to finish after Ctrl-C.",
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

    def ensure_data_dir(self) -> Path:
        """Create the data folder if needed; a folder that cannot be made names the setting."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SettingError(
                "VEILLE_DATA_DIR",
                f"cannot create the data folder {str(self.data_dir)!r}: {error.strerror or error}",
            ) from error
        return self.data_dir

    def resolved_index_dir(self) -> Path:
        """Where the perceptual-hash index lives."""
        return self.index_dir if self.index_dir is not None else self.data_dir / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
