"""The CQL2 compiler: a cql2-json tree (OGC 21-065r2 §8) → a SQLAlchemy boolean over a collection's whitelist.

Only what is listed here reaches SQL: properties by their registry name (app/wfs/registry.py `Prop.column`,
the geometry `FeatureType.geom`), the operators of the classes app.ogc.cql2 declares, and literals as bound
parameters of the property's type (the SQL text never holds a client's value). The walk is bounded
(MAX_DEPTH levels, MAX_NODES nodes); anything unknown or ill-typed is a 400 that names it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
    and_,
    bindparam,
    cast,
    false,
    func,
    not_,
    or_,
    true,
)
from sqlalchemy.types import TypeEngine

from app.ogc.params import Crs, InvalidParameter
from app.wfs.registry import GEOMETRY, FeatureType
from gis.errors import GeometryError
from gis.literal import ewkt, read_literal
from gis.sql import constant

MAX_DEPTH = 100
MAX_NODES = 1000
MAX_STRING = 1000
MAX_VERTICES = 10_000
_EXACT = 2**53  # the parser reads numbers as doubles: integers beyond this are not what the client wrote

# The XML Schema types of the registry → CQL2 types (21-065r2 §6.3) and the SQL type of bound literals.
_KINDS = {"string": "string", "long": "number", "int": "number", "decimal": "number", "double": "number",
          "boolean": "boolean", "date": "date", "dateTime": "timestamp"}
_SQL: dict[str, Callable[[], TypeEngine[Any]]] = {
    "string": String, "long": BigInteger, "int": Integer, "decimal": Numeric, "double": Float, "boolean": Boolean,
    "date": Date, "dateTime": lambda: DateTime(timezone=True)}
_XSD_OF_KIND = {"string": "string", "number": "double", "boolean": "boolean", "date": "date", "timestamp": "dateTime"}

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
# basic-spatial-functions (S_INTERSECTS) and spatial-functions (21-065r2 §7.8, the DE-9IM predicates).
_SPATIAL = {"s_intersects": func.ST_Intersects, "s_contains": func.ST_Contains, "s_within": func.ST_Within,
            "s_disjoint": func.ST_Disjoint, "s_equals": func.ST_Equals, "s_touches": func.ST_Touches,
            "s_overlaps": func.ST_Overlaps, "s_crosses": func.ST_Crosses}
# temporal-functions (21-065r2 §7.10, Allen's relations over [start, end]); an instant is [t, t]. Those
# marked False take intervals only (/req/temporal-functions/temporal-predicate).
Ends = tuple[Any, Any]
_TEMPORAL: dict[str, tuple[bool, Callable[[Ends, Ends], Any]]] = {
    "t_after": (True, lambda a, b: a[0] > b[1]),
    "t_before": (True, lambda a, b: a[1] < b[0]),
    "t_disjoint": (True, lambda a, b: or_(a[0] > b[1], a[1] < b[0])),
    "t_equals": (True, lambda a, b: and_(a[0] == b[0], a[1] == b[1])),
    "t_intersects": (True, lambda a, b: and_(a[0] <= b[1], a[1] >= b[0])),
    "t_contains": (False, lambda a, b: and_(a[0] < b[0], a[1] > b[1])),
    "t_during": (False, lambda a, b: and_(a[0] > b[0], a[1] < b[1])),
    "t_finishedby": (False, lambda a, b: and_(a[0] < b[0], a[1] == b[1])),
    "t_finishes": (False, lambda a, b: and_(a[0] > b[0], a[1] == b[1])),
    "t_meets": (False, lambda a, b: a[1] == b[0]),
    "t_metby": (False, lambda a, b: a[0] == b[1]),
    "t_overlappedby": (False, lambda a, b: and_(a[0] > b[0], a[0] < b[1], a[1] > b[1])),
    "t_overlaps": (False, lambda a, b: and_(a[0] < b[0], a[1] > b[0], a[1] < b[1])),
    "t_startedby": (False, lambda a, b: and_(a[0] == b[0], a[1] > b[1])),
    "t_starts": (False, lambda a, b: and_(a[0] == b[0], a[1] < b[1])),
}
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "div"})
OPERATORS: tuple[str, ...] = ("and", "or", "not", *_COMPARISONS, "isNull", "like", "between", "in", "casei",
                              *(name.upper() for name in _SPATIAL), *(name.upper() for name in _TEMPORAL))


def bad(detail: str, name: str = "filter") -> InvalidParameter:
    """A 400 VALIDATION_ERROR naming the parameter (19-079r2 /req/filter/filter-param: a filter the
    server cannot evaluate is refused)."""
    return InvalidParameter(detail if name != "filter" else f"filter: {detail}", field=name)


def _shown(node: Any) -> str:
    """A node as a short text for messages."""
    if isinstance(node, dict) and "property" in node:
        return str(node["property"])[:60]
    if isinstance(node, dict) and "op" in node:
        return f"{str(node['op'])[:40]}(…)"
    return repr(node)[:60]


@dataclass(frozen=True)
class Term:
    """A compiled operand: SQL of a property or expression with its XML Schema type (`xsd`), or a literal
    (`sql` None) whose SQL type comes from the other side of its comparison."""

    kind: str  # string, number, boolean, date, timestamp, geometry, interval, null
    sql: Any = None
    value: Any = None
    xsd: str | None = None
    shown: str = ""

    @property
    def literal(self) -> bool:
        return self.sql is None


class Compiler:
    """One filter's compilation over `ftype`, geometry literals read in `crs`."""

    def __init__(self, ftype: FeatureType, crs: Crs) -> None:
        self.ftype, self.crs, self.nodes = ftype, crs, 0

    # ------------------------------------------------------------------------------------------ the walk
    def _enter(self, depth: int) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise bad(f"the filter nests deeper than {MAX_DEPTH} levels")
        if self.nodes > MAX_NODES:
            raise bad(f"the filter has more than {MAX_NODES} terms")

    def _op(self, node: dict[str, Any]) -> tuple[str, list[Any]]:
        name, args = node.get("op"), node.get("args")
        if not isinstance(name, str) or not isinstance(args, list):
            raise bad(f"{_shown(node)} is not an operation (op and args)")
        return name.lower(), args

    def _arity(self, name: str, args: list[Any], count: int) -> None:
        if len(args) != count:
            raise bad(f"{name} takes {count} argument{'s' if count > 1 else ''}, not {len(args)}")

    def predicate(self, node: Any, depth: int) -> ColumnElement[bool]:
        """A boolean expression (21-065r2 booleanExpression)."""
        self._enter(depth)
        if isinstance(node, bool):
            return true() if node else false()
        if isinstance(node, dict) and "property" in node:
            term = self.property(node)
            if term.kind != "boolean":
                raise bad(f"{term.shown} is a {term.kind}, not a condition; compare it (=, <, LIKE, …)")
            return term.sql.is_(True)
        if not isinstance(node, dict) or "op" not in node:
            raise bad(f"{_shown(node)} is not a condition")
        name, args = self._op(node)
        if name in ("and", "or"):
            if len(args) < 2:
                raise bad(f"{name} takes two or more conditions")
            parts = [self.predicate(a, depth + 1) for a in args]
            return and_(*parts) if name == "and" else or_(*parts)
        if name == "not":
            self._arity(name, args, 1)
            return not_(self.predicate(args[0], depth + 1))
        if name in _COMPARISONS:
            self._arity(name, args, 2)
            return self.compare(name, self.term(args[0], depth + 1), self.term(args[1], depth + 1))
        if name == "isnull":
            self._arity("isNull", args, 1)
            term = self.term(args[0], depth + 1)
            if term.literal:
                return true() if term.kind == "null" else false()
            return term.sql.is_(None)
        if name == "like":
            return self.like(args, depth + 1)
        if name == "between":
            return self.between(args, depth + 1)
        if name == "in":
            return self.in_list(args, depth + 1)
        if name in _SPATIAL:
            self._arity(name.upper(), args, 2)
            a, b = (self.geometry(arg, depth + 1) for arg in args)
            return _SPATIAL[name](a, b)
        if name in _TEMPORAL:
            return self.temporal(name, args, depth + 1)
        raise self.unknown(name)

    def unknown(self, name: str) -> InvalidParameter:
        """An operator or function not offered."""
        if name == "accenti":
            return bad("ACCENTI (accent-insensitive comparison) is not offered; CASEI is")
        if name in _ARITHMETIC:
            return bad(f"arithmetic ({name}) is not offered; compare a property with a literal")
        if name.startswith("a_"):
            return bad(f"{name.upper()}: array functions are not offered (no property is an array)")
        return bad(f"unknown operator or function {name[:40]!r}; filters offer {', '.join(OPERATORS)}")

    # ------------------------------------------------------------------------------------------ operands
    def property(self, node: dict[str, Any]) -> Term:
        """A queryable: a whitelisted property or the geometry (never an identifier passed through)."""
        name = node.get("property")
        if not isinstance(name, str):
            raise bad("a property reference names a property")
        if name == GEOMETRY:
            return Term("geometry", self.ftype.geom, shown=name)
        prop = self.ftype.prop(name)
        if prop is None:
            names = ", ".join([GEOMETRY, *(p.name for p in self.ftype.props)])
            raise bad(f"unknown property {name[:60]!r}; the queryables of {self.ftype.name} are {names}")
        return Term(_KINDS.get(prop.xsd, "string"), prop.column, xsd=prop.xsd, shown=name)

    def term(self, node: Any, depth: int) -> Term:
        """A scalar operand: a property, CASEI(...) or a literal."""
        self._enter(depth)
        if node is None:
            return Term("null", shown="NULL")
        if isinstance(node, bool):
            return Term("boolean", value=node, shown=str(node).upper())
        if isinstance(node, int | float):
            if not math.isfinite(node):
                raise bad(f"{node!r} is not a finite number")
            shown = str(int(node)) if float(node).is_integer() and abs(node) < 1e15 else repr(node)
            return Term("number", value=node, shown=shown)
        if isinstance(node, str):
            return Term("string", value=_text(node), shown=repr(node[:40]))
        if isinstance(node, list):
            raise bad("an array is only the list of IN (array functions are not offered)")
        if not isinstance(node, dict):
            raise bad(f"{_shown(node)} is not a value")
        if "property" in node:
            return self.property(node)
        if "date" in node:
            return Term("date", value=_date(node["date"]), shown=f"DATE({node['date']!r})")
        if "timestamp" in node:
            return Term("timestamp", value=_timestamp(node["timestamp"]), shown=f"TIMESTAMP({node['timestamp']!r})")
        if "interval" in node:
            raise bad("an INTERVAL is compared with T_ functions (T_INTERSECTS, T_DURING, …)")
        if "bbox" in node or "type" in node:
            raise bad("a geometry is compared with S_ functions (S_INTERSECTS, S_WITHIN, …)")
        if "op" not in node:
            raise bad(f"{_shown(node)} is not a value")
        name, args = self._op(node)
        if name == "casei":
            self._arity("CASEI", args, 1)
            inner = self.term(args[0], depth + 1)
            if inner.kind != "string":
                raise bad(f"CASEI takes a string, not {inner.shown} ({inner.kind})")
            sql = self.bind(inner, "string") if inner.literal else inner.sql
            return Term("string", func.lower(sql), xsd="string", shown=f"CASEI({inner.shown})")
        if name in _COMPARISONS or name in ("and", "or", "not", "isnull", "like", "between", "in"):
            raise bad(f"{name} is a condition, not a value")
        raise self.unknown(name)

    def bind(self, term: Term, xsd: str, against: str = "") -> Any:
        """A literal as a bound parameter of the XML Schema type `xsd` (the property's), or a 400."""
        kind = _KINDS.get(xsd, "string")
        if term.kind == "null":
            raise bad(f"compare {against or 'a property'} with NULL by IS NULL")
        if term.kind != kind:
            where = f"{against} is a {kind} property" if against else f"a {kind} is expected"
            raise bad(f"{where}; {term.shown} is a {term.kind}")
        value = term.value
        if kind == "number":
            value = _number(value, xsd, term.shown)
        return bindparam("cql2", value, type_=_SQL[xsd](), unique=True)

    def scalar(self, term: Term, other: Term) -> Any:
        """`term` as SQL: itself, or a literal bound with the type of `other` (a property or expression)."""
        if not term.literal:
            return term.sql
        return self.bind(term, other.xsd or _XSD_OF_KIND.get(term.kind, "string"), other.shown)

    # ------------------------------------------------------------------------------------------ predicates
    def compare(self, name: str, a: Term, b: Term) -> ColumnElement[bool]:
        """basic-cql2 comparisons (21-065r2 §7.2), property-property included."""
        for t in (a, b):
            if t.kind == "null":
                raise bad(f"compare with NULL by IS NULL, not {name}")
            if t.kind == "geometry":
                raise bad(f"{t.shown} is a geometry: use S_INTERSECTS, S_WITHIN, …")
        if a.kind != b.kind:
            raise bad(f"{a.shown} ({a.kind}) cannot be compared with {b.shown} ({b.kind})")
        if a.kind == "boolean" and name not in ("=", "<>"):
            raise bad(f"booleans compare with = or <>, not {name}")
        if a.literal and b.literal:
            return true() if _COMPARISONS[name](a.value, b.value) else false()
        result: ColumnElement[bool] = _COMPARISONS[name](self.scalar(a, b), self.scalar(b, a))
        return result

    def like(self, args: list[Any], depth: int) -> ColumnElement[bool]:
        """advanced-comparison-operators: LIKE with % and _ (backslash escapes, PostgreSQL's default too)."""
        self._arity("LIKE", args, 2)
        a, pattern = self.term(args[0], depth), self.term(args[1], depth)
        for t in (a, pattern):
            if t.kind != "string":
                raise bad(f"LIKE compares strings; {t.shown} is a {t.kind}")
        if a.literal:
            raise bad("LIKE tests a property (or CASEI of one) against a pattern")
        return a.sql.like(self.scalar(pattern, a))

    def between(self, args: list[Any], depth: int) -> ColumnElement[bool]:
        """advanced-comparison-operators: BETWEEN (both ends included)."""
        self._arity("BETWEEN", args, 3)
        a, low, high = (self.term(arg, depth) for arg in args)
        if a.literal:
            raise bad("BETWEEN tests a property")
        if a.kind not in ("number", "date", "timestamp"):
            raise bad(f"BETWEEN takes numbers, dates or timestamps; {a.shown} is a {a.kind}")
        for t in (low, high):
            if t.kind != a.kind:
                raise bad(f"{a.shown} ({a.kind}) cannot be compared with {t.shown} ({t.kind})")
        return a.sql.between(self.scalar(low, a), self.scalar(high, a))

    def in_list(self, args: list[Any], depth: int) -> ColumnElement[bool]:
        """advanced-comparison-operators: IN (a list of literals of the property's type)."""
        self._arity("IN", args, 2)
        a = self.term(args[0], depth)
        if a.literal:
            raise bad("IN tests a property")
        if a.kind in ("geometry", "boolean"):
            raise bad(f"IN takes strings, numbers, dates or timestamps; {a.shown} is a {a.kind}")
        items = args[1]
        if not isinstance(items, list) or not items:
            raise bad("IN takes a list of one or more values")
        values = []
        for item in items:
            t = self.term(item, depth + 1)
            if t.kind != a.kind:
                raise bad(f"{a.shown} ({a.kind}) cannot be compared with {t.shown} ({t.kind})")
            values.append(self.scalar(t, a))
        return a.sql.in_(values)

    def geometry(self, node: Any, depth: int) -> Any:
        """An S_ function's operand: the geometry property, or a literal read in filter-crs (19-079r2
        /req/filter/filter-crs-param) and bound as storage EWKT."""
        self._enter(depth)
        if isinstance(node, dict) and "property" in node:
            term = self.property(node)
            if term.kind != "geometry":
                raise bad(f"{term.shown} is a {term.kind}; spatial functions take {GEOMETRY} or a geometry literal")
            return term.sql
        if not isinstance(node, dict) or not ("bbox" in node or "type" in node):
            raise bad(f"{_shown(node)} is not a geometry; spatial functions take {GEOMETRY} or a geometry literal")
        try:
            geom = read_literal(node, self.crs.sql.srid, self.crs.flips, MAX_VERTICES)
        except GeometryError as exc:
            raise bad(str(exc)) from None
        return func.ST_GeomFromEWKT(bindparam("cql2_geom", ewkt(geom), type_=String, unique=True))

    # ------------------------------------------------------------------------------------------ time
    def temporal(self, name: str, args: list[Any], depth: int) -> ColumnElement[bool]:
        """temporal-functions over instants and intervals of date or timestamp properties and literals."""
        self._arity(name.upper(), args, 2)
        instants, relation = _TEMPORAL[name]
        a, b = (self.span(arg, depth) for arg in args)
        kinds = {k for _, _, k, _ in (a, b) if k is not None}
        if len(kinds) > 1:
            raise bad(f"{name.upper()} compares dates with dates and timestamps with timestamps, not both")
        if not instants and not (a[3] and b[3]):
            raise bad(f"{name.upper()} takes two intervals (INTERVAL(start, end)); T_INTERSECTS, T_BEFORE, "
                      "T_AFTER, T_EQUALS and T_DISJOINT take instants too")
        kind = kinds.pop() if kinds else "timestamp"
        result: ColumnElement[bool] = relation(self.ends(a, kind), self.ends(b, kind))
        return result

    def span(self, node: Any, depth: int) -> tuple[Any, Any, str | None, bool]:
        """(start, end, kind, is_interval) of a temporal operand; ends are Terms or None (open, `..`)."""
        if isinstance(node, dict) and "interval" in node:
            self._enter(depth)
            ends = node["interval"]
            if not isinstance(ends, list) or len(ends) != 2:
                raise bad("an INTERVAL has a start and an end")
            start, end = (self.instant(e, depth + 1, open_ok=True) for e in ends)
            kinds = {t.kind for t in (start, end) if t is not None}
            if len(kinds) > 1:
                raise bad("an INTERVAL's ends are both dates or both timestamps")
            if start is not None and end is not None and start.literal and end.literal and start.value > end.value:
                raise bad("an INTERVAL ends before it starts")
            return start, end, (kinds.pop() if kinds else None), True
        t = self.instant(node, depth, open_ok=False)
        assert t is not None
        return t, t, t.kind, False

    def instant(self, node: Any, depth: int, open_ok: bool) -> Term | None:
        """A date or timestamp: property, DATE()/TIMESTAMP() literal, or inside an INTERVAL a bare string."""
        if open_ok and node == "..":
            self._enter(depth)
            return None
        if open_ok and isinstance(node, str):
            self._enter(depth)
            if len(node) == 10:
                return Term("date", value=_date(node), shown=repr(node))
            return Term("timestamp", value=_timestamp(node), shown=repr(node))
        t = self.term(node, depth)
        if t.kind not in ("date", "timestamp"):
            raise bad(f"temporal functions take dates, timestamps and intervals; {t.shown} is a {t.kind}")
        return t

    def ends(self, span: tuple[Any, Any, str | None, bool], kind: str) -> Ends:
        """SQL of an operand's start and end; open or missing (NULL valid_to: still valid) ends are ∓infinity."""
        xsd = _XSD_OF_KIND[kind]
        out: list[Any] = []
        for term, infinity in ((span[0], "-infinity"), (span[1], "infinity")):
            bound = cast(constant(infinity), _SQL[xsd]())
            if term is None:
                out.append(bound)
            elif term.literal:
                out.append(self.bind(term, xsd))
            else:
                out.append(func.coalesce(term.sql, bound) if span[3] else term.sql)
        return out[0], out[1]


def _text(value: str) -> str:
    if len(value) > MAX_STRING:
        raise bad(f"a string literal is longer than {MAX_STRING} characters")
    if "\x00" in value:
        raise bad("a string literal holds a NUL character")
    return value


def _number(value: Any, xsd: str, shown: str) -> Any:
    """A parsed number as the property's type: integers exact, decimals as written (the shortest repr)."""
    if xsd in ("long", "int"):
        if not float(value).is_integer() or abs(value) >= _EXACT:
            raise bad(f"{shown} is not an integer (the property takes integers below 2^53)")
        if xsd == "int" and abs(value) >= 2**31:
            raise bad(f"{shown} is beyond the property's integer range")
        return int(value)
    if xsd == "decimal":
        return Decimal(repr(float(value)))
    return float(value)


def _date(value: Any) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise bad(f"DATE takes YYYY-MM-DD, not {str(value)[:40]!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad(f"DATE takes YYYY-MM-DD, not {value[:40]!r}") from None


def _timestamp(value: Any) -> datetime:
    """RFC 3339 with a zone (21-065r2 timestampLiteral is UTC, `Z`; an offset is read as written)."""
    moment = None
    if isinstance(value, str) and len(value) > 10:
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise bad(f"TIMESTAMP takes an RFC 3339 date-time in UTC (2024-05-01T08:00:00Z), not {str(value)[:40]!r}")
    return moment
