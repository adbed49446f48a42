"""Export of parcels, zones and districts to the files planners use (`landcycle export`, `GET …/export`)."""
