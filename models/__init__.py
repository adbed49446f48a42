"""SQLAlchemy 2 tables, one module per aggregate. Tables only: no rules, no API schemas."""

from models.audit import AuditLog
from models.base import Base, metadata
from models.contract import Contract, ContractIndicator
from models.district import District
from models.enterprise import Enterprise
from models.evaluation import Evaluation
from models.exit_case import ExitCase
from models.import_job import ImportJob
from models.measurement import Measurement, MeasurementBatch
from models.meta import CollectionVersion
from models.organisation import Organisation
from models.parcel import Parcel
from models.plot_ratio_request import PlotRatioRequest
from models.rating import Rating, RatingRun
from models.user import AppUser
from models.zone import Zone

__all__ = [
    "AppUser", "AuditLog", "Base", "CollectionVersion", "Contract", "ContractIndicator", "District",
    "Enterprise", "Evaluation", "ExitCase", "ImportJob", "Measurement", "MeasurementBatch", "Organisation",
    "Parcel", "PlotRatioRequest", "Rating", "RatingRun", "Zone", "metadata",
]
