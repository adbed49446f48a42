"""Errors raised by the spatial building blocks; the application maps them to SPEC codes."""


class CrsError(ValueError):
    """A CRS we cannot name or do not offer (the app answers CRS_UNSUPPORTED)."""


class GeometryError(ValueError):
    """A geometry we refuse, with the reason in the message (the app answers GEOMETRY_INVALID)."""


class VectorFileError(ValueError):
    """A vector file we cannot open, read or write, with what to do about it (the app answers
    VALIDATION_ERROR)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 300 characters): what a user is told of it."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
