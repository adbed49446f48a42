"""What `landcycle import` and `landcycle export` move (SPEC §5 CLI `--kind`), and `POST /api/v1/imports`
takes as its form's `kind`; an import checks its kind against it too."""

from typing import Literal, get_args

Kind = Literal["parcels", "zones", "districts"]
KINDS: tuple[str, ...] = get_args(Kind)
