"""The app's state as one typed object: what `create_app` builds once and every request shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.datastructures import State

from app.auth.service import Authenticator
from app.features.versions import CountCache
from app.imports.jobs import JobRunner
from app.tiles.service import TileCache

if TYPE_CHECKING:
    from app.db import Database
    from app.settings import Settings
    from app.wfs.capabilities import BoundsCache


class AppState(State):
    """Settings, database, authenticator, the import runner and the per-process caches; it is the app's
    `app.state` (Starlette's attribute bag, typed), read through `app.deps.app_state(request)`."""

    settings: Settings
    db: Database
    authenticator: Authenticator
    import_jobs: JobRunner
    # Caches keyed by collection versions, which every write bumps: counts, the WFS types' bounds, tiles.
    counts: CountCache
    wfs_bounds: BoundsCache
    tile_cache: TileCache

    def __init__(self, settings: Settings, db: Database) -> None:
        super().__init__()
        self.import_jobs = JobRunner()
        self.bind(settings, db)

    def bind(self, settings: Settings, db: Database) -> None:
        """Serve from these settings and this database, with a fresh authenticator and empty caches (tests
        bind each test's rolled-back transaction, which hands the same collection versions to the next)."""
        self.settings, self.db = settings, db
        self.authenticator = Authenticator(settings, db)
        self.counts = CountCache()
        self.wfs_bounds = {}
        self.tile_cache = TileCache(settings.tile_cache_mb * 1024 * 1024)
