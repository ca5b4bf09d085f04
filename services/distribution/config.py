"""Owner download-service settings (OML_OWNER_* variables, or passed in)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OwnerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OML_OWNER_", extra="ignore")

    models_dir: Path       # holds license-<id>/ (an M.oml) per license
    deployment: Path       # deployment JSON: where LicenseManager is
    rpc_url: str | None = None  # defaults to the deployment's rpcUrl
    max_skew_s: Annotated[int, Field(ge=5, le=3600)] = 120  # signed-request clock tolerance

    @model_validator(mode="after")
    def _paths_exist(self) -> OwnerSettings:
        if not self.models_dir.is_dir():
            raise ValueError(f"models directory {self.models_dir} does not exist")
        if not self.deployment.is_file():
            raise ValueError(f"deployment file {self.deployment} does not exist")
        return self
