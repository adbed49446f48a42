"""The generated demonstration city (SPEC §7)."""
