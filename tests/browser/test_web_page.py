"""The web page in a real browser (issue 10): a clerk signs in, sends a PDF with a phụ lục dropped on the page,
watches it reach DISPATCHED with its recipients, downloads the signed PDF (pdfsig: valid) and sees a secret document
refused with the gateway's own message; the recipient's clerk answers it from the inbox; an admin signs in with
the TOTP code and reads the monthly report, whose numbers are the API's.

Given the session's embedded stack (web page, API, moto, axis simulator), when Chromium drives the page as a person
would (typing, Enter in the recipient picker, a file input and a drop), then what the page shows is what the
gateway answers to a direct call (devstack.client.GatewayClient).
"""

from __future__ import annotations

import base64
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from chalicelib.core.error_codes import CODES
from devstack.client import GatewayClient
from devstack.demo_data import SAMPLES
from devstack.pdftools import pdfsig_report
from devstack.provision.cognito import totp_code
from devstack.sample_pdf import render_text_pdf
from tests.browser.conftest import page_errors, screenshot
from tests.e2e.helpers import eventually

pytestmark = pytest.mark.e2e

SENDER = "clerk-ubnd-vp"  # UBND tỉnh Vĩnh Phúc 000.00.00.H62
RECIPIENT = "clerk-snv-vp"  # Sở Nội vụ 000.00.13.H62, served: the document lands in its inbox
SNV, VPCP = "000.00.13.H62", "000.00.00.G22"


def wait(driver: Any, timeout: float = 30) -> WebDriverWait:
    """A wait that looks again when the page re-rendered what it was reading (the pages redraw as data arrives)."""
    return WebDriverWait(driver, timeout, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def sign_in(driver: Any, stack: dict[str, Any], username: str) -> None:
    driver.get(stack["web_url"])
    user = wait(driver).until(ec.element_to_be_clickable((By.NAME, "username")))
    user.send_keys(username)
    password = next(u["password"] for u in stack["users"] if u["username"] == username)
    driver.find_element(By.NAME, "password").send_keys(password, Keys.ENTER)


def sign_out(driver: Any) -> None:
    driver.find_element(By.ID, "logout").click()
    wait(driver).until(ec.visibility_of_element_located((By.NAME, "username")))


def go(driver: Any, hash_: str) -> None:
    driver.execute_script("location.hash = arguments[0]", hash_)


def fill_form(driver: Any, metadata: dict[str, Any]) -> None:
    form = wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "main form")))
    for name, value in (("number", metadata["number"]), ("notation", metadata["notation"]),
                        ("subject", metadata["subject"]), ("place", metadata["place"]),
                        ("signer_full_name", metadata["signer"]["full_name"]),
                        ("signer_position", metadata["signer"]["position"]),
                        ("signer_competence", metadata["signer"]["competence"])):
        form.find_element(By.NAME, name).send_keys(value)
    Select(form.find_element(By.NAME, "type")).select_by_value(metadata["type"])
    # a date input takes the date as the locale shows it: set its value as a person's picker would
    driver.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, "issued_on"),
                          metadata["issued_on"])


def pick_recipient(driver: Any, typed: str, organ_id: str) -> None:
    combo = driver.find_element(By.CSS_SELECTOR, "input[role=combobox]")
    combo.send_keys(typed)
    wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, f".suggest li[data-organ-id='{organ_id}']")))
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".suggest li[aria-selected=true]")
                       .get_attribute("data-organ-id") == organ_id)
    combo.send_keys(Keys.ENTER)
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, f".chips li[data-organ-id='{organ_id}']")))


def drop_file(driver: Any, zone: Any, path: Path) -> None:
    """A file dropped on the zone, as from the desktop: a DataTransfer with the file, then `drop`."""
    driver.execute_script("""
        const [zone, name, b64] = arguments;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, {type: 'application/pdf'}));
        zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
    """, zone, path.name, base64.b64encode(path.read_bytes()).decode())


def real_errors(driver: Any) -> list[str]:
    """Console errors other than the HTTP refusals the page shows on purpose (a 422 is logged by the browser)."""
    return [m for m in page_errors(driver) if "Failed to load resource" not in m]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    sample = SAMPLES[0]
    folder = tmp_path_factory.mktemp("web-pdfs")
    return {"main": render_text_pdf(sample.metadata["subject"], sample.text(), folder / "congvan-7413.pdf"),
            "annex": render_text_pdf("Phụ lục I", "Danh sách các nhiệm vụ\n1. Số hóa hồ sơ.", folder / "phu-luc-I.pdf")}


@pytest.fixture(scope="module")
def sent(browser: Any, stack: dict[str, Any], pdfs: dict[str, Path]) -> dict[str, Any]:
    """The clerk's document, sent through the page: its id and metadata."""
    driver = browser
    sign_in(driver, stack, SENDER)
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Văn bản đi']")))
    go(driver, "#/documents/new")
    metadata = dict(SAMPLES[0].metadata, number=str(int(time.time() * 1000)))  # its own number, for the inbox
    fill_form(driver, metadata)
    pick_recipient(driver, "so noi vu", SNV)  # name without accents, picked with the keyboard
    pick_recipient(driver, "G22", VPCP)  # by code
    zones = driver.find_elements(By.CSS_SELECTOR, ".drop")
    zones[0].find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(pdfs["main"]))
    drop_file(driver, zones[1], pdfs["annex"])
    wait(driver).until(lambda d: "phu-luc-I.pdf" in d.find_element(By.CSS_SELECTOR, "main form").text)
    screenshot(driver, "clerk-new-document")
    # the upload bars' highest value, whatever replaced them since (a small PDF uploads in a blink)
    driver.execute_script("""
        window.__progress = [];
        new MutationObserver((changes) => changes.forEach((c) => c.target.tagName === 'PROGRESS'
            && window.__progress.push(Number(c.target.value)))).observe(document.body,
            {subtree: true, attributes: true, attributeFilter: ['value']});""")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait(driver, 60).until(lambda d: d.execute_script("return location.hash").startswith("#/documents/")
                           and not d.execute_script("return location.hash").endswith("/new"))
    document_id = driver.execute_script("return location.hash").split("/")[-1]
    assert 100 in driver.execute_script("return window.__progress"), "no upload progress reached 100%"
    return {"document_id": document_id, "metadata": metadata}


def test_a_clerk_sends_a_pdf_and_watches_it_reach_dispatched_with_its_recipients(browser, stack, sent):
    driver = browser
    wait(driver, 90).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, ".card .badge[data-state='DISPATCHED']")))
    # read at once in the page (it redraws when a recipient's status changes)
    rows = wait(driver).until(lambda d: d.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('tr[data-organ-id]')]"
        ".map((r) => [r.dataset.organId, r.innerText]))") or None)
    assert set(rows) == {SNV, VPCP}
    timeline = driver.execute_script(
        "return [...document.querySelectorAll('.timeline li')].map((li) => li.dataset.state)")
    assert timeline == ["AWAITING_UPLOAD", "UPLOADED", "SIGNED", "DISPATCHED"]
    # the page shows what the API answers
    client = GatewayClient(stack)
    record = client.get_document(client.login(SENDER), sent["document_id"])
    assert record["state"] == "DISPATCHED"
    assert {d["organ_id"] for d in record["deliveries"]} == {SNV, VPCP}
    assert sent["metadata"]["number"] in driver.find_element(By.CSS_SELECTOR, "dl.meta").text
    assert "Sở Nội vụ" in rows[SNV] and "Văn phòng Chính phủ" in rows[VPCP]
    assert "Phụ lục 1" in driver.find_element(By.CSS_SELECTOR, "dl.meta").text
    screenshot(driver, "clerk-document-dispatched")
    assert real_errors(driver) == []


def test_the_clerk_downloads_the_signed_pdf_and_pdfsig_finds_it_valid(browser, stack, sent, tmp_path):
    driver = browser
    if not driver.execute_script("return location.hash").endswith(sent["document_id"]):
        go(driver, f"#/documents/{sent['document_id']}")  # run on its own (-k, xdist)
    wait(driver, 90).until(ec.element_to_be_clickable((By.XPATH, "//button[text()='Lấy bản đã ký số (PDF)']"))).click()
    link = wait(driver).until(ec.element_to_be_clickable((By.ID, "signed-link")))
    answer = requests.get(link.get_attribute("href"), timeout=30)  # the presigned URL the page shows
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF-")
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(answer.content)
    report = pdfsig_report(signed)
    assert report and report[-1]["valid"], report
    assert "Vĩnh Phúc" in report[-1]["common_name"]
    # the verify page takes the same file and reports the gateway's signature
    go(driver, "#/verify")
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".drop input[type=file]"))).send_keys(
        str(signed))
    result = wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "section[aria-labelledby=res]")))
    assert "UBND tỉnh Vĩnh Phúc" in result.text and "B-LT" in result.text
    go(driver, f"#/documents/{sent['document_id']}")


def test_a_secret_document_is_refused_with_the_gateways_own_message(browser, stack, sent, pdfs):
    driver = browser
    go(driver, "#/documents/new")
    fill_form(driver, sent["metadata"])
    Select(driver.find_element(By.NAME, "secrecy")).select_by_value("secret")
    pick_recipient(driver, "so noi vu", SNV)
    driver.find_elements(By.CSS_SELECTOR, ".drop input[type=file]")[0].send_keys(str(pdfs["main"]))
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    error = wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "main [role=alert]")))
    assert error.get_attribute("data-code") == "secret_document"
    assert CODES["secret_document"].message in error.text


LETTER = """UBND TỈNH VĨNH PHÚC | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
 | Độc lập - Tự do - Hạnh phúc
Số: 89/UBND-VX3 | Vĩnh Phúc, ngày 03 tháng 12 năm 2026
V/v thử nghiệm điền thông tin |
từ chính văn bản |

^Kính gửi: Văn phòng Chính phủ.

Ủy ban nhân dân tỉnh gửi văn bản này để thử việc đọc thông tin từ chính văn bản trên trang web.

Nơi nhận: | TL. CHỦ TỊCH
- Như trên; | CHÁNH VĂN PHÒNG
- Lưu: VT. |
 | Trần Văn An
"""


def test_a_dropped_pdf_fills_the_form_from_its_own_text(browser, stack, sent, tmp_path):
    """Issue 12: dropping a PDF in the NĐ 30 layout fills the empty fields from POST /v1/documents/draft."""
    from tests.support.nd30_pdf import render_nd30_pdf

    driver = browser
    go(driver, "#/documents")  # a fresh, empty form (the hash of the last test's form would keep it)
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Văn bản đi']")))
    go(driver, "#/documents/new")
    zone = wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".drop")))
    drop_file(driver, zone, render_nd30_pdf(LETTER, tmp_path / "cv-89.pdf"))
    wait(driver).until(lambda d: "Đã điền từ văn bản" in d.find_element(By.CSS_SELECTOR, "main form").text)
    value = {name: driver.find_element(By.NAME, name).get_attribute("value")
             for name in ("number", "notation", "type", "issued_on", "place", "subject", "signer_full_name",
                          "signer_position", "signer_competence")}
    assert value == {"number": "89", "notation": "UBND-VX3", "type": "CV", "issued_on": "2026-12-03",
                     "place": "Vĩnh Phúc", "subject": "V/v thử nghiệm điền thông tin từ chính văn bản",
                     "signer_full_name": "Trần Văn An", "signer_position": "CHÁNH VĂN PHÒNG",
                     "signer_competence": "TL. CHỦ TỊCH"}
    chips = driver.execute_script("return [...document.querySelectorAll('.chips li')].map((li) => li.dataset.organId)")
    assert chips == [VPCP]
    screenshot(driver, "clerk-form-from-draft")


def test_the_recipients_clerk_answers_from_the_inbox_with_the_verification_report(browser, stack_handle, stack, sent):
    driver = browser
    client = GatewayClient(stack)
    token = client.login(RECIPIENT)
    number = sent["metadata"]["number"]
    item = eventually(stack_handle, lambda: next(i for i in client.call("GET", "/v1/inbox", token)["items"]
                                                 if i["number"] == number), what="the document in the inbox")
    sign_out(driver)
    sign_in(driver, stack, RECIPIENT)
    go(driver, "#/inbox")
    wait(driver).until(ec.element_to_be_clickable((By.LINK_TEXT, f"{number}/{sent['metadata']['notation']}"))).click()
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h2[text()='Tệp và kết quả kiểm tra chữ ký số']")))
    report = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=files]").text
    assert "UBND tỉnh Vĩnh Phúc" in report and "B-LT" in report
    Select(driver.find_element(By.NAME, "code")).select_by_value("03")
    driver.find_element(By.XPATH, "//button[text()='Gửi tình trạng']").click()
    wait(driver).until(lambda d: "Đã tiếp nhận" in d.find_element(By.ID, "status").text)
    answered = client.call("GET", f"/v1/inbox/{item['inbox_id']}", token)
    assert [h["code"] for h in answered["status_history"]][-1] == "03"
    assert real_errors(driver) == []
    sign_out(driver)
    # the sender's page shows the answer as it comes back over the axis (its own polling, poll_axis here)
    sign_in(driver, stack, SENDER)
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Văn bản đi']")))
    go(driver, f"#/documents/{sent['document_id']}")
    accepted = (By.CSS_SELECTOR, f"tr[data-organ-id='{SNV}'] .badge[data-state='ACCEPTED']")
    eventually(stack_handle, lambda: driver.find_elements(*accepted), what="03 on the sender's page")
    screenshot(driver, "clerk-document", full_page=True)
    sign_out(driver)


def test_the_clerk_revokes_it_and_sees_the_recipients_answer(browser, stack_handle, stack, sent):
    driver = browser
    sign_in(driver, stack, SENDER)
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Văn bản đi']")))
    go(driver, f"#/documents/{sent['document_id']}")
    wait(driver).until(ec.element_to_be_clickable((By.XPATH, "//button[text()='Thu hồi văn bản']"))).click()
    reason = wait(driver).until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, "form[aria-labelledby=amend-title] textarea")))
    assert driver.switch_to.active_element == reason  # the form takes the focus
    reason.send_keys("Văn bản ban hành nhầm đối tượng")
    driver.find_element(By.XPATH, "//button[text()='Gửi yêu cầu thu hồi']").click()
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card .badge[data-state='REVOKED']")))
    agreed = (By.XPATH, f"//tr[@data-organ-id='{SNV}']/td[3][contains(., 'đồng ý (15)')]")
    eventually(stack_handle, lambda: driver.find_elements(*agreed), what="Sở Nội vụ's 15 on the sender's page")
    record = GatewayClient(stack).get_document(GatewayClient(stack).login(SENDER), sent["document_id"])
    assert next(d for d in record["deliveries"] if d["organ_id"] == SNV)["revocation"]["status"] == "AGREED"
    assert real_errors(driver) == []
    sign_out(driver)


@pytest.fixture(scope="module")
def province(stack: dict[str, Any], pdfs: dict[str, Path]) -> list[str]:
    """A few more documents this month through the API, some to HĐND tỉnh (paper in parallel), so that the report
    has agencies below their electronic-only target; Sở Nội vụ's is dated today and numbered by the gateway, so
    its register of this year has an entry (issue 12)."""
    client = GatewayClient(stack)
    today = {"number": "auto", "issued_on": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 3600))}
    sends = [("clerk-stttt-vp", [VPCP], {}), ("clerk-stttt-vp", ["000.00.00.K62"], {}),
             ("clerk-snv-vp", ["000.00.00.K62"], today), ("clerk-ubnd-bg", [VPCP], {})]
    made = []
    for username, recipients, changes in sends:
        token = client.login(username)
        created = client.create_document(token, dict(SAMPLES[0].metadata, recipients=recipients, **changes))
        client.upload(created["upload"], pdfs["main"])
        made.append((token, created["document_id"]))
    for token, document_id in made:
        final = client.wait_for(token, document_id, {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
        assert final["state"] == "DISPATCHED"
    return [d for _, d in made]


def test_an_admin_signs_in_with_the_totp_code_and_sees_the_apis_monthly_report(browser, stack, sent, province,
                                                                              tmp_path_factory):
    driver = browser
    admin = next(u for u in stack["users"] if u["admin"])
    sign_in(driver, stack, admin["username"])
    code = wait(driver).until(ec.visibility_of_element_located((By.NAME, "code")))
    code.send_keys(totp_code(admin["totp_secret"]), Keys.ENTER)
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Báo cáo tháng']")))
    month = driver.find_element(By.NAME, "month").get_attribute("value")
    wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#report-totals")))
    wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "svg.shares")))
    client = GatewayClient(stack)
    api = client.call("GET", "/v1/admin/reports/monthly", client.login(admin["username"]), params={"month": month})
    totals = {e.get_attribute("data-total"): e.find_element(By.TAG_NAME, "strong").text
              for e in driver.find_elements(By.CSS_SELECTOR, "#report-totals [data-total]")}
    assert totals["sent"] == str(api["totals"]["sent"]) and api["totals"]["sent"] >= 1
    assert totals["signed"] == str(api["totals"]["signed"])
    assert totals["electronic_only"] == str(api["totals"]["electronic_only"])
    rows = {r.get_attribute("data-organ-id"): [c.text for c in r.find_elements(By.TAG_NAME, "td")]
            for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-organ-id]")}
    assert set(rows) == {a["organ_id"] for a in api["agencies"]}
    for agency in api["agencies"]:
        assert rows[agency["organ_id"]][1:5] == [str(agency[k]) for k in ("sent", "signed", "electronic_only",
                                                                            "paper_in_parallel")]
    bars = driver.find_elements(By.CSS_SELECTOR, "svg.shares rect")
    assert len(bars) == 2 * sum(1 for a in api["agencies"] if a["sent"])
    screenshot(driver, "admin-report", full_page=True)
    # the same month as a workbook, downloaded by the browser under the gateway's file name
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.find_element(By.XPATH, "//button[text()='Tải tệp Excel (XLSX)']").click()
    workbook = wait(driver).until(lambda d: [p for p in downloads.glob("*.xlsx")] or None)[0]
    with zipfile.ZipFile(workbook) as xlsx:
        assert "xl/workbook.xml" in xlsx.namelist()
    # the ID token is refreshed (REFRESH_TOKEN_AUTH) and the page keeps working with the new one
    driver.execute_async_script("const done = arguments[0]; window.edoc.auth.refresh().then(() => done(true))")
    assert driver.execute_script("return window.edoc.auth.idToken()") not in (None, "")
    assert driver.execute_script("return window.edoc.auth.current().admin") is True
    go(driver, "#/admin/keys")
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Khóa ký số sắp hết hạn']")))
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "main tbody tr td.num"))
    # the registry, searched without accents, and the admin's own reads in the audit trail
    go(driver, "#/admin/agencies")
    search = wait(driver).until(ec.visibility_of_element_located((By.NAME, "q")))
    search.send_keys("so noi vu", Keys.ENTER)
    wait(driver).until(lambda d: [r.get_attribute("data-organ-id") for r in
                                  d.find_elements(By.CSS_SELECTOR, "tr[data-organ-id]")] == [SNV])
    go(driver, "#/admin/dead-letters")
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Thư lỗi (dead letters)']")))
    go(driver, "#/admin/audit")
    actor = wait(driver).until(ec.visibility_of_element_located((By.NAME, "actor")))
    actor.send_keys(admin["username"], Keys.ENTER)
    wait(driver).until(lambda d: "admin_monthly_report" in d.find_element(By.TAG_NAME, "main").text)
    # an admin reads any agency's register, named by its code (issue 12)
    go(driver, "#/registers")
    organ = wait(driver).until(ec.visibility_of_element_located((By.NAME, "organ_id")))
    organ.clear()
    organ.send_keys(SNV, Keys.ENTER)
    numbers = {i["number"] for i in client.call("GET", "/v1/registers/outgoing", client.login(admin["username"]),
                                                params={"organ_id": SNV, "limit": 100})["items"]}
    assert numbers  # Sở Nội vụ's auto-numbered document of `province`
    wait(driver).until(lambda d: SNV in d.find_element(By.CSS_SELECTOR, "#register-panel caption").text and {
        r.get_attribute("data-number") for r in d.find_elements(By.CSS_SELECTOR, "#register-panel tr[data-number]")}
        >= numbers)
    assert real_errors(driver) == []
    sign_out(driver)


def test_a_clerk_reads_the_registers_of_their_agency(browser, stack_handle, stack, sent, province, tmp_path):
    """Issue 12: "Sổ văn bản" shows the numbers the registers API gives, outgoing (Sở Nội vụ's auto-numbered
    document) then, with the keyboard on the tabs, incoming (the sender's document, numbered as it was filed), and
    downloads the register as XLSX."""
    from openpyxl import load_workbook

    driver = browser
    client = GatewayClient(stack)
    token = client.login(RECIPIENT)
    outgoing = {i["number"] for i in client.call("GET", "/v1/registers/outgoing", token,
                                                 params={"limit": 100})["items"]}
    assert outgoing  # at least the document of `province`
    incoming = eventually(stack_handle, lambda: {i["number"] for i in client.call(
        "GET", "/v1/registers/incoming", token, params={"limit": 100})["items"]}, what="an incoming register entry")
    if driver.find_elements(By.ID, "logout") and driver.find_element(By.ID, "logout").is_displayed():
        sign_out(driver)  # run on its own (-k): the `sent` fixture left the sender signed in
    sign_in(driver, stack, RECIPIENT)
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Văn bản đi']")))
    driver.find_element(By.CSS_SELECTOR, "#nav a[href='#/registers']").click()
    wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Sổ văn bản']")))

    def numbers(d: Any) -> set[str]:
        rows = d.find_elements(By.CSS_SELECTOR, "#register-panel tr[data-number]")
        return {r.get_attribute("data-number") for r in rows}

    wait(driver).until(lambda d: numbers(d) >= outgoing)
    assert "Ký hiệu" in driver.find_element(By.ID, "register-panel").text
    tab = driver.find_element(By.ID, "tab-outgoing")
    assert tab.get_attribute("aria-selected") == "true"
    tab.send_keys(Keys.ARROW_RIGHT)  # the tabs from the keyboard
    assert driver.switch_to.active_element.get_attribute("id") == "tab-incoming"
    wait(driver).until(lambda d: d.find_element(By.ID, "tab-incoming").get_attribute("aria-selected") == "true"
                       and "Số đến" in d.find_element(By.ID, "register-panel").text and numbers(d) >= incoming)
    screenshot(driver, "clerk-registers")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.find_element(By.XPATH, "//button[text()='Tải XLSX']").click()
    (workbook,) = wait(driver).until(lambda d: list(downloads.glob("so-van-ban-den-*.xlsx")) or None)
    cells = {row[0] for row in load_workbook(workbook).active.iter_rows(values_only=True)}
    assert incoming <= cells
    # the inbox shows each document's số đến, the API's
    arrivals = {i["arrival_number"] for i in client.call("GET", "/v1/inbox", token)["items"] if i.get("arrival_number")}
    assert arrivals and arrivals <= incoming
    go(driver, "#/inbox")
    wait(driver).until(lambda d: {c.text for c in d.find_elements(By.CSS_SELECTOR, "main td[data-label='Số đến']")}
                       >= arrivals)
    assert real_errors(driver) == []
    sign_out(driver)


def test_the_page_fits_a_phone(browser, stack):
    driver = browser
    driver.set_window_size(390, 844)
    try:
        sign_in(driver, stack, SENDER)
        wait(driver).until(ec.visibility_of_element_located((By.XPATH, "//h1[text()='Văn bản đi']")))
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "main tbody tr"))
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0  # wide tables scroll inside their own box, the page does not
        screenshot(driver, "phone-documents")
    finally:
        driver.set_window_size(1366, 768)

