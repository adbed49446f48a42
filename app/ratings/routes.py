"""HTTP for 亩均 ratings (`/api/v1/ratings`)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ratings", tags=["ratings"])
