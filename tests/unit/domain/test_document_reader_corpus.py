"""The NĐ 30 reader on PDFs (issue 12, "Read the document", acceptance 1): the five fixture documents rendered as
the suite renders them, and the corpus written for the tests (tests/fixtures/nd30, two-column NĐ 30 layout),
through the same path as POST /v1/documents/draft (text and positions from the PDF, the reader, the registry).
The corpus test prints its score table (run with -s to see it) and needs at least 95% of fields exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.domain.document_reader import read_document
from chalicelib.outbound.draft import draft_answer
from chalicelib.signing.pdf_text import page_lines
from devstack.demo_data import FIXTURES_DIR, SAMPLES
from devstack.sample_pdf import render_text_pdf
from tests.support.nd30_expect import FIELDS, compare, stack_registry
from tests.support.nd30_pdf import CORPUS, corpus, render_nd30_pdf

OFFICIAL = json.loads((CORPUS / "official.json").read_text(encoding="utf-8"))


def _draft(pdf: Path, sender: str) -> dict:
    pages, lines = page_lines(pdf)
    return draft_answer(read_document(lines), stack_registry(), sender, pages=pages)


@pytest.fixture(scope="module")
def corpus_drafts(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict, dict]]:
    folder = tmp_path_factory.mktemp("nd30")
    return [(name, _draft(render_nd30_pdf(text, folder / f"{name}.pdf"), expected["sender"]), expected)
            for name, text, expected in corpus()]


def test_the_corpus_has_ten_documents_of_varied_types() -> None:
    docs = corpus()
    assert len(docs) >= 10
    assert len({expected["metadata"]["type"] for _, _, expected in docs}) >= 8
    assert any(expected["metadata"]["number"] == "" for _, _, expected in docs)


def test_the_corpus_scores_at_least_95_percent_of_fields_exact(corpus_drafts: list[tuple[str, dict, dict]]) -> None:
    exact = total = 0
    rows = []
    for name, draft, expected in corpus_drafts:
        wrong = compare(draft["metadata"], expected["metadata"])
        exact += len(FIELDS) - len(wrong)
        total += len(FIELDS)
        rows.append((name, len(FIELDS) - len(wrong), ", ".join(sorted(wrong)) or "-"))
    score = exact / total
    print("\n| document | exact fields | wrong |\n|---|---|---|")
    for name, good, wrong in rows:
        print(f"| {name} | {good}/{len(FIELDS)} | {wrong} |")
    print(f"| **all {len(rows)} documents** | **{exact}/{total} = {score:.1%}** | |")
    assert score >= 0.95, rows


def test_the_paper_list_is_told_apart_from_the_electronic_one(corpus_drafts: list[tuple[str, dict, dict]]) -> None:
    for _, draft, expected in corpus_drafts:
        if "paper" in expected:
            paper = [r["text"] for r in draft["recipients"] if r["paper"]]
            assert paper == expected["paper"]
            assert all(not r["paper"] for r in draft["recipients"] if r["list"] == "ban_dien_tu")


@pytest.mark.parametrize("titled", [True, False], ids=["subject-as-title", "no-title"])
@pytest.mark.parametrize("file", sorted(k for k in OFFICIAL if not k.startswith("_")))
def test_the_official_documents_read_exactly(file: str, titled: bool, tmp_path: Path) -> None:
    """Rendered as the suite renders them (the subject as the PDF's title line, above the text) and without it."""
    sample = next(s for s in SAMPLES if s.file == file)
    pdf = render_text_pdf(sample.metadata["subject"] if titled else "",
                          (FIXTURES_DIR / file).read_text(encoding="utf-8"), tmp_path / "doc.pdf")
    expected = OFFICIAL[file]
    draft = _draft(pdf, expected["sender"])
    assert compare(draft["metadata"], expected["metadata"]) == {}
    assert set(draft["metadata"]) - {"recipients"} == set(expected["metadata"]) - {"recipients"}  # blanks as blanks


def test_the_news_article_is_not_read_as_a_document(tmp_path: Path) -> None:
    file = "vinhphuc-news-pilot-signing.txt"
    pdf = render_text_pdf("Tin tức", (FIXTURES_DIR / file).read_text(encoding="utf-8"), tmp_path / "news.pdf")
    draft = _draft(pdf, "000.00.12.H62")
    assert draft["metadata"] == {}
    assert "not_nd30_layout" in {w["code"] for w in draft["warnings"]}
    assert draft["nd30_header"] is False
