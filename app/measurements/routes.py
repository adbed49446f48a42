"""HTTP for delivered figures (`/api/v1/measurements`)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/measurements", tags=["measurements"])
