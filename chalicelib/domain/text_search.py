"""Accent- and case-insensitive matching of Vietnamese text: the one fold the search index and its queries share.

Why: issue 9 asks that "kiem thu" find "kiểm thử" in the trích yếu. DynamoDB has no collation, so the folded copy
of a document's subject is written on its record when it is created (chalicelib.outbound.documents) and a search
folds its words the same way and matches them with `contains` (chalicelib.adapters.document_store). Pure code, no
AWS: the record builder, the search and the tests all call `fold`.
"""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "words"]

#: Letters NFD does not decompose: đ/Đ (d with stroke) is a letter of its own in Unicode, not d + a mark.
_NOT_DECOMPOSED = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str) -> str:
    """`text` lower-cased without diacritics, đ/Đ as d, runs of whitespace as one space, trimmed.

    NFD splits every precomposed letter (ế → e + ◌̂ + ◌́), the combining marks (category Mn) are dropped, then
    casefold; "Kiểm  THỬ\\tĐơn vị" → "kiem thu don vi"."""
    decomposed = unicodedata.normalize("NFD", text.translate(_NOT_DECOMPOSED))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(bare.casefold().split())


def words(query: str) -> list[str]:
    """The distinct folded words of a search query, in order (each must occur in the folded subject)."""
    return list(dict.fromkeys(fold(query).split()))
