"""Vector tiles (SPEC §5 "Web page"): Mapbox Vector Tiles of parcels, zones and districts for the web map."""
