"""SQLAlchemy 2 tables, one module per aggregate. Tables only: no rules, no API schemas."""

from models.audit import AuditLog
from models.base import Base, metadata
from models.district import District
from models.import_job import ImportJob
from models.meta import CollectionVersion
from models.parcel import Parcel
from models.plot_ratio_request import PlotRatioRequest
from models.user import AppUser
from models.zone import Zone

__all__ = [
    "AppUser", "AuditLog", "Base", "CollectionVersion", "District", "ImportJob", "Parcel", "PlotRatioRequest", "Zone",
    "metadata",
]
