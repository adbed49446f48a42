"""Districts of the municipality (read-only reference data)."""
