"""Vector tiles (issue 8): Mapbox Vector Tiles of parcels, zones and districts for the web map."""
