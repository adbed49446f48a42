"""Settings from the environment (`DATABASE_URL`, `LANDCYCLE_*`); defaults are SPEC.md's numbers."""

from __future__ import annotations

import os
import secrets
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

from pydantic import AliasChoices, Field, create_model, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.auth.keys import InsecureKey, checked_key
from app.policy import Policy, settable
from app.ratings import rules as ratings
from gis.guard import ZipLimits


def _local_url() -> str:
    return f"postgresql://landcycle@127.0.0.1:{os.environ.get('LANDCYCLE_PG_PORT', '55432')}/landcycle"


def _policy_fields() -> dict[str, Any]:
    """One setting per settable Policy field (one per member of a tuple, e.g. the extent's four), with the
    Policy's type, default and bounds: each rule number is written once, in app/policy.py."""
    hints = get_type_hints(Policy)
    out: dict[str, Any] = {}
    for f, how in settable():
        default: Any = f.default
        names, types, defaults = ((how.names, get_args(hints[f.name]), default) if how.names
                                  else ((f.name,), (hints[f.name],), (default,)))
        for name, kind, value in zip(names, types, defaults, strict=True):
            out[name] = (kind, Field(default=value, ge=how.ge, gt=how.gt, le=how.le, lt=how.lt))
    return out


if TYPE_CHECKING:  # the fields are made at run time; code reads them through `Settings.policy`
    _PolicySettings = BaseSettings
else:
    _PolicySettings = create_model("_PolicySettings", __base__=BaseSettings, **_policy_fields())


class Settings(_PolicySettings):
    """Everything configurable; built once by `create_app` or the CLI, never at import time."""

    model_config = SettingsConfigDict(env_prefix="LANDCYCLE_", extra="ignore", frozen=True)

    # Default: the project's own cluster (scripts/localdb.sh), on LANDCYCLE_PG_PORT when set.
    database_url: str = Field(
        default_factory=lambda: _local_url(),
        validation_alias=AliasChoices("DATABASE_URL", "LANDCYCLE_DATABASE_URL"),
    )
    # Hot standbys for reads (docs/DEPLOYMENT.md): comma-separated postgresql:// URLs, none by default. Reads
    # (GETs, WFS GetFeature, OGC items, tiles, exports) go to a healthy standby; every write and every read
    # inside a write to DATABASE_URL. A standby is checked every `replica_check_seconds`, skipped while it
    # lags more than `replica_max_lag_seconds` or is down; a user who wrote in the last
    # `replica_ryw_seconds` reads from a standby only once it has replayed that write (read-your-writes).
    database_replica_urls: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_REPLICA_URLS", "LANDCYCLE_DATABASE_REPLICA_URLS"))
    replica_max_lag_seconds: float = Field(default=5.0, gt=0)
    replica_ryw_seconds: float = Field(default=60.0, gt=0)
    replica_check_seconds: float = Field(default=1.0, gt=0)
    db_pool_size: int = 10
    db_statement_timeout_ms: int = 30_000
    # A request waits this long for a pooled connection, then answers 503 with Retry-After.
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # A session left idle inside a transaction (a stalled stream, a crashed client) is ended by the server.
    db_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=1000)
    # A streamed response whose client accepts no bytes for this long is dropped, freeing its connection.
    stream_send_timeout_seconds: float = Field(default=30.0, gt=0)

    # Tokens are signed with this key (32+ bytes, not a placeholder: app/auth/keys.py); without one,
    # `secret_key_file` is read, else a random key is made per process (tokens then die with the process;
    # `landcycle serve --workers N` makes one for all its workers).
    secret_key: str | None = None
    secret_key_file: Path | None = None
    token_ttl_seconds: int = 3600
    public_read: bool = False
    # Failed logins allowed in a 15-minute window per user name and client address, and per address
    # whatever the names (made-up names do not dodge it).
    login_failures_allowed: int = 10
    login_failures_per_address: int = Field(default=50, ge=1)
    # Password hashing (argon2) runs in this many threads beside the event loop; logins beyond the
    # queue answer 503 with Retry-After instead of piling up.
    auth_hash_workers: int = Field(default=2, ge=1)
    auth_hash_queue: int = Field(default=64, ge=1)

    public_url: str | None = None
    # The web page's files (index.html, scripts, web/vendor/ filled at set-up); default: the checkout's web/.
    web_dir: Path = Field(default_factory=lambda: _default_web_dir())
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # `landcycle serve`: connections served at once (beyond: 503), seconds an idle keep-alive connection
    # is kept, and seconds a client has to send a request's headers (slowloris).
    serve_limit_concurrency: int = Field(default=1000, ge=1)
    serve_keep_alive_seconds: float = Field(default=5.0, gt=0)
    serve_header_timeout_seconds: float = Field(default=10.0, gt=0)
    log_level: str = "info"
    log_json: bool = True
    # FastAPI's native OpenTelemetry (traces, metrics, logs to a configured provider). Off unless asked:
    # when on, it looks up the OTel providers in the environment on every request (bench/RESULTS.md "REST API").
    otel: bool = False

    # Resource bounds at the HTTP edge (app/limits.py); POST /imports takes files up to import_max_mb.
    max_body_bytes: int = 10 * 1024 * 1024
    body_timeout_seconds: float = 30.0
    max_bbox_degrees: float = 5.0
    # Uploads to POST /imports per role: the bureau's and admins' (whole-city files), district officers'.
    import_max_mb: int = Field(default=1024, ge=1)
    import_max_mb_district: int = Field(default=256, ge=1)
    # Import jobs queued or running at once, per user and in all; a further POST /imports answers 429.
    import_jobs_per_user: int = Field(default=2, ge=1)
    import_jobs_total: int = Field(default=4, ge=1)
    # A zip an import reads (a zipped Shapefile or geodatabase; an .xlsx or .ods is one too) is refused
    # before anything is inflated when it has more members, would unpack to more, or a member of over
    # 1 MiB is compressed more than this ratio (a zip bomb).
    import_zip_max_members: int = Field(default=10_000, ge=1)
    import_zip_max_uncompressed_mb: int = Field(default=2048, ge=1)
    import_zip_max_ratio: float = Field(default=100.0, gt=1)
    # ResourceId / FeatureId / RESOURCEID values one WFS request may name.
    wfs_max_resource_ids: int = Field(default=10_000, ge=1)

    default_limit: int = 100
    max_limit: int = 10_000
    # Vector tiles (app/tiles): the in-process cache of tile bytes, per worker, in MB (0: no cache).
    tile_cache_mb: int = Field(default=64, ge=0)

    # The rule numbers (SPEC §2–§3, §5) are the settable fields of app/policy.py's Policy, with its defaults
    # and bounds, by their own names (LANDCYCLE_FAR_CAP_INDUSTRIAL, LANDCYCLE_EXTENT_MIN_LON …): see
    # `_PolicySettings`; `policy` hands them to the rules as one value.
    # The date the service takes as today (default: the current date in Shanghai); demos and tests.
    today: date | None = None

    @field_validator("database_url")
    @classmethod
    def _plain_url(cls, value: str) -> str:
        return value.strip()

    @cached_property
    def async_database_url(self) -> str:
        """The URL with the asyncpg driver, whatever scheme the operator wrote."""
        url = self.database_url
        for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql+psycopg2://",
                       "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix):]
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {url.split(':', 1)[0]}://…")

    @cached_property
    def replica_urls(self) -> tuple[str, ...]:
        """The standbys' URLs (plain postgresql://, for asyncpg), in the order given."""
        out = []
        for part in self.database_replica_urls.replace(",", " ").split():
            for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
                if part.startswith(prefix):
                    part = "postgresql://" + part[len(prefix):]
            if not part.startswith("postgresql://"):
                raise ValueError(f"DATABASE_REPLICA_URLS must be postgresql:// URLs, not {part.split(':', 1)[0]}://…")
            out.append(part)
        return tuple(out)

    @property
    def import_ceiling_mb(self) -> int:
        """The largest upload any role may send to POST /imports (the edge's limit for that path)."""
        return max(self.import_max_mb, self.import_max_mb_district)

    @property
    def zip_limits(self) -> ZipLimits:
        """What a zip an import reads may hold (gis.guard)."""
        return ZipLimits(
            members=self.import_zip_max_members,
            uncompressed_bytes=self.import_zip_max_uncompressed_mb * 1024 * 1024,
            ratio=self.import_zip_max_ratio,
        )

    def import_max_mb_for(self, role: str) -> int:
        """The upload limit of a role: district officers send their district's parcels, others the city's."""
        return self.import_max_mb_district if role == "district_officer" else self.import_max_mb

    @cached_property
    def signing_key(self) -> bytes:
        """The token signing key (see `secret_key`); InsecureKey for one shorter than 32 bytes, a known
        placeholder, or a configured key file that cannot be read."""
        if self.secret_key:
            return checked_key(self.secret_key.encode(), "LANDCYCLE_SECRET_KEY")
        if self.secret_key_file:
            try:
                text = self.secret_key_file.read_text()
            except OSError as exc:
                raise InsecureKey(f"LANDCYCLE_SECRET_KEY_FILE {self.secret_key_file}: {exc.strerror}") from exc
            return checked_key(text.strip().encode(), f"the key in {self.secret_key_file}")
        return secrets.token_bytes(32)

    @property
    def has_configured_key(self) -> bool:
        """Whether a key is configured; without one each process makes its own (see `secret_key`)."""
        return bool(self.secret_key or self.secret_key_file)

    @cached_property
    def policy(self) -> Policy:
        """The rule numbers as one frozen value for the pure rule functions."""
        values: dict[str, Any] = {
            f.name: tuple(getattr(self, n) for n in how.names) if how.names else getattr(self, f.name)
            for f, how in settable()}
        return Policy(today=self.today, **values)

    @model_validator(mode="after")
    def _ordered_cutoffs(self) -> Settings:
        a, b, c = self.policy.efficiency_cutoffs
        if not a < b < c:
            raise ValueError("efficiency cut-offs must rise: A < B < C (e.g. 0.20, 0.60, 0.95)")
        ratings.profile(self.policy)  # 亩均 rating weights, cut-offs, grouping and classes (ValueError)
        return self


def _default_web_dir() -> Path:
    """The checkout's (or image's) web/ folder: next to the app package in a checkout, else the working
    directory's (the Dockerfile installs the package and copies web/ beside it)."""
    beside = Path(__file__).resolve().parent.parent / "web"
    return beside if beside.is_dir() else Path.cwd() / "web"
