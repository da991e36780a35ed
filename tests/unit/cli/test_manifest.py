"""`edoc send-dir`'s batch: which files are documents, their metadata from sidecars or one CSV, and a PDF without
metadata kept as a named failure (edoc_cli.manifest)."""

from __future__ import annotations

import json
from pathlib import Path

from edoc_cli.manifest import from_manifest, from_sidecars, metadata_from_row

META = {"number": "12", "notation": "UBND-VX", "type": "CV", "subject": "V/v thử", "issued_on": "2026-12-01",
        "place": "Vĩnh Phúc", "signer": {"full_name": "Nguyễn Văn A"}, "recipients": ["000.00.00.G22"]}


def _pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.7\n%%EOF\n")
    return path


def test_sidecars_pair_each_pdf_with_its_json_and_phu_luc(tmp_path: Path) -> None:
    _pdf(tmp_path / "a.pdf")
    (tmp_path / "a.json").write_text(json.dumps(META), encoding="utf-8")
    _pdf(tmp_path / "a.att-2.pdf")
    _pdf(tmp_path / "a.att-1.pdf")
    _pdf(tmp_path / "b.pdf")  # no sidecar
    (tmp_path / "c.json").write_text("[1]", encoding="utf-8")
    _pdf(tmp_path / "c.pdf")
    (tmp_path / "d.json").write_text("{not json", encoding="utf-8")
    _pdf(tmp_path / "d.pdf")

    items = {i.pdf.name: i for i in from_sidecars(tmp_path)}

    assert sorted(items) == ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]  # a phụ lục is never a document of its own
    a = items["a.pdf"]
    assert [p.name for p in a.attachments] == ["a.att-1.pdf", "a.att-2.pdf"]
    assert a.metadata["attachments"] == [{"name": "Phụ lục 1", "file_name": "a.att-1.pdf"},
                                         {"name": "Phụ lục 2", "file_name": "a.att-2.pdf"}]
    assert a.problem is None
    assert items["b.pdf"].metadata is None and "b.json" in items["b.pdf"].problem
    assert "đối tượng JSON" in items["c.pdf"].problem
    assert "không phải JSON" in items["d.pdf"].problem


def test_named_attachments_in_the_sidecar_are_kept(tmp_path: Path) -> None:
    _pdf(tmp_path / "a.pdf")
    _pdf(tmp_path / "a.att-1.pdf")
    (tmp_path / "a.json").write_text(json.dumps({**META, "attachments": [{"name": "Danh sách"}]}), encoding="utf-8")
    (item,) = from_sidecars(tmp_path)
    assert item.metadata["attachments"] == [{"name": "Danh sách"}]


def test_csv_rows_become_the_api_body(tmp_path: Path) -> None:
    _pdf(tmp_path / "x.pdf")
    _pdf(tmp_path / "x-pl.pdf")
    manifest = tmp_path / "batch.csv"
    manifest.write_text(
        "file,number,notation,type,issued_on,place,subject,signer_full_name,signer_position,signer_competence,"
        "recipients,urgency,attachments\n"
        "x.pdf,7,UBND-VP,TB,2026-12-01,Vĩnh Phúc,\"Thông báo, kết luận\",Trần B,CHÁNH VĂN PHÒNG,,"
        "000.00.00.G22; 000.00.00.K62,urgent,x-pl.pdf\n"
        "missing.pdf,8,UBND-VP,TB,2026-12-01,Vĩnh Phúc,x,Trần B,,,000.00.00.G22,,\n"
        "x.pdf,9,UBND-VP,TB,2026-12-01,Vĩnh Phúc,x,Trần B,,,000.00.00.G22,,nope.pdf\n",
        encoding="utf-8-sig")

    first, missing, bad_attachment = from_manifest(tmp_path, manifest)

    assert first.metadata == {
        "number": "7", "notation": "UBND-VP", "type": "TB", "issued_on": "2026-12-01", "place": "Vĩnh Phúc",
        "subject": "Thông báo, kết luận", "signer": {"full_name": "Trần B", "position": "CHÁNH VĂN PHÒNG"},
        "recipients": ["000.00.00.G22", "000.00.00.K62"], "urgency": "urgent",
        "attachments": [{"name": "x-pl", "file_name": "x-pl.pdf"}]}
    assert [p.name for p in first.attachments] == ["x-pl.pdf"]
    assert missing.metadata is None and "dòng 3" in missing.problem and "missing.pdf" in missing.problem
    assert bad_attachment.metadata is None and "nope.pdf" in bad_attachment.problem


def test_empty_optional_cells_are_left_out() -> None:
    meta = metadata_from_row({"number": "", "notation": "A", "recipients": "", "urgency": " ", "due_date": ""})
    assert "urgency" not in meta and "due_date" not in meta and meta["recipients"] == [] and meta["signer"] == {}


def test_a_number_left_to_the_gateway_passes_through_as_given(tmp_path: Path) -> None:
    """Issue 12: "auto", an empty cell or no number column at all: the gateway issues the number at signing."""
    assert metadata_from_row({"number": " auto ", "notation": "UBND-VP"})["number"] == "auto"
    assert metadata_from_row({"number": "", "notation": "UBND-VP"})["number"] == ""
    assert metadata_from_row({"notation": "UBND-VP"})["number"] == ""
    _pdf(tmp_path / "a.pdf")
    (tmp_path / "a.json").write_text(json.dumps({**META, "number": "auto"}), encoding="utf-8")
    (item,) = from_sidecars(tmp_path)
    assert item.problem is None and item.metadata["number"] == "auto"
