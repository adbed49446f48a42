"""Shared pieces of the pydantic I/O models."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class WritableMembers(BaseModel):
    """Writable members of a resource: unknown ones are refused, derived (read-only) ones a client sends back
    unchanged from a GET are ignored (subclasses name them in `read_only`)."""

    model_config = ConfigDict(extra="forbid")
    read_only: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and not cls.read_only.isdisjoint(data):
            return {k: v for k, v in data.items() if k not in cls.read_only}
        return data  # nothing to drop (an import validates 100,000 of these)
