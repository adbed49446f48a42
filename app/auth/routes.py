"""POST /auth/token (OAuth2 password form) and GET /auth/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel

from app.deps import ActorDep, app_state, client_address

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    """A bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    """The authenticated user."""

    username: str
    role: str
    district_code: str | None
    organisation_id: int | None = None
    source: str | None = None


@router.post("/token", response_model=Token, summary="Log in")
async def token(request: Request, username: Annotated[str, Form(min_length=1, max_length=64)],
                password: Annotated[str, Form(min_length=1, max_length=1024)]) -> Token:
    """Exchange a user name and password for a bearer token (SPEC §5)."""
    auth = app_state(request).authenticator
    access_token, expires_in = await auth.login(username, password, client_address(request))
    return Token(access_token=access_token, expires_in=expires_in)


@router.get("/me", response_model=Me, summary="Who am I")
async def me(actor: ActorDep) -> Me:
    """The user behind the credentials, with role and district scope."""
    return Me(username=actor.username, role=actor.role, district_code=actor.district_code,
              organisation_id=actor.organisation_id, source=actor.source)
