"""Enterprises: name, USCC and industry code (SPEC §5 `/enterprises`)."""
