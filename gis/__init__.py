"""Spatial building blocks that know nothing of the application: CRS, geometry, encoders, file I/O."""
