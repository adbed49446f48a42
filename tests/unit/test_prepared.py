"""Statements compiled once per shape (app/prepared.py) run with each request's values: the names a
ParcelQuery binds must be exactly the named parameters of its SQL, and one shape must be one SQL text."""

from datetime import UTC, datetime

from sqlalchemy import union_all

from app.parcels.query import FILTERS, ParcelQuery, count, parcel, select_rows
from app.parcels.reads import all_statement, feature_statement, page_statement, page_values
from app.prepared import StatementCache, compile_statement
from gis.crs import STORAGE, CrsRef

QUERIES = [
    ParcelQuery(),
    ParcelQuery(ids=[7]),
    ParcelQuery(filters={"tier": "base", "district_code": "310115"}),
    ParcelQuery(bbox=(121.5, 31.0, 121.52, 31.02)),
    ParcelQuery(bbox=(500000.0, 3400000.0, 502000.0, 3402000.0), bbox_crs=CrsRef(4549)),
    ParcelQuery(as_of=datetime(2026, 1, 1, tzinfo=UTC), filters={"status": "operating"}),
    ParcelQuery(history_of=3),
]


def test_binds_are_exactly_the_named_parameters_of_the_where_clause():
    for q in QUERIES:
        compiled = compile_statement(count(q))
        named = {name: compiled.constants[rendered] for name, rendered in compiled.names if name in q.binds()}
        assert named == q.binds(), q
        assert set(q.binds()) <= {name for name, _ in compiled.names}


def test_one_shape_compiles_to_one_sql_text_whatever_the_values():
    a = ParcelQuery(bbox=(121.5, 31.0, 121.52, 31.02), filters={"tier": "base"})
    b = ParcelQuery(bbox=(121.0, 30.7, 121.9, 31.5), filters={"tier": "fragment"})
    assert a.shape() == b.shape()
    for make in (lambda q: count(q), lambda q: page_statement(q, STORAGE, keyset=True),
                 lambda q: feature_statement(q, STORAGE), lambda q: all_statement(q, STORAGE)):
        x, y = make(a), make(b)
        x = x if hasattr(x, "sql") else compile_statement(x)
        y = y if hasattr(y, "sql") else compile_statement(y)
        assert x.sql == y.sql
        assert x.args(b.binds() | {"limit": 5, "offset": 0, "after": 9}) == y.args(
            b.binds() | {"limit": 5, "offset": 0, "after": 9})


def test_a_bbox_is_typed_as_floats_even_when_written_as_integers():
    compiled = compile_statement(count(ParcelQuery(bbox=(121, 31, 122, 32))))
    corners = compiled.sql.split("ST_MakeEnvelope(")[1].split(")")[0].split(", ")[:4]
    assert all(c.endswith("::FLOAT") for c in corners), corners


def test_page_values_use_the_cursor_instead_of_the_offset():
    q = ParcelQuery()
    assert page_values(q, 100, 300, None) == {"limit": 100, "offset": 300}
    assert page_values(q, 100, 300, 4711) == {"limit": 100, "offset": 0, "after": 4711}


def test_every_filter_has_a_shape_and_a_bind():
    for name in FILTERS:
        q = ParcelQuery(filters={name: "x"})
        assert q.shape() != ParcelQuery().shape() and f"filter_{name}" in q.binds()


def test_the_cache_is_bounded():
    cache = StatementCache(size=2)
    for i in range(4):
        cache.get(i, lambda: count(ParcelQuery()))
    assert len(cache) == 2


def test_two_queries_in_one_statement_keep_their_own_values():
    base = select_rows(ParcelQuery(filters={"tier": "base"}), parcel.c.id, order=False)
    fragment = select_rows(ParcelQuery(filters={"tier": "fragment"}), parcel.c.id, order=False)
    params = union_all(base, fragment).compile().params
    assert sorted(v for k, v in params.items() if k.startswith("filter_tier")) == ["base", "fragment"]
