"""Recipients as a document writes them ("Sở TT&TT", "UBND các huyện, thành phố", "TT HĐND tỉnh") resolved to the
identifier codes of the agency registry (issue 12, "Read the document"). Pure: the registry's agencies come in as
`Known` (chalicelib.outbound.draft reads them through the registry port), the caller's province scopes what "tỉnh"
and the groups mean.

How a written entry is matched, first rule that gives something:
1. "Lưu: VT, …" is the issuer's own file (`archive`), "Như trên" / "Như kg" the addressees already named under
   "Kính gửi:" (`as_above`, their codes);
2. a group of the province (NĐ 30 practice, the lists of provincial documents): "Các sở, ban, ngành", "Các sở, cơ
   quan thuộc UBND tỉnh" → the province's level-2 sở, ban and thanh tra (QCVN 102:2016 level 2 under the province's
   code, by name); "UBND các huyện, thành phố" → the province's district committees; "UBND các xã, phường, thị
   trấn" → its commune committees (level 3); "UBND các tỉnh, thành phố trực thuộc Trung ương" → the other provinces'
   committees; "Các Bộ, cơ quan ngang Bộ" → the ministries (level 1 `G`, named "Bộ …"). The sender is never in a
   group;
3. a name, accent- and case-insensitive (chalicelib.domain.text_search.fold), abbreviations spelt out (UBND, HĐND,
   TT&TT, KH&ĐT, GD&ĐT, TN&MT, VP...), "Thường trực" / "TT" before HĐND dropped, "tỉnh" read as the caller's
   province, trailing notes such as "(b/c)" dropped; then, if the whole entry names nothing, each of its
   comma-separated parts ("TT Tỉnh ủy, TT HĐND tỉnh");
4. the issuer's own people and units ("Chủ tịch, các PCT UBND tỉnh", "CPVP", "LĐVP", "CV: VX3") are `internal`;
   anything else is `unresolved` (no registered agency by that name: the clerk picks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.domain.document_reader import WrittenRecipient
from chalicelib.domain.text_search import fold

__all__ = ["Known", "Resolved", "province_name", "resolve_recipients"]

_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"\bubnd\b", "uy ban nhan dan"), (r"\bhdnd\b", "hoi dong nhan dan"),
    (r"\btt ?& ?tt\b|\btttt\b", "thong tin va truyen thong"), (r"\bkh ?& ?dt\b|\bkhdt\b", "ke hoach va dau tu"),
    (r"\bgd ?& ?dt\b|\bgddt\b", "giao duc va dao tao"), (r"\btn ?& ?mt\b|\btnmt\b", "tai nguyen va moi truong"),
    (r"\bnn ?& ?ptnt\b|\bnnptnt\b", "nong nghiep va phat trien nong thon"),
    (r"\bldtb ?& ?xh\b|\bldtbxh\b", "lao dong thuong binh va xa hoi"),
    (r"\bvh, ?tt ?& ?dl\b|\bvhttdl\b", "van hoa the thao va du lich"), (r"\bkh ?& ?cn\b|\bkhcn\b",
                                                                        "khoa hoc va cong nghe"),
    (r"\bgtvt\b", "giao thong van tai"), (r"\bvp\b", "van phong"), (r"\bstttt\b", "so thong tin va truyen thong"),
    (r"\bsnv\b", "so noi vu"),
)
_STANDING = re.compile(r"^(thuong truc|tt) ?(?=hdnd|hoi dong nhan dan|tinh uy)")
_NOTE = re.compile(r"\s*\((b/c|d/b|t/h|p/h|de [^)]{1,30}|[^)]{0,12})\)\s*$")
#: Matched on the folded text as written (before punctuation goes): "CV: VX3", "VP UBND tỉnh: LĐVP, …".
_INTERNAL = re.compile(r"^(chu tich|ct\b|cac pct|pct|cpvp|ldvp|cv\s*:|lanh dao|tkct|cac phong|truong cac phong|"
                       r"(vp|van phong) (ubnd|uy ban nhan dan) tinh\s*:)")
_GROUPS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("departments", re.compile(r"^((thu truong|giam doc) )?cac so\b")),
    # "UBND các huyện, thành phố", "UBND huyện, thành phố" (never "UBND huyện Hiệp Hòa": a name)
    ("districts", re.compile(r"^(chu tich )?uy ban nhan dan (cac huyen|huyen (thi xa )?thanh pho)\b")),
    ("communes", re.compile(r"^(uy ban nhan dan )?cac xa\b")),
    ("provinces", re.compile(r"^(uy ban nhan dan )?cac tinh\b")),
    ("ministries", re.compile(r"^cac bo\b")),
)


@dataclass(frozen=True)
class Known:
    """A registered agency as matching sees it."""

    organ_id: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class Resolved:
    """A written entry with the codes it names; `note` as `WrittenRecipient.note`, or `group`, `internal`,
    `unresolved`."""

    text: str
    list: str
    paper: bool
    organ_ids: list[str] = field(default_factory=list)
    note: str = ""


def canonical(text: str) -> str:
    """Folded, abbreviations spelt out, punctuation as spaces: the form names are compared in."""
    folded = _NOTE.sub("", fold(text))
    folded = re.sub(r"^tt(?=hdnd)", "tt ", folded)
    folded = _STANDING.sub("", folded)
    for pattern, spelt in _ABBREVIATIONS:
        folded = re.sub(pattern, spelt, folded)
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())


def province_name(agencies: Iterable[Known], sender: str) -> str:
    """The sender's province as names write it ("Vĩnh Phúc"), from its province committee's registered name."""
    code = "000.00.00." + sender.rsplit(".", 1)[-1]
    for agency in agencies:
        if agency.organ_id == code:
            return re.sub(r"^(UBND|Ủy ban nhân dân|Uỷ ban nhân dân)\s+(tỉnh|thành phố)\s+", "", agency.name,
                          flags=re.IGNORECASE)
    return ""


def resolve_recipients(entries: list[WrittenRecipient], agencies: list[Known], sender: str) -> list[Resolved]:
    """Each entry with the codes it names (module docstring)."""
    active = [a for a in agencies if a.active]
    province = fold(province_name(active, sender))
    index: dict[str, list[str]] = {}
    for agency in active:
        index.setdefault(canonical(agency.name), []).append(agency.organ_id)
    addressees = [code for e in entries if e.list == "kinh_gui"
                  for code in _match(e.text, index, active, sender, province)[0]]
    out: list[Resolved] = []
    for entry in entries:
        if entry.note == "archive":
            out.append(Resolved(entry.text, entry.list, entry.paper, [], "archive"))
        elif entry.note == "as_above":
            out.append(Resolved(entry.text, entry.list, entry.paper, list(dict.fromkeys(addressees)), "as_above"))
        else:
            codes, note = _match(entry.text, index, active, sender, province)
            out.append(Resolved(entry.text, entry.list, entry.paper, codes, note))
    return out


def _match(text: str, index: dict[str, list[str]], agencies: list[Known], sender: str,
           province: str) -> tuple[list[str], str]:
    name = canonical(text)
    for group, pattern in _GROUPS:
        if pattern.match(name):
            return _group(group, agencies, sender), "group"
    found = _by_name(name, index, province)
    if found:
        return found, ""
    if _INTERNAL.match(fold(text)):
        return [], "internal"
    parts = [canonical(p) for p in text.split(",") if p.strip()]
    codes = [code for part in parts if len(parts) > 1 for code in _by_name(part, index, province)]
    return (list(dict.fromkeys(codes)), "") if codes else ([], "unresolved")


def _by_name(name: str, index: dict[str, list[str]], province: str) -> list[str]:
    """Codes registered under this name, as written or in the caller's province ("tỉnh" = that province)."""
    if not name:
        return []
    tries = [name]
    if province:
        tries += [f"{name} {province}", f"{name.removesuffix(' tinh')} tinh {province}",
                  f"{name.removesuffix(' tinh')} {province}"]
    for attempt in tries:
        if attempt in index:
            return list(index[attempt])
    return []


def _group(group: str, agencies: list[Known], sender: str) -> list[str]:
    """The province's (or the country's) registered agencies a group names, in code order, the sender left out."""
    province = sender.rsplit(".", 1)[-1]
    level2 = re.compile(rf"^000\.00\.(?!00)\d{{2}}\.{re.escape(province)}$")
    level3 = re.compile(rf"^000\.(?!00)\d{{2}}\.\d{{2}}\.{re.escape(province)}$")
    picked: list[str] = []
    for agency in agencies:
        name, code = canonical(agency.name), agency.organ_id
        if code == sender:
            continue
        if group == "departments":
            ok = bool(level2.match(code)) and name.startswith(("so ", "ban ", "thanh tra"))
        elif group == "districts":
            ok = bool(level2.match(code)) and name.startswith(tuple(f"uy ban nhan dan {k}"
                                                                    for k in ("huyen", "thanh pho", "thi xa")))
        elif group == "communes":
            ok = bool(level3.match(code)) and name.startswith(tuple(f"uy ban nhan dan {k}"
                                                                    for k in ("xa", "phuong", "thi tran")))
        elif group == "provinces":
            ok = bool(re.match(r"^000\.00\.00\.H\d{2}$", code)) and not code.endswith(province) and \
                name.startswith(("uy ban nhan dan tinh", "uy ban nhan dan thanh pho"))
        else:
            ok = bool(re.match(r"^000\.00\.00\.G\d{2}$", code)) and name.startswith("bo ")
        if ok:
            picked.append(code)
    return sorted(picked)
