"""What `landcycle import` and `export` move (SPEC §5 CLI `--kind`), and the API's imports and exports."""

KINDS = ("parcels", "zones", "districts")
