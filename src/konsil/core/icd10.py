"""ICD-10-CM codes through simple-icd-10-cm (CDC release shipped offline with the package)."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import simple_icd_10_cm as cm

_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def normalize(code: str) -> str:
    """Upper-case, trimmed, in the dotted form (C50911 -> C50.911)."""
    code = (code or "").strip().upper()
    return cm.add_dot(code) if _SHAPE.match(code) and cm.is_valid_item(code) else code


def is_valid(code: str) -> bool:
    """A diagnosis code: a category or (extended) subcategory, not a chapter or a block."""
    code = (code or "").strip().upper()
    if not _SHAPE.match(code) or not cm.is_valid_item(code):
        return False
    return cm.is_category_or_subcategory(code) or cm.is_extended_subcategory(code)


@lru_cache(maxsize=4096)
def describe(code: str) -> str:
    try:
        return cm.get_description(code)
    except ValueError:
        return ""


def chapter_and_block(code: str) -> tuple[str, str]:
    """The chapter number and the block a code belongs to: ('9', 'I20-I25'), ('2', 'C50')."""
    chapter = block = ""
    for ancestor in cm.get_ancestors(code):
        if cm.is_chapter(ancestor):
            chapter = ancestor
        elif cm.is_block(ancestor) and not block:
            block = ancestor
    return chapter, block


def tabular_index(code: str) -> int | None:
    """The code's position in the tabular list (C43 < C4A < C44), or None for an unknown code."""
    code = (code or "").strip().upper()
    if not _SHAPE.match(code) or not cm.is_valid_item(code):
        return None
    return cm.get_index(code)


def ancestors(code: str) -> list[str]:
    return list(cm.get_ancestors(code))
