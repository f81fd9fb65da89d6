"""Settings of the media capability (environment variables, prefix ``VEILLE_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediaSettings(BaseSettings):
    """Thresholds used by hashing, clustering and the viral flag."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_", env_file=".env", extra="ignore")

    pdq_quality_floor: int = Field(
        default=50, ge=0, le=100,
        description="PDQ hashes below this quality are kept but not used for matching.",
    )  # fmt: skip
    cluster_threshold_bits: int = Field(
        default=31, ge=0, le=47,
        description="Two reported images within this many bits belong to one content cluster.",
    )  # fmt: skip
    viral_min_reporters: int = Field(
        default=5, ge=2,
        description="A cluster is viral when at least this many distinct reporters sent it ...",
    )  # fmt: skip
    viral_window_hours: float = Field(
        default=72.0, gt=0,
        description="... within a window of this many hours.",
    )  # fmt: skip
