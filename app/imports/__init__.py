"""Import of parcels, zones and districts from the files planners use (`landcycle import`, `POST /imports`)."""
