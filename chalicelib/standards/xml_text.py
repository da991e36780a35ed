"""Text that can travel in an XML 1.0 document: which characters, which form (W3C XML 1.0, 5th edition, §2.2).

Every field a client sends may end up in an edXML package (XML 1.0) or a status package, and in a DynamoDB record
(UTF-8). A character XML 1.0 cannot carry (a C0 control such as U+0001, U+FFFE/U+FFFF, a lone surrogate that
UTF-8 cannot even encode) accepted at the API fails later, at dispatch, as if the axis were down
(issue 8: five retries, `FAILED axis_unavailable`, the DLQ). So the rule is checked where text comes in, here.

The production `Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]` is the base; on top
of it, as §2.2 advises against them in documents: the C1 controls U+0080–U+009F and the noncharacters
(U+FDD0–U+FDEF, U+nFFFE/U+nFFFF of every plane) are refused too. Tab, line feed and carriage return are allowed
only in multi-line text, where a CR or CR LF becomes LF (§2.11: an XML parser hands LF on anyway).

Text is returned in Unicode Normalization Form C (UAX #15): Vietnamese arrives in NFD from some systems (a base
letter and its combining marks), and the same subject must compare, search and count the same whichever form it
came in; lengths are counted after normalisation, in code points.

Pure: no I/O, no third-party imports. `chalicelib.domain.text` builds the API's validators on it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["TextRejected", "check_text", "first_bad_char"]

#: Characters never allowed: outside XML 1.0 `Char` (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF), the C1
#: controls, and the noncharacters U+FDD0–U+FDEF and U+nFFFE/U+nFFFF of the supplementary planes.
_NEVER = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(1, 17))
    + "]"
)
#: Tab, LF and CR: allowed in multi-line text only.
_LINE_BREAKS = re.compile("[\t\n\r]")


class TextRejected(ValueError):
    """Why a text cannot be accepted: `reason` is `control_character`, `surrogate`, `noncharacter`,
    `line_break` (tab/LF/CR in single-line text), `too_long` or `too_short`; `position` is the code point's index
    (in the text as given) for a character problem, and `char` its `U+XXXX` name; `limit` the length bound."""

    def __init__(self, kind: str, position: int | None = None, char: str | None = None,
                 limit: int | None = None) -> None:
        super().__init__(kind)
        self.reason, self.position, self.char, self.limit = kind, position, char, limit

    def details(self) -> dict[str, object]:
        """What an API answer may say about it (never the text itself)."""
        out: dict[str, object] = {"reason": self.reason}
        if self.position is not None:
            out.update(position=self.position, char=self.char)
        if self.limit is not None:
            out["limit"] = self.limit
        return out

    def __str__(self) -> str:
        where = f" at {self.position} ({self.char})" if self.position is not None else ""
        return f"{self.reason}{where}"


def _kind(char: str) -> str:
    point = ord(char)
    if 0xD800 <= point <= 0xDFFF:
        return "surrogate"
    if point < 0x20 or 0x7F <= point <= 0x9F:
        return "control_character"
    return "noncharacter"


def first_bad_char(text: str, *, multiline: bool = False) -> TextRejected | None:
    """The first character `text` may not carry, as a TextRejected, or None when every character is allowed."""
    bad = _NEVER.search(text)
    if bad is None and not multiline:
        bad = _LINE_BREAKS.search(text)
        if bad is not None:
            return TextRejected("line_break", bad.start(), f"U+{ord(bad.group()):04X}")
    if bad is None:
        return None
    return TextRejected(_kind(bad.group()), bad.start(), f"U+{ord(bad.group()):04X}")


def check_text(text: str, *, max_len: int | None = None, min_len: int = 0, multiline: bool = False,
               strip: bool = True) -> str:
    """`text` in NFC (line breaks as LF, surrounding whitespace stripped unless `strip=False`), or TextRejected.

    Characters are checked before normalising (NFC maps no forbidden character to an allowed one, nor the
    reverse); lengths after, in code points."""
    problem = first_bad_char(text, multiline=multiline)
    if problem is not None:
        raise problem
    if multiline and "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    if strip:
        text = text.strip()
    if max_len is not None and len(text) > max_len:
        raise TextRejected("too_long", limit=max_len)
    if len(text) < min_len:
        raise TextRejected("too_short", limit=min_len)
    return text
