"""Parcel I/O: GeoJSON Feature bodies in, GeoJSON out (documented here for OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.features.schemas import WritableMembers
from app.parcels.rules import Override

LandUse = Literal["industrial", "rnd", "office", "commercial", "other"]
Status = Literal["planned", "supplied", "under_construction", "operating", "rectification", "exiting", "recovered"]
Tier = Literal["base", "community", "fragment"]
LegacyZone = Literal["104", "195", "198"]
CapSource = Literal["default", "zone", "reference"]

# Derived members a client may send back unchanged (a GET body round-tripped); they are ignored.
READ_ONLY = frozenset({
    "district_code", "tier", "zone_id", "planning_locked", "area_m2", "plot_ratio_cap",
    "plot_ratio_cap_source", "version", "valid_from", "valid_to", "id",
})


class OverrideIn(BaseModel):
    """Rule 1: a bureau decision lifting the planning lock for this write."""

    model_config = ConfigDict(extra="forbid")

    decision_ref: str = Field(min_length=1, max_length=200, description="The municipal decision")
    reason: str = Field(min_length=1, max_length=2000)

    def to_rule(self) -> Override:
        """As the rules see it."""
        return Override(decision_ref=self.decision_ref, reason=self.reason)


class _Props(WritableMembers):
    read_only = READ_ONLY


class ParcelPropertiesIn(_Props):
    """Writable properties of a new parcel."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[\w.\-/]+$")
    land_use: LandUse
    plot_ratio: float | None = Field(None, gt=0, lt=100)
    plot_ratio_reference_id: int | None = Field(None, ge=1, le=2**62)
    legacy_zone: LegacyZone | None = None
    status: Status = "planned"


class ParcelPropertiesPatch(_Props):
    """Writable properties of a parcel change; only members present are changed (null clears)."""

    code: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[\w.\-/]+$")
    land_use: LandUse | None = None
    plot_ratio: float | None = Field(None, gt=0, lt=100)
    plot_ratio_reference_id: int | None = Field(None, ge=1, le=2**62)
    legacy_zone: LegacyZone | None = None
    status: Status | None = None
    status_on: date | None = Field(None, description="The date of a district's life-cycle step that `status` "
                                   "records: the construction start (under_construction) or the start of "
                                   "operation (operating); kept in the audit log")


class GeometryIn(BaseModel):
    """A GeoJSON Polygon or MultiPolygon in the CRS named by the Content-Crs header (x/y order)."""

    model_config = ConfigDict(extra="allow")

    type: str
    coordinates: Any


class ParcelCreate(BaseModel):
    """POST /parcels body: a GeoJSON Feature."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["Feature"]
    geometry: GeometryIn
    properties: ParcelPropertiesIn
    override: OverrideIn | None = None


class ParcelPatch(BaseModel):
    """PATCH /parcels/{id} body: a GeoJSON Feature carrying only what changes."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["Feature"] = "Feature"
    geometry: GeometryIn | None = None
    properties: ParcelPropertiesPatch = Field(default_factory=lambda: ParcelPropertiesPatch())
    override: OverrideIn | None = None


class ParcelDelete(BaseModel):
    """DELETE /parcels/{id} body (optional): the override a locked parcel needs."""

    model_config = ConfigDict(extra="forbid")

    override: OverrideIn | None = None


# ---- output, for the OpenAPI document (responses are built as text by PostGIS) ----------------------
class ParcelProperties(BaseModel):
    """Every SPEC §5 parcel property."""

    code: str
    land_use: LandUse
    plot_ratio: float | None
    plot_ratio_reference_id: int | None
    legacy_zone: LegacyZone | None
    status: Status
    district_code: str | None
    tier: Tier | None
    zone_id: int | None
    planning_locked: bool
    area_m2: float
    plot_ratio_cap: float | None
    plot_ratio_cap_source: CapSource | None
    version: int
    valid_from: datetime
    valid_to: datetime | None


class Geometry(BaseModel):
    """GeoJSON MultiPolygon."""

    type: Literal["MultiPolygon"]
    coordinates: list[list[list[list[float]]]]


class ParcelFeature(BaseModel):
    """A parcel as a GeoJSON Feature."""

    type: Literal["Feature"]
    id: int
    geometry: Geometry
    properties: ParcelProperties


class Link(BaseModel):
    """A paging link."""

    href: str
    rel: str
    type: str | None = None


class ParcelCollection(BaseModel):
    """A page of parcels."""

    type: Literal["FeatureCollection"]
    numberMatched: int | None = None
    numberReturned: int
    features: list[ParcelFeature]
    links: list[Link]
