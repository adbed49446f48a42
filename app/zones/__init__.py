"""Industrial zones (bases and communities): the polygons that give parcels their tier."""
