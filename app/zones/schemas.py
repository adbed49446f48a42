"""Zone I/O: GeoJSON Features."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.features.schemas import WritableMembers
from app.parcels.schemas import GeometryIn, Link, OverrideIn

ZoneKind = Literal["base", "community"]
READ_ONLY = frozenset({"district_code", "version", "valid_from", "valid_to", "area_m2", "id"})


class _Props(WritableMembers):
    read_only = READ_ONLY


class ZonePropertiesIn(_Props):
    """Writable properties of a new zone."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[\w.\-/]+$")
    name: str = Field(min_length=1, max_length=200)
    kind: ZoneKind
    advanced_manufacturing: bool = False
    far_cap: float | None = Field(None, gt=0, lt=100)
    far_min: float | None = Field(None, ge=0, lt=100)


class ZonePropertiesPatch(_Props):
    """Members of a zone change."""

    code: str | None = Field(None, min_length=1, max_length=32, pattern=r"^[\w.\-/]+$")
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: ZoneKind | None = None
    advanced_manufacturing: bool | None = None
    far_cap: float | None = Field(None, gt=0, lt=100)
    far_min: float | None = Field(None, ge=0, lt=100)


class ZoneCreate(BaseModel):
    """POST /zones body."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["Feature"]
    geometry: GeometryIn
    properties: ZonePropertiesIn
    override: OverrideIn | None = None


class ZonePatch(BaseModel):
    """PATCH /zones/{id} body."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["Feature"] = "Feature"
    geometry: GeometryIn | None = None
    properties: ZonePropertiesPatch = Field(default_factory=lambda: ZonePropertiesPatch())
    override: OverrideIn | None = None


class ZoneDelete(BaseModel):
    """DELETE /zones/{id} body (optional)."""

    model_config = ConfigDict(extra="forbid")

    override: OverrideIn | None = None


class ZoneProperties(BaseModel):
    """Every zone property."""

    code: str
    name: str
    kind: ZoneKind
    advanced_manufacturing: bool
    far_cap: float | None
    far_min: float | None
    district_code: str | None
    area_m2: float
    version: int
    valid_from: datetime
    valid_to: datetime | None


class ZoneFeature(BaseModel):
    """A zone as a GeoJSON Feature."""

    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any]
    properties: ZoneProperties


class ZoneCollection(BaseModel):
    """Zones."""

    type: Literal["FeatureCollection"]
    numberMatched: int | None = None
    numberReturned: int
    features: list[ZoneFeature]
    links: list[Link]
