"""GetCapabilities for 2.0.0, 1.1.0 and 1.0.0: public URLs, real WGS84 bounds, exact operator lists.

`ImplementsResultPaging` is exactly `TRUE` and `CountDefault` is the page cap: QGIS then downloads a
layer in pages ordered by key instead of all at once. Bounds let GDAL skip its full-layer scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.wfs.filters import COMPARISONS, SPATIAL
from app.wfs.model import GET_FEATURE_BY_ID, OUTPUT_FORMATS, VERSIONS
from app.wfs.registry import NAMESPACE, PREFIX, TYPES, FeatureType
from gis.crs import STORAGE_SRID, SUPPORTED_SRIDS, crs_urn

Bounds = tuple[float, float, float, float]
OPERATIONS = (
    "GetCapabilities",
    "DescribeFeatureType",
    "GetFeature",
    "ListStoredQueries",
    "DescribeStoredQueries",
    "Transaction",
)
BoundsCache = dict[str, tuple[tuple[int, ...], Bounds | None]]

XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


async def bounds(conn: AsyncConnection, extent: Bounds, cache: BoundsCache) -> dict[str, Bounds]:
    """WGS84 lon/lat bounds of every type's current rows (the service extent while a type is empty),
    kept in `cache` (one per app) until a write bumps one of the type's tables in collection_version."""
    versions: dict[str, int] = {
        r[0]: r[1] for r in (await conn.execute(text("SELECT name, version FROM collection_version"))).all()
    }
    out: dict[str, Bounds] = {}
    for ftype in TYPES:
        version = tuple(int(versions.get(t, 0)) for t in ftype.tables)
        cached = cache.get(ftype.name)
        if cached is None or cached[0] != version or not any(version):
            sub = ftype.select([func.ST_Extent(ftype.geom).label("e")], []).order_by(None).subquery()
            row = (
                await conn.execute(
                    select(
                        func.ST_XMin(sub.c.e),
                        func.ST_YMin(sub.c.e),
                        func.ST_XMax(sub.c.e),
                        func.ST_YMax(sub.c.e),
                    )
                )
            ).first()
            value = (
                None
                if row is None or row[0] is None
                else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
            )
            cached = (version, value)
            cache[ftype.name] = cached
        out[ftype.name] = cached[1] or extent
    return out


def _corner(x: float, y: float) -> str:
    return f"{x:.6f} {y:.6f}"


def _dcp(url: str, post: bool = True) -> str:
    get = f"<ows:Get xlink:href={quoteattr(url + '?')}/>"
    p = f"<ows:Post xlink:href={quoteattr(url)}/>" if post else ""
    return f"<ows:DCP><ows:HTTP>{get}{p}</ows:HTTP></ows:DCP>"


def _values(name: str, values: list[str] | tuple[str, ...]) -> str:
    vals = "".join(f"<ows:Value>{escape(v)}</ows:Value>" for v in values)
    return f'<ows:Parameter name="{name}"><ows:AllowedValues>{vals}</ows:AllowedValues></ows:Parameter>'


def _values10(name: str, values: list[str] | tuple[str, ...]) -> str:
    vals = "".join(f"<ows:Value>{escape(v)}</ows:Value>" for v in values)
    return f'<ows:Parameter name="{name}">{vals}</ows:Parameter>'


def _constraint(name: str, value: str, tag: str = "ows:Constraint") -> str:
    return f'<{tag} name="{name}"><ows:NoValues/><ows:DefaultValue>{value}</ows:DefaultValue></{tag}>'


def _service_identification(version: str, title: str) -> str:
    versions = "".join(f"<ows:ServiceTypeVersion>{v}</ows:ServiceTypeVersion>" for v in VERSIONS)
    if version == "1.1.0":
        versions = "<ows:ServiceTypeVersion>1.1.0</ows:ServiceTypeVersion>"
    return (
        "<ows:ServiceIdentification>"
        f"<ows:Title>{escape(title)}</ows:Title>"
        "<ows:Abstract>Industrial land of Shanghai over its full life cycle: parcels, zones and districts. "
        "Transactions (WFS-T) apply the same rules as the REST API.</ows:Abstract>"
        "<ows:Keywords><ows:Keyword>industrial land</ows:Keyword><ows:Keyword>Shanghai</ows:Keyword>"
        "</ows:Keywords>"
        f"<ows:ServiceType>WFS</ows:ServiceType>{versions}"
        "<ows:Fees>NONE</ows:Fees><ows:AccessConstraints>HTTP Basic authentication</ows:AccessConstraints>"
        "</ows:ServiceIdentification>"
        "<ows:ServiceProvider><ows:ProviderName>Landcycle</ows:ProviderName>"
        "<ows:ServiceContact><ows:IndividualName>Landcycle operators</ows:IndividualName>"
        "</ows:ServiceContact>"
        "</ows:ServiceProvider>"
    )


def _crs_list(tag_default: str, tag_other: str) -> str:
    out = f"<wfs:{tag_default}>{crs_urn(STORAGE_SRID)}</wfs:{tag_default}>"
    out += "".join(f"<wfs:{tag_other}>{crs_urn(s)}</wfs:{tag_other}>" for s in SUPPORTED_SRIDS if s != STORAGE_SRID)
    return out


def capabilities_20(url: str, box: dict[str, Bounds], count_default: int, title: str,
                    types: Sequence[FeatureType] = TYPES) -> bytes:
    """WFS 2.0.0 capabilities (OGC 09-025r2 §8)."""
    ops = []
    for op in OPERATIONS:
        params = ""
        if op == "GetCapabilities":
            params = (
                _values("AcceptVersions", VERSIONS)
                + _values("AcceptFormats", ("text/xml",))
                + _values(
                    "Sections",
                    (
                        "ServiceIdentification",
                        "ServiceProvider",
                        "OperationsMetadata",
                        "FeatureTypeList",
                        "Filter_Capabilities",
                    ),
                )
            )
        elif op == "DescribeFeatureType":
            params = _values(
                "outputFormat", ("application/gml+xml; version=3.2", "text/xml; subtype=gml/3.1.1")
            )
        elif op == "GetFeature":
            params = _values("outputFormat", OUTPUT_FORMATS["2.0.0"]) + _values(
                "resultType", ("results", "hits")
            )
        elif op == "Transaction":
            params = _values(
                "inputFormat",
                (
                    "application/gml+xml; version=3.2",
                    "text/xml; subtype=gml/3.1.1",
                    "text/xml; subtype=gml/2.1.2",
                ),
            )
        ops.append(f'<ows:Operation name="{op}">{_dcp(url)}{params}</ows:Operation>')
    constraints = "".join(
        _constraint(n, v)
        for n, v in (
            ("ImplementsBasicWFS", "TRUE"),
            ("ImplementsTransactionalWFS", "TRUE"),
            ("ImplementsLockingWFS", "FALSE"),
            ("KVPEncoding", "TRUE"),
            ("XMLEncoding", "TRUE"),
            ("SOAPEncoding", "FALSE"),
            ("ImplementsInheritance", "FALSE"),
            ("ImplementsRemoteResolve", "FALSE"),
            ("ImplementsResultPaging", "TRUE"),
            ("ImplementsStandardJoins", "FALSE"),
            ("ImplementsSpatialJoins", "FALSE"),
            ("ImplementsTemporalJoins", "FALSE"),
            ("ImplementsFeatureVersioning", "FALSE"),
            ("ManageStoredQueries", "FALSE"),
            ("CountDefault", str(count_default)),
        )
    )
    constraints += (
        '<ows:Constraint name="QueryExpressions"><ows:AllowedValues><ows:Value>wfs:Query</ows:Value>'
        "<ows:Value>wfs:StoredQuery</ows:Value></ows:AllowedValues></ows:Constraint>"
    )
    listed = "".join(_feature_type_20(t, box[t.name]) for t in types)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<wfs:WFS_Capabilities version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        'xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:fes="http://www.opengis.net/fes/2.0" '
        f'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:xlink="{XLINK}" xmlns:xsi="{XSI}" '
        f'xmlns:{PREFIX}="{NAMESPACE}" '
        'xsi:schemaLocation="http://www.opengis.net/wfs/2.0 http://schemas.opengis.net/wfs/2.0/wfs.xsd">'
        f"{_service_identification('2.0.0', title)}"
        f"<ows:OperationsMetadata>{''.join(ops)}{_values('version', VERSIONS)}"
        f"{constraints}</ows:OperationsMetadata>"
        f"<wfs:FeatureTypeList>{listed}</wfs:FeatureTypeList>"
        f"{filter_capabilities_20()}"
        "</wfs:WFS_Capabilities>"
    )
    return body.encode()


def _feature_type_20(t: FeatureType, b: Bounds) -> str:
    formats = "".join(f"<wfs:Format>{escape(f)}</wfs:Format>" for f in OUTPUT_FORMATS["2.0.0"])
    keywords = "".join(f"<ows:Keyword>{escape(k)}</ows:Keyword>" for k in t.keywords)
    return (
        f"<wfs:FeatureType><wfs:Name>{t.qname}</wfs:Name><wfs:Title>{escape(t.title)}</wfs:Title>"
        f"<wfs:Abstract>{escape(t.abstract)}</wfs:Abstract><ows:Keywords>{keywords}</ows:Keywords>"
        f"{_crs_list('DefaultCRS', 'OtherCRS')}<wfs:OutputFormats>{formats}</wfs:OutputFormats>"
        f"<ows:WGS84BoundingBox><ows:LowerCorner>{_corner(b[0], b[1])}</ows:LowerCorner>"
        f"<ows:UpperCorner>{_corner(b[2], b[3])}</ows:UpperCorner></ows:WGS84BoundingBox></wfs:FeatureType>"
    )


def filter_capabilities_20() -> str:
    """Exactly the operators `filters.py` implements."""
    conformance = "".join(
        _constraint(n, v, "fes:Constraint")
        for n, v in (
            ("ImplementsQuery", "TRUE"),
            ("ImplementsAdHocQuery", "TRUE"),
            ("ImplementsFunctions", "FALSE"),
            ("ImplementsResourceId", "TRUE"),
            ("ImplementsMinStandardFilter", "TRUE"),
            ("ImplementsStandardFilter", "TRUE"),
            ("ImplementsMinSpatialFilter", "TRUE"),
            ("ImplementsSpatialFilter", "FALSE"),
            ("ImplementsMinTemporalFilter", "FALSE"),
            ("ImplementsTemporalFilter", "FALSE"),
            ("ImplementsVersionNav", "FALSE"),
            ("ImplementsSorting", "TRUE"),
            ("ImplementsExtendedOperators", "FALSE"),
            ("ImplementsMinimumXPath", "FALSE"),
            ("ImplementsSchemaElementFunc", "FALSE"),
        )
    )
    comparisons = "".join(
        f'<fes:ComparisonOperator name="{n}"/>'
        for n in (*COMPARISONS, "PropertyIsLike", "PropertyIsNull", "PropertyIsNil", "PropertyIsBetween")
    )
    operands = "".join(
        f'<fes:GeometryOperand name="gml:{n}"/>'
        for n in ("Envelope", "Point", "LineString", "Polygon", "MultiPoint", "MultiCurve", "MultiSurface")
    )
    spatial = "".join(f'<fes:SpatialOperator name="{n}"/>' for n in SPATIAL)
    return (
        "<fes:Filter_Capabilities>"
        f"<fes:Conformance>{conformance}</fes:Conformance>"
        '<fes:Id_Capabilities><fes:ResourceIdentifier name="fes:ResourceId"/></fes:Id_Capabilities>'
        f"<fes:Scalar_Capabilities><fes:LogicalOperators/><fes:ComparisonOperators>{comparisons}"
        "</fes:ComparisonOperators></fes:Scalar_Capabilities>"
        f"<fes:Spatial_Capabilities><fes:GeometryOperands>{operands}</fes:GeometryOperands>"
        f"<fes:SpatialOperators>{spatial}</fes:SpatialOperators></fes:Spatial_Capabilities>"
        "</fes:Filter_Capabilities>"
    )


def capabilities_11(url: str, box: dict[str, Bounds], count_default: int, title: str,
                    types: Sequence[FeatureType] = TYPES) -> bytes:
    """WFS 1.1.0 capabilities (OGC 04-094 §13)."""
    ops = []
    for op in ("GetCapabilities", "DescribeFeatureType", "GetFeature", "Transaction"):
        params = ""
        if op == "GetCapabilities":
            params = _values10("AcceptVersions", VERSIONS)
        elif op == "DescribeFeatureType":
            params = _values10("outputFormat", ("text/xml; subtype=gml/3.1.1",))
        elif op == "GetFeature":
            params = _values10("resultType", ("results", "hits")) + _values10(
                "outputFormat", OUTPUT_FORMATS["1.1.0"]
            )
        ops.append(f'<ows:Operation name="{op}">{_dcp(url)}{params}</ows:Operation>')
    extra = (
        f'<ows:Constraint name="DefaultMaxFeatures"><ows:Value>{count_default}</ows:Value></ows:Constraint>'
    )
    listed = "".join(_feature_type_11(t, box[t.name]) for t in types)
    comparisons = "".join(
        f"<ogc:ComparisonOperator>{n}</ogc:ComparisonOperator>"
        for n in (
            "EqualTo",
            "NotEqualTo",
            "LessThan",
            "GreaterThan",
            "LessThanEqualTo",
            "GreaterThanEqualTo",
            "Like",
            "Between",
            "NullCheck",
        )
    )
    spatial = "".join(f'<ogc:SpatialOperator name="{n}"/>' for n in SPATIAL)
    operands = "".join(
        f"<ogc:GeometryOperand>gml:{n}</ogc:GeometryOperand>"
        for n in ("Envelope", "Point", "LineString", "Polygon")
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<wfs:WFS_Capabilities version="1.1.0" xmlns:wfs="http://www.opengis.net/wfs" '
        'xmlns:ows="http://www.opengis.net/ows" xmlns:ogc="http://www.opengis.net/ogc" '
        f'xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="{XLINK}" xmlns:xsi="{XSI}" '
        f'xmlns:{PREFIX}="{NAMESPACE}" '
        'xsi:schemaLocation="http://www.opengis.net/wfs http://schemas.opengis.net/wfs/1.1.0/wfs.xsd">'
        f"{_service_identification('1.1.0', title)}"
        f"<ows:OperationsMetadata>{''.join(ops)}{extra}</ows:OperationsMetadata>"
        "<wfs:FeatureTypeList><wfs:Operations><wfs:Operation>Query</wfs:Operation>"
        "<wfs:Operation>Insert</wfs:Operation><wfs:Operation>Update</wfs:Operation>"
        f"<wfs:Operation>Delete</wfs:Operation></wfs:Operations>{listed}</wfs:FeatureTypeList>"
        "<ogc:Filter_Capabilities>"
        f"<ogc:Spatial_Capabilities><ogc:GeometryOperands>{operands}</ogc:GeometryOperands>"
        f"<ogc:SpatialOperators>{spatial}</ogc:SpatialOperators></ogc:Spatial_Capabilities>"
        "<ogc:Scalar_Capabilities><ogc:LogicalOperators/>"
        f"<ogc:ComparisonOperators>{comparisons}</ogc:ComparisonOperators></ogc:Scalar_Capabilities>"
        "<ogc:Id_Capabilities><ogc:FID/></ogc:Id_Capabilities>"
        "</ogc:Filter_Capabilities></wfs:WFS_Capabilities>"
    )
    return body.encode()


def _feature_type_11(t: FeatureType, b: Bounds) -> str:
    ops = "" if t.writer else "<wfs:Operations><wfs:Operation>Query</wfs:Operation></wfs:Operations>"
    formats = "".join(f"<wfs:Format>{escape(f)}</wfs:Format>" for f in OUTPUT_FORMATS["1.1.0"])
    return (
        f"<wfs:FeatureType><wfs:Name>{t.qname}</wfs:Name><wfs:Title>{escape(t.title)}</wfs:Title>"
        f"<wfs:Abstract>{escape(t.abstract)}</wfs:Abstract>{_crs_list('DefaultSRS', 'OtherSRS')}{ops}"
        f"<wfs:OutputFormats>{formats}</wfs:OutputFormats>"
        f"<ows:WGS84BoundingBox><ows:LowerCorner>{_corner(b[0], b[1])}</ows:LowerCorner>"
        f"<ows:UpperCorner>{_corner(b[2], b[3])}</ows:UpperCorner></ows:WGS84BoundingBox></wfs:FeatureType>"
    )


def capabilities_10(url: str, box: dict[str, Bounds], title: str, types: Sequence[FeatureType] = TYPES) -> bytes:
    """WFS 1.0.0 capabilities (OGC 02-058 §13): QGIS 3.22 edits with 1.0.0 transactions."""

    def req(name: str, inner: str = "") -> str:
        return (
            f"<{name}>{inner}<DCPType><HTTP><Get onlineResource={quoteattr(url + '?')}/></HTTP></DCPType>"
            f"<DCPType><HTTP><Post onlineResource={quoteattr(url)}/></HTTP></DCPType></{name}>"
        )

    listed = ""
    for t in types:
        b = box[t.name]
        ops = (
            "<Operations><Query/><Insert/><Update/><Delete/></Operations>"
            if t.writer
            else "<Operations><Query/></Operations>"
        )
        listed += (
            f"<FeatureType><Name>{t.qname}</Name><Title>{escape(t.title)}</Title>"
            f"<Abstract>{escape(t.abstract)}</Abstract><SRS>EPSG:{STORAGE_SRID}</SRS>{ops}"
            f'<LatLongBoundingBox minx="{b[0]:.6f}" miny="{b[1]:.6f}" maxx="{b[2]:.6f}" maxy="{b[3]:.6f}"/>'
            "</FeatureType>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<WFS_Capabilities version="1.0.0" xmlns="http://www.opengis.net/wfs" '
        f'xmlns:ogc="http://www.opengis.net/ogc" xmlns:{PREFIX}="{NAMESPACE}">'
        f"<Service><Name>WFS</Name><Title>{escape(title)}</Title><OnlineResource>{escape(url)}</OnlineResource>"
        "<Fees>NONE</Fees><AccessConstraints>HTTP Basic authentication</AccessConstraints></Service>"
        "<Capability><Request>"
        f"{req('GetCapabilities')}"
        f"{req('DescribeFeatureType', '<SchemaDescriptionLanguage><XMLSCHEMA/></SchemaDescriptionLanguage>')}"
        f"{req('Transaction')}"
        f"{req('GetFeature', '<ResultFormat><GML2/></ResultFormat>')}"
        "</Request></Capability>"
        f"<FeatureTypeList><Operations><Query/><Insert/><Update/><Delete/></Operations>{listed}</FeatureTypeList>"
        "<ogc:Filter_Capabilities><ogc:Spatial_Capabilities><ogc:Spatial_Operators>"
        "<ogc:BBOX/><ogc:Intersect/><ogc:Within/><ogc:Contains/><ogc:Disjoint/>"
        "</ogc:Spatial_Operators></ogc:Spatial_Capabilities>"
        "<ogc:Scalar_Capabilities><ogc:Logical_Operators/><ogc:Comparison_Operators><ogc:Simple_Comparisons/>"
        "<ogc:Like/><ogc:Between/><ogc:NullCheck/></ogc:Comparison_Operators></ogc:Scalar_Capabilities>"
        "</ogc:Filter_Capabilities></WFS_Capabilities>"
    )
    return body.encode()


def list_stored_queries(types: Sequence[FeatureType] = TYPES) -> bytes:
    """ListStoredQueries (2.0 §14.3): GetFeatureById for every type."""
    returns = "".join(f"<wfs:ReturnFeatureType>{t.qname}</wfs:ReturnFeatureType>" for t in types)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<wfs:ListStoredQueriesResponse xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        f'xmlns:{PREFIX}="{NAMESPACE}">'
        f'<wfs:StoredQuery id="{GET_FEATURE_BY_ID}"><wfs:Title>Get feature by identifier</wfs:Title>'
        f"{returns}</wfs:StoredQuery></wfs:ListStoredQueriesResponse>"
    ).encode()


def describe_stored_queries(ids: list[str] | None, types: Sequence[FeatureType] = TYPES) -> bytes:
    """DescribeStoredQueries (2.0 §14.4)."""
    from app.wfs.ows import WfsError

    if ids and any(i.strip() != GET_FEATURE_BY_ID for i in ids):
        raise WfsError(
            "InvalidParameterValue", f"unknown stored query; offered: {GET_FEATURE_BY_ID}", "storedQuery_Id"
        )
    returns = " ".join(t.qname for t in types)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<wfs:DescribeStoredQueriesResponse xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        f'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:{PREFIX}="{NAMESPACE}">'
        f'<wfs:StoredQueryDescription id="{GET_FEATURE_BY_ID}">'
        "<wfs:Title>Get feature by identifier</wfs:Title>"
        "<wfs:Abstract>Returns the single feature whose gml:id is ID (e.g. parcels.123).</wfs:Abstract>"
        '<wfs:Parameter name="ID" type="xs:string"/>'
        '<wfs:QueryExpressionText isPrivate="true" '
        'language="urn:ogc:def:queryLanguage:OGC-WFS::WFS_QueryExpression" '
        f'returnFeatureTypes="{returns}"/>'
        "</wfs:StoredQueryDescription></wfs:DescribeStoredQueriesResponse>"
    ).encode()
