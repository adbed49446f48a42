"""GDAL's OAPIF driver (the one pyogrio bundles, GDAL ≥ 3.11: open options CRS and PREFERRED_CRS of OGC API –
Features Part 2) reading a live /ogc. Run in a process of its own by tests/ogc/test_clients.py: the app's
modules lock GDAL down (gis/guard.py removes the network drivers) in any process that imports them, so this
imports none of them.

Argument: a JSON object {url, userpwd, layer, open_options, log}. Prints one line `GDAL-RESULT {…}`: the
layer's CRS (authority:code), its feature count, each feature's code and geometry bounds (x/y as GDAL hands
them to applications: easting/northing, lon/lat), and the URLs GDAL fetched (from its debug log).
"""

import json
import re
import sys


def main() -> None:
    args = json.loads(sys.argv[1])
    import pyogrio
    import shapely
    from pyogrio import raw

    pyogrio.set_gdal_config_options({"CPL_DEBUG": "ON", "CPL_LOG": args["log"], "GDAL_HTTP_MAX_RETRY": "0"})
    source = f"OAPIF:{args['url']}"
    options = {"USERPWD": args["userpwd"], **args["open_options"]}
    info = pyogrio.read_info(source, layer=args["layer"], **options)
    meta, _, geoms, fields = raw.read(source, layer=args["layer"], columns=["code"], **options)
    with open(args["log"], encoding="utf-8", errors="replace") as log:
        fetched = re.findall(r"HTTP: Fetch\((.*)\)", log.read())
    out = {
        "crs": meta["crs"],
        "count": info["features"],
        "features": {str(code): list(shapely.from_wkb(g).bounds) for code, g in zip(fields[0], geoms, strict=True)},
        "fetched": fetched,
        "gdal": pyogrio.__gdal_version_string__,
    }
    print("GDAL-RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
