"""OWS exceptions: what `/wfs` answers when a request cannot be served (OGC 06-121r3 §8, 09-025 §7.5).

A protocol problem is a `WfsError` (code, locator, HTTP status); a domain refusal (`DomainError`) is
rendered with its SPEC code first in the text, so QGIS and people read the rule and its numbers.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from starlette.responses import Response

from app.errors import DomainError

OWS11 = "http://www.opengis.net/ows/1.1"
OWS10 = "http://www.opengis.net/ows"
XML = "text/xml; charset=utf-8"

# OGC 09-025r2 table D.2 / OWS Common 2.0 table 28: HTTP status per exception code.
_STATUS = {
    "MissingParameterValue": 400,
    "InvalidParameterValue": 400,
    "VersionNegotiationFailed": 400,
    "InvalidUpdateSequence": 400,
    "OperationParsingFailed": 400,
    "InvalidValue": 400,
    "OptionNotSupported": 400,
    "OperationNotSupported": 400,
    "NotFound": 404,
    "NoApplicableCode": 500,
    "OperationProcessingFailed": 500,
}


class WfsError(Exception):
    """A request /wfs cannot serve: an OWS exceptionCode, the offending parameter, a message."""

    def __init__(
        self, code: str, message: str, locator: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.locator = locator
        self.status = status if status is not None else _STATUS.get(code, 400)


def missing(name: str) -> WfsError:
    """MissingParameterValue for a required KVP parameter or XML attribute."""
    return WfsError("MissingParameterValue", f"parameter {name} is required", name)


def invalid(name: str, message: str) -> WfsError:
    """InvalidParameterValue for a parameter whose value we cannot use."""
    return WfsError("InvalidParameterValue", message, name)


def domain_text(error: DomainError) -> str:
    """`CODE: detail` — the SPEC code first, then the rule's sentence with its numbers."""
    return f"{error.code}: {error.detail}"


def exception_report(
    code: str,
    text: str,
    locator: str | None,
    version: str,
    status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    """An exception report in the dialect of the request's version (2.0: OWS 1.1, 1.1: OWS 1.0,
    1.0: the OGC ServiceExceptionReport)."""
    loc = f" locator={quoteattr(locator)}" if locator else ""
    if version == "1.0.0":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ServiceExceptionReport version="1.2.0" xmlns="http://www.opengis.net/ogc">'
            f"<ServiceException code={quoteattr(code)}{loc}>{escape(text)}</ServiceException>"
            "</ServiceExceptionReport>"
        )
    else:
        ns, ver = (OWS11, "2.0.0") if version == "2.0.0" else (OWS10, "1.0.0")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ows:ExceptionReport xmlns:ows="{ns}" version="{ver}" xml:lang="en">'
            f"<ows:Exception exceptionCode={quoteattr(code)}{loc}>"
            f"<ows:ExceptionText>{escape(text)}</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"
        )
    return Response(body.encode(), status_code=status, media_type=XML, headers=headers)


def render_wfs_error(error: WfsError, version: str) -> Response:
    """The report of a protocol problem."""
    return exception_report(error.code, error.message, error.locator, version, error.status)


def render_domain_error(error: DomainError, version: str, *, in_transaction: bool = False) -> Response:
    """A domain refusal. In a Transaction it is HTTP 200 + OperationProcessingFailed: QGIS shows the text
    of an ExceptionReport in its save dialog only then (QGIS 3 behaviour). Elsewhere the error's
    own OWS code and status. Authentication keeps 401 so that clients ask for credentials, and 429/5xx
    keep their status so that clients wait and retry."""
    headers: dict[str, str] = {}
    if "retry_after" in error.numbers:  # 429/503: when to come back (RFC 9110 §10.2.3)
        headers["Retry-After"] = str(error.numbers["retry_after"])
    if error.status == 401:
        status, code = 401, "NoApplicableCode"
        headers["WWW-Authenticate"] = 'Basic realm="Landcycle"'
    elif error.status >= 500 or error.status == 429:  # come back later, whatever the operation
        status, code = error.status, "NoApplicableCode"
    elif in_transaction:
        status, code = 200, "OperationProcessingFailed"
    else:
        code = error.ows_code if error.ows_code != "OperationProcessingFailed" else "InvalidParameterValue"
        status = _STATUS.get(code, 400)
    locator = error.locator or error.code
    return exception_report(code, domain_text(error), locator, version, status, headers)
