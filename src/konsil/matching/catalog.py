"""The specialty catalog shipped with Konsil (codes, names, NUCC taxonomy codes)."""

from __future__ import annotations

import csv
from pathlib import Path

CATALOG = Path(__file__).with_name("data") / "specialties.csv"


def rows() -> list[dict]:
    with CATALOG.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def sync(specialty_model) -> int:
    """Create or update the catalog's specialties (parents first). Returns the number of rows."""
    data = rows()
    for row in sorted(data, key=lambda r: bool(r["parent"])):
        specialty_model.objects.update_or_create(
            code=row["code"],
            defaults={"name": row["name"], "nucc_code": row["nucc_code"], "parent_id": row["parent"] or None},
        )
    return len(data)
