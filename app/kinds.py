"""What `landcycle import` and `landcycle export` move (SPEC §5 CLI `--kind`); an import checks its kind
against it too (`POST /api/v1/imports` spells the same three in its form's type)."""

KINDS = ("parcels", "zones", "districts")
