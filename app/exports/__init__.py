"""Export of parcels, zones and districts to the files planners use (issue 7)."""
