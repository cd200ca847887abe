"""US states and counties shipped with the app (geo_data/NOTICE.md): 2020 population and USDA RUCC 2023."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("geo_data")
RURAL_FROM = 4  # RUCC 1-3 metropolitan, 4-9 non-metropolitan (USDA ERS)


@dataclass(frozen=True)
class State:
    fips: str
    usps: str
    name: str
    region: str
    is_state: bool
    population: int


@dataclass(frozen=True)
class County:
    fips: str
    usps: str
    name: str
    population: int
    rucc: int

    @property
    def rural(self) -> bool:
        return self.rucc >= RURAL_FROM


@cache
def states() -> dict[str, State]:
    """USPS code -> State (50 states, DC and 5 territories)."""
    with open(DATA / "states.csv", encoding="utf-8", newline="") as fh:
        return {row["usps"]: State(row["fips"], row["usps"], row["name"], row["census_region"],
                                   row["is_state"] == "1", int(row["population_2020"]))
                for row in csv.DictReader(fh)}


@cache
def counties() -> dict[str, County]:
    """Five-digit FIPS -> County."""
    with open(DATA / "counties.csv", encoding="utf-8", newline="") as fh:
        return {row["fips"]: County(row["fips"], row["usps"], row["name"], int(row["population_2020"]),
                                    int(row["rucc_2023"]))
                for row in csv.DictReader(fh) if row["rucc_2023"]}


def county(fips: str | None) -> County | None:
    return counties().get(fips or "")


@cache
def county_choices(usps: str) -> list[tuple[str, str]]:
    """(FIPS, name) of a state's counties, sorted by name: the intake form's county picker."""
    return sorted(((c.fips, c.name) for c in counties().values() if c.usps == usps), key=lambda pair: pair[1])


def county_in_state(fips: str, usps: str) -> bool:
    found = county(fips)
    return found is not None and found.usps == usps


@cache
def county_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Counties grouped by state for a <select> with optgroups: [("CA", [(FIPS, name), ...]), ...]."""
    return [(usps, county_choices(usps)) for usps in sorted({c.usps for c in counties().values()})]
