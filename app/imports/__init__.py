"""Import of parcels, zones and districts from the files planners use (issue 7)."""
