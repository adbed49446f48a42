"""OGC WFS 2.0.0 / 1.1.0 / 1.0.0 at `/wfs` (SPEC §5 "OGC WFS").

`routes.py` is HTTP only; `kvp.py` and `xmlreq.py` read requests into the dataclasses of `model.py`;
`registry.py` lists the feature types; `filters.py` translates Filter Encoding to SQL over the
registry's whitelist; `getfeature.py` streams GML/JSON built by PostGIS; `transaction.py` sends WFS-T
through the same services as REST; `ows.py` renders exception reports.
"""
