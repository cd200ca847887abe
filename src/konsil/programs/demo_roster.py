"""The demo's employer roster as an X12 834 file (data/acme_roster_834.x12): ~500 fictional members,
subscribers and dependants, a few terminated. `python -m konsil.programs.demo_roster` writes it again."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

PATH = Path(__file__).parent / "data" / "acme_roster_834.x12"
GIVEN = ("Ava", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ian", "Jo", "Kai", "Lea", "Max", "Nia", "Omar",
         "Pia", "Raj", "Sol", "Tess", "Uri", "Vera", "Wes", "Yara", "Zed")
FAMILY = ("Acosta", "Bauer", "Chan", "Diaz", "Eze", "Ford", "Gray", "Hale", "Ibarra", "Jung", "Khan", "Lund",
          "Mora", "Nash", "Ortiz", "Park", "Quinn", "Reyes", "Shah", "Tate", "Vega", "Wolfe", "Young", "Zhou")
CITIES = (("Austin", "78701"), ("Dallas", "75201"), ("Houston", "77002"), ("San Antonio", "78205"))


def members(n_subscribers: int = 330, seed: int = 14) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    start = dt.date(2026, 1, 1)
    for i in range(1, n_subscribers + 1):
        family = rng.choice(FAMILY)
        city, postal = rng.choice(CITIES)
        mid = f"ACM{i:05d}"
        end = dt.date(2026, rng.choice((3, 6, 9)), 28) if rng.random() < 0.04 else None
        sub = {"member_id": mid, "subscriber_id": mid, "relationship": "subscriber", "given_name": rng.choice(GIVEN),
               "family_name": family, "birth_date": dt.date(rng.randint(1958, 2002), rng.randint(1, 12),
                                                            rng.randint(1, 28)),
               "sex": rng.choice("FM"), "coverage_start": start, "coverage_end": end,
               "address": f"{rng.randint(10, 9999)} {rng.choice(('Oak', 'Elm', 'Main', 'Lamar'))} St", "city": city,
               "state": "TX", "postal_code": postal, "action": "add"}
        rows.append(sub)
        for k in range(rng.choice((0, 0, 1, 2))):
            rel = "spouse" if k == 0 and rng.random() < 0.6 else "child"
            born = (dt.date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28)) if rel == "spouse"
                    else dt.date(rng.randint(2005, 2024), rng.randint(1, 12), rng.randint(1, 28)))
            rows.append({**sub, "member_id": f"{mid}-{k + 1:02d}", "relationship": rel,
                         "given_name": rng.choice(GIVEN), "birth_date": born, "sex": rng.choice("FM")})
    return rows


def write(path: Path = PATH) -> int:
    from . import x12

    rows = members()
    path.write_text(x12.write_834(rows, sponsor="Acme Corp Benefits", sponsor_tax_id="741234567",
                                  receiver="Konsil Network", control=2026001, when=dt.datetime(2026, 1, 2, 8, 0)))
    return len(rows)


if __name__ == "__main__":
    print(write(), "members written to", PATH)
