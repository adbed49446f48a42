"""Domain errors with their SPEC §6 codes, mapped once to problem+json (REST) and OWS exceptions (/wfs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a refused write tried to do, written to the audit log after the rollback (SPEC rule 10)."""

    entity: str
    entity_id: int | str | None
    action: str
    attempted: dict[str, Any] = field(default_factory=dict)
    # Other rows the refused attempt would have changed (a zone edit's parcels): audited against each too.
    related: tuple[tuple[str, int], ...] = ()
    # The audit row's detail when not the error's own text and numbers (a refused import: file, row counts).
    detail: dict[str, Any] | None = None


class DomainError(Exception):
    """A refusal the client can act on; `numbers` are the rule's figures (cap, requested, n …)."""

    code: str = "INTERNAL_ERROR"
    status: int = 500
    title: str = "Internal error"
    # OWS exceptionCode when raised through /wfs (OGC 09-025 table 3 / OWS 1.1 table 25).
    ows_code: str = "OperationProcessingFailed"

    def __init__(self, detail: str, *, refusal: Refusal | None = None, locator: str | None = None,
                 **numbers: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.numbers = numbers
        self.refusal = refusal
        self.locator = locator

    def with_refusal(self, refusal: Refusal) -> DomainError:
        """Attach what was attempted, so the refusal is audited."""
        self.refusal = refusal
        return self

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 body: type, title, status, detail, code, then the rule's numbers."""
        body: dict[str, Any] = {
            "type": f"urn:landcycle:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.numbers)
        return body


class GeometryInvalid(DomainError):
    """Geometry invalid (GEOMETRY_INVALID)."""

    code = "GEOMETRY_INVALID"
    status = 422
    title = "Geometry invalid"
    ows_code = "InvalidParameterValue"


class CrsUnsupported(DomainError):
    """CRS not supported (CRS_UNSUPPORTED)."""

    code = "CRS_UNSUPPORTED"
    status = 400
    title = "CRS not supported"
    ows_code = "InvalidParameterValue"


class ParcelOverlap(DomainError):
    """Parcels overlap (PARCEL_OVERLAP)."""

    code = "PARCEL_OVERLAP"
    status = 409
    title = "Parcels overlap"


class LockupPlanning(DomainError):
    """Planning lock (LOCKUP_PLANNING)."""

    code = "LOCKUP_PLANNING"
    status = 409
    title = "Planning lock"


class LockupSupply(DomainError):
    """Supply lock (LOCKUP_SUPPLY)."""

    code = "LOCKUP_SUPPLY"
    status = 409
    title = "Supply lock"


class FarCapExceeded(DomainError):
    """Plot ratio above cap (FAR_CAP_EXCEEDED)."""

    code = "FAR_CAP_EXCEEDED"
    status = 409
    title = "Plot ratio above cap"


class FarNotIncreased(DomainError):
    """Plot ratio not increased (FAR_NOT_INCREASED)."""

    code = "FAR_NOT_INCREASED"
    status = 409
    title = "Plot ratio not increased"


class AccessStandardNotMet(DomainError):
    """Industrial access standard not met (ACCESS_STANDARD_NOT_MET)."""

    code = "ACCESS_STANDARD_NOT_MET"
    status = 409
    title = "Industrial access standard not met"


class ContractConflict(DomainError):
    """Parcel already under an active contract (CONTRACT_CONFLICT)."""

    code = "CONTRACT_CONFLICT"
    status = 409
    title = "Parcel already under an active contract"


class ContractInRectification(DomainError):
    """Contract in rectification or exit (CONTRACT_IN_RECTIFICATION)."""

    code = "CONTRACT_IN_RECTIFICATION"
    status = 409
    title = "Contract in rectification or exit"


class RequestConflict(DomainError):
    """Another request is open for the parcel (REQUEST_CONFLICT)."""

    code = "REQUEST_CONFLICT"
    status = 409
    title = "Another request is open for the parcel"


class InvalidTransition(DomainError):
    """Transition not allowed (INVALID_TRANSITION)."""

    code = "INVALID_TRANSITION"
    status = 409
    title = "Transition not allowed"


class PlotRatioRequestRequired(DomainError):
    """A contracted parcel's plot ratio changes only through rule 9 (PLOT_RATIO_REQUEST_REQUIRED)."""

    code = "PLOT_RATIO_REQUEST_REQUIRED"
    status = 409
    title = "Plot-ratio request required"


class NoticePeriodNotOver(DomainError):
    """Public notice period not over (NOTICE_PERIOD_NOT_OVER)."""

    code = "NOTICE_PERIOD_NOT_OVER"
    status = 409
    title = "Public notice period not over"


class SelfApprovalForbidden(DomainError):
    """Submitter cannot decide (SELF_APPROVAL_FORBIDDEN)."""

    code = "SELF_APPROVAL_FORBIDDEN"
    status = 403
    title = "Submitter cannot decide"


class ForbiddenDistrict(DomainError):
    """Outside your district (FORBIDDEN_DISTRICT)."""

    code = "FORBIDDEN_DISTRICT"
    status = 403
    title = "Outside your district"


class ForbiddenRole(DomainError):
    """Role not allowed (FORBIDDEN_ROLE)."""

    code = "FORBIDDEN_ROLE"
    status = 403
    title = "Role not allowed"


class VersionConflict(DomainError):
    """Version conflict (VERSION_CONFLICT)."""

    code = "VERSION_CONFLICT"
    status = 412
    title = "Version conflict"


class NotFound(DomainError):
    """Not found (NOT_FOUND)."""

    code = "NOT_FOUND"
    status = 404
    title = "Not found"
    ows_code = "NotFound"


class ValidationFailed(DomainError):
    """Validation error (VALIDATION_ERROR)."""

    code = "VALIDATION_ERROR"
    status = 422
    title = "Validation error"
    ows_code = "InvalidParameterValue"


class Unauthenticated(DomainError):
    """Authentication required (UNAUTHENTICATED)."""

    code = "UNAUTHENTICATED"
    status = 401
    title = "Authentication required"


class TooManyRequests(DomainError):
    """Too many requests (TOO_MANY_REQUESTS)."""

    code = "TOO_MANY_REQUESTS"
    status = 429
    title = "Too many requests"


class PayloadTooLarge(DomainError):
    """Request body above the limit that applies to the caller (PAYLOAD_TOO_LARGE)."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413
    title = "Request body too large"
    ows_code = "OperationParsingFailed"


class ServiceUnavailable(DomainError):
    """Service unavailable (SERVICE_UNAVAILABLE)."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    title = "Service unavailable"


class HttpError(DomainError):
    """A plain HTTP failure outside the rules (405 and the like)."""

    def __init__(self, detail: str, *, status: int, code: str, title: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.title = status, code, title


ALL_ERRORS: tuple[type[DomainError], ...] = tuple(c for c in DomainError.__subclasses__() if c is not HttpError)
