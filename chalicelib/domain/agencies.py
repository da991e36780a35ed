"""The agency registry's pure rules: name folding for search, list filters and order, and the comparison of the
registry with the axis directory (issue 9, "Agency registry" and "Sync from the axis directory").

Why pure: the admin use cases (chalicelib.admin.agencies, chalicelib.admin.agency_sync) decide with these and the
unit tests check them without DynamoDB or the axis. Level and parent always come from the code
(chalicelib.standards.identifiers, QCVN 102:2016), never from what a client or the directory says.

The sync's decisions (documented in docs/contract.md#agency-registry):
- a code in the directory and not in the registry is **added** (`source: "axis"`, not served, active);
- a registered agency whose directory name differs is **renamed**, except a served one: its name is printed in its
  own signatures (NĐ 30 Phụ lục I), so the rename is **held** for an admin to apply with PATCH, and reported;
- an active agency the directory no longer lists is **withdrawn** (set inactive, never deleted) only when it came
  from the directory (`source: "axis"`); one an admin registered by hand (`source: "local"`, e.g. a unit not yet on
  the national directory) is left alone; a served one, wherever it came from, is **held** (reported, never
  deactivated silently: the gateway signs and polls for it, and only an admin can decide it stopped);
- an inactive agency that comes back in the directory is not reactivated by the sync (an admin deactivated it, or
  it was withdrawn once: either way a person decides), it is only renamed if its name changed;
- directory entries whose code is not strict are skipped (counted): the registry holds strict codes only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.standards.identifiers import is_strict, level, parent

__all__ = ["AgencyFilter", "DirectoryDiff", "DirectoryEntry", "Held", "Renamed", "SOURCE_AXIS", "SOURCE_LOCAL",
           "compare", "directory_entries", "fold_name", "list_order", "matches"]

SOURCE_LOCAL = "local"
SOURCE_AXIS = "axis"


def fold_name(text: str) -> str:
    """A name as search compares it: lower case, no diacritics (NFD, marks dropped), đ → d, single spaces.

    "Sở Tài chính" and "so tai  CHINH" fold alike, so an admin without a Vietnamese keyboard finds the agency.
    """
    text = text.replace("Đ", "d").replace("đ", "d")
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return " ".join(stripped.casefold().split())


@dataclass(frozen=True)
class AgencyFilter:
    """The filters of `GET /v1/admin/agencies`: each None means "any"."""

    q: str | None = None  # folded words; every word must occur in the folded name (or the code)
    level: int | None = None
    parent: str | None = None
    served: bool | None = None
    active: bool | None = None

    def words(self) -> list[str]:
        return fold_name(self.q).split() if self.q else []


def matches(item: Mapping[str, Any], wanted: AgencyFilter) -> bool:
    """Whether a registry item passes the filters (level and parent from its code)."""
    code = str(item.get("organ_id", ""))
    if wanted.level is not None and level(code) != wanted.level:
        return False
    if wanted.parent is not None and parent(code) != wanted.parent:
        return False
    if wanted.served is not None and bool(item.get("served", False)) != wanted.served:
        return False
    if wanted.active is not None and bool(item.get("active", True)) != wanted.active:
        return False
    words = wanted.words()
    if words:
        folded = str(item.get("name_folded") or fold_name(str(item.get("name", ""))))
        haystack = f"{folded} {code.casefold()}"
        if not all(word in haystack for word in words):
            return False
    return True


def list_order(code: str) -> tuple[str, ...]:
    """The list's order: codes read top level first (`H62`, then its level 2, 3, 4), so a province's agencies
    sit together under their parent; codes are written lowest level first (identifiers.md)."""
    return tuple(reversed(code.split(".")))


# -- the axis directory ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryEntry:
    """One agency of getAgenciesList (`code`, `name`, `mail`), as the sync reads it."""

    organ_id: str
    name: str
    email: str = ""


@dataclass(frozen=True)
class Renamed:
    organ_id: str
    old: str
    new: str

    def as_dict(self) -> dict[str, str]:
        return {"organ_id": self.organ_id, "from": self.old, "to": self.new}


@dataclass(frozen=True)
class Held:
    """A change the directory asks for that the sync does not apply (a served agency): reported for an admin."""

    organ_id: str
    change: str  # "renamed" | "withdrawn"
    old: str = ""
    new: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"organ_id": self.organ_id, "change": self.change}
        if self.change == "renamed":
            out.update({"from": self.old, "to": self.new})
        return out


@dataclass(frozen=True)
class DirectoryDiff:
    added: list[DirectoryEntry] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0


def directory_entries(rows: Iterable[Mapping[str, Any]]) -> tuple[list[DirectoryEntry], int]:
    """getAgenciesList rows as entries (strict codes only, the first row of a code wins) and how many were
    skipped (a code that is not strict, or a row without a name)."""
    entries: dict[str, DirectoryEntry] = {}
    skipped = 0
    for row in rows:
        code = str(row.get("code") or "").strip()
        name = " ".join(str(row.get("name") or "").split())
        if not is_strict(code) or not name:
            skipped += 1
            continue
        entries.setdefault(code, DirectoryEntry(code, unicodedata.normalize("NFC", name),
                                                str(row.get("mail") or "").strip()))
    return list(entries.values()), skipped


def compare(directory: Iterable[DirectoryEntry], registry: Iterable[Mapping[str, Any]],
            skipped: int = 0) -> DirectoryDiff:
    """What the sync does, decided on the directory and the registry's items (see the module's rules)."""
    listed = {e.organ_id: e for e in directory}
    known = {str(i["organ_id"]): i for i in registry}
    diff = DirectoryDiff(skipped=skipped)
    unchanged = 0
    for code in sorted(listed, key=list_order):
        entry = listed[code]
        item = known.get(code)
        if item is None:
            diff.added.append(entry)
        elif unicodedata.normalize("NFC", str(item.get("name", ""))) != unicodedata.normalize("NFC", entry.name):
            old = str(item.get("name", ""))
            if item.get("served"):
                diff.held.append(Held(code, "renamed", old, entry.name))
            else:
                diff.renamed.append(Renamed(code, old, entry.name))
        else:
            unchanged += 1
    for code in sorted(set(known) - set(listed), key=list_order):
        item = known[code]
        if not item.get("active", True):
            continue
        if item.get("served"):
            diff.held.append(Held(code, "withdrawn"))
        elif item.get("source", SOURCE_LOCAL) == SOURCE_AXIS:
            diff.withdrawn.append(code)
    return DirectoryDiff(added=diff.added, renamed=diff.renamed, withdrawn=diff.withdrawn, held=diff.held,
                         unchanged=unchanged, skipped=skipped)
