"""The borrower's page in headless Chromium, against two member nodes on anvil: a borrower
makes a key in the page and saves its backup, is bound at member 1's desk, consents to
member 2 in the page; member 2 queries; the page shows that query checked against the chain;
the borrower withdraws the consent in the page, and member 2's next query is refused. A
borrower with records at both members reads their own report in the page, each record checked
against the chain, and a third request in the year is answered with the rule and its date.

Chromium and its driver are Debian's (`chromium`, `chromium-driver`), installed with apt-get
when missing. Screenshots of the trail and the report are left in test-artifacts/ (not
committed)."""

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.borrower_page_kit import (
    INJECTED,
    phone_browser,
    screenshot,
    shown,
    text,
    until,
    wider_than_screen,
)
from tests.conftest import call_api, consortium_up, person, staff_token_in, store_has, wait_for

PASSWORD = "correct horse battery"
SEQ = 77


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with consortium_up(tmp_path_factory.mktemp("two"), 2) as state:
        yield state


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[WebDriver, Path]]:
    with phone_browser(tmp_path) as opened:
        yield opened


def entries(driver: WebDriver, kind: str) -> list[Any]:
    return driver.find_elements(By.CSS_SELECTOR, f"#trail-list li.entry[data-kind='{kind}']")


def load_trail(driver: WebDriver) -> None:
    """Log in again (a fresh signed challenge) and wait for the trail and its marks (the page
    says "reading and checking" from the click until it has them)."""
    driver.find_element(By.ID, "load-trail").click()
    until(driver, "the trail", lambda d: "截至区块" in text(d, "trail-status")
          or "出错" in text(d, "trail-status"))  # fmt: skip
    assert "出错" not in text(driver, "trail-status"), text(driver, "trail-status")


def query(member: dict[str, Any], token: str, consent_id: str) -> dict[str, Any]:
    status, answer = call_api(member["url"] + "/v1/queries", token, {
        "subject": {"type": "person", "id_number": person(SEQ)["subject"]["id_number"]},
        "consent_id": consent_id, "purpose": "loan_application", "timeout_s": 20})  # fmt: skip
    assert status == 200, answer
    return answer


def test_a_borrower_consents_sees_the_query_verified_and_withdraws(two, browser) -> None:
    driver, downloads = browser
    holder, asker = two["members"]
    page = holder["url"] + "/borrower/"
    driver.get(page)
    until(driver, "the page's scripts", lambda d: not shown(d, "boot") and shown(d, "key"))
    # Chinese by default, English at one click, and back
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert driver.title == "我的征信授权"
    driver.find_element(By.ID, "lang").click()
    assert driver.title == "My credit consents" and "Your key" in text(driver, "key-h")
    driver.find_element(By.ID, "lang").click()
    assert driver.title == "我的征信授权"

    # a key made in the page, kept encrypted, usable only once its backup is saved
    driver.find_element(By.ID, "new-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "new-password2").send_keys(PASSWORD + Keys.ENTER)  # keyboard
    until(driver, "the backup prompt", lambda d: shown(d, "backup-box"), timeout=120)
    assert not shown(driver, "key-ready") and not shown(driver, "consent")
    stored = json.loads(driver.execute_script(
        "return localStorage.getItem('creditchain.borrower.keystore')"))  # fmt: skip
    cipher = stored.get("Crypto") or stored["crypto"]  # an encrypted keystore, nothing else
    assert cipher["kdf"] == "scrypt" and set(stored) <= {"address", "id", "version", "Crypto",
                                                         "crypto", "x-ethers"}  # fmt: skip
    driver.find_element(By.ID, "download-backup").click()
    until(driver, "the address", lambda d: shown(d, "key-ready") and text(d, "address"))
    address = text(driver, "address")
    until(driver, "the backup file", lambda d: any(downloads.glob("creditchain-key-*.json")))
    (backup,) = downloads.glob("creditchain-key-*.json")
    assert "0x" + json.loads(backup.read_text())["address"].lower() == address.lower()
    until(driver, "not bound", lambda d: "还没有绑定" in text(d, "binding-status"))
    assert shown(driver, "bind-help") and not shown(driver, "consent")

    # member 1's staff bind the address after checking the borrower's identity
    subject = {"type": "person", "id_number": person(SEQ)["subject"]["id_number"]}
    status, bound = call_api(holder["url"] + "/v1/bindings", holder["token"],
                             {"subject": subject, "address": address})  # fmt: skip
    assert status == 200, bound
    status, records = call_api(holder["url"] + "/v1/records", holder["token"], {"records": [
        person(SEQ, record_id="M1-LN", account_id="M1-AC", kind="loan_opened",
               days_past_due=None, amount_cents=500_000)]})  # fmt: skip
    assert status == 200 and records["accepted"] == 1, records
    driver.find_element(By.ID, "check-binding").click()
    until(driver, "bound", lambda d: "已绑定" in text(d, "binding-status") and shown(d, "consent"))

    # consent to member 2, for a loan application, 30 days: what is signed is shown first
    Select(driver.find_element(By.ID, "member")).select_by_value(asker["address"])
    Select(driver.find_element(By.ID, "purpose")).select_by_value("loan_application")
    assert driver.find_element(By.ID, "days").get_attribute("value") == "30"
    driver.find_element(By.ID, "preview").click()
    until(driver, "the typed data", lambda d: shown(d, "preview-box") and text(d, "typed-data"))
    typed = json.loads(text(driver, "typed-data"))
    message = typed["message"]
    assert typed["primaryType"] == "Consent" and "EIP712Domain" in typed["types"]
    assert (message["subjectKey"], message["grantee"], message["purpose"]) == (
        bound["subject_key"], asker["address"], 0)  # fmt: skip
    assert message["validUntil"] - message["validFrom"] == 30 * 86_400
    assert "贷款审批" in text(driver, "consent-summary") and "member-2" in text(
        driver, "consent-summary"
    )
    driver.find_element(By.ID, "sign-consent").click()
    until(driver, "the consent registered", lambda d: "授权已登记" in text(d, "consent-status"))

    load_trail(driver)
    (consent_li,) = entries(driver, "consent")
    consent_id = consent_li.find_element(By.CSS_SELECTOR, ".ref").text
    assert store_has(holder["data"], "SELECT 1 FROM consent WHERE consent_id = ?", consent_id)
    assert consent_li.get_attribute("data-status") == "active"
    assert (
        consent_li.find_element(By.CSS_SELECTOR, ".mark").get_attribute("data-mark") == "verified"
    )
    assert entries(driver, "query") == []

    # member 2 asks; member 1 answers under the consent and logs the query on chain
    operator = staff_token_in(Path(asker["data"]), "query_operator")
    answer = query(asker, operator, consent_id)
    by_name = {m["name"]: m for m in answer["members"]}
    assert by_name[holder["name"]]["status"] == "answered", answer
    assert [r["record_id"] for r in by_name[holder["name"]]["records"]] == ["M1-LN"]

    def query_verified(d: WebDriver) -> bool:
        load_trail(d)
        marks = [q.find_element(By.CSS_SELECTOR, ".mark").get_attribute("data-mark")
                 for q in entries(d, "query")]  # fmt: skip
        if marks != ["verified"]:
            time.sleep(1)
        return marks == ["verified"]

    until(driver, "the query verified in the page", query_verified, timeout=120)
    (query_li,) = entries(driver, "query")
    assert "member-2" in query_li.text and "贷款审批" in query_li.text
    assert "flagged" not in query_li.get_attribute("class")
    assert consent_id[:10] in query_li.find_element(By.CSS_SELECTOR, ".ref").text
    kinds = [
        li.get_attribute("data-kind") for li in driver.find_elements(By.CSS_SELECTOR, "li.entry")
    ]
    assert kinds == ["query", "consent", "binding"]  # newest first
    wider = wider_than_screen(driver)  # usable at phone width: nothing runs off the side
    assert wider == [], wider
    assert screenshot(driver, "trail", "borrower-trail.png").stat().st_size > 1000

    # withdraw in one click (and a signature); member 2's next query is refused
    consent_li = entries(driver, "consent")[0]
    consent_li.find_element(By.CSS_SELECTOR, "button.revoke").click()
    until(driver, "the revocation", lambda d: "授权已撤销" in text(d, "trail-status"))
    (revocation,) = entries(driver, "revocation")
    assert "此后依此授权的查询都会被拒绝" in revocation.text
    assert entries(driver, "consent")[0].get_attribute("data-status") == "revoked"
    assert entries(driver, "consent")[0].find_elements(By.CSS_SELECTOR, "button.revoke") == []

    later = query(asker, operator, consent_id)
    refused = {m["name"]: m for m in later["members"]}[holder["name"]]
    assert refused["status"] == "refused" and refused["error"]["error"] == "consent_revoked"
    load_trail(driver)
    assert len(entries(driver, "query")) == 1  # the refused query was never answered
    marks = [li.find_element(By.CSS_SELECTOR, ".mark").get_attribute("data-mark")
             for li in driver.find_elements(By.CSS_SELECTOR, "li.entry")]  # fmt: skip
    assert marks == ["verified"] * len(marks), marks
    screenshot(driver, "trail", "borrower-trail-revoked.png")

    # an objection filed for the borrower at member 2 against member 1's record, then
    # member 1's answer: both in the trail, each checked against Disputes.getObjection
    status, receipt = call_api(holder["url"] + "/v1/records/M1-LN/receipt", holder["token"],
                               method="GET")  # fmt: skip
    assert status == 200, receipt
    status, filed = call_api(asker["url"] + "/v1/disputes/objections", asker["token"], {
        "subject": subject, "kind": "record", "commitment": receipt["commitment"],
        "reasons": "not my loan",
        "anchor": {k: receipt[k] for k in ("batch_id", "leaf_index", "proof")}})  # fmt: skip
    assert status == 200, filed

    def objection_shown(d: WebDriver, state: str) -> bool:
        load_trail(d)
        shown_ = entries(d, "objection")
        return bool(shown_) and shown_[0].get_attribute("data-state") == state

    until(driver, "the objection", lambda d: objection_shown(d, "open"), timeout=60)
    (objection,) = entries(driver, "objection")
    assert "member-1" in objection.text and "待答复" in objection.text
    assert objection.find_element(By.CSS_SELECTOR, ".mark").get_attribute("data-mark") == "verified"
    assert "flagged" not in objection.get_attribute("class")
    status, answered = call_api(
        holder["url"] + f"/v1/disputes/objections/{filed['objection_id']}/answer",
        holder["token"], {"outcome": "rejected", "reason": "the loan is theirs"},
    )  # fmt: skip
    assert status == 200, answered
    until(driver, "the answer", lambda d: objection_shown(d, "rejected"), timeout=60)
    (outcome,) = entries(driver, "objection_answer")
    assert "异议被驳回" in outcome.text and "member-1" in outcome.text
    marks = [li.find_element(By.CSS_SELECTOR, ".mark").get_attribute("data-mark")
             for li in driver.find_elements(By.CSS_SELECTOR, "li.entry")]  # fmt: skip
    assert marks == ["verified"] * len(marks), marks
    screenshot(driver, "trail", "borrower-trail-objection.png")


def test_the_page_reads_the_directory_and_the_chain_through_the_node_without_a_token(two) -> None:
    holder, asker = two["members"]
    status, directory = call_api(holder["url"] + "/v1/borrower/directory", None, method="GET")
    assert status == 200, directory
    assert [(m["name"], m["address"], m["status"]) for m in directory["members"]] == [
        (holder["name"], holder["address"], "active"),
        (asker["name"], asker["address"], "active"),
    ]
    assert directory["node"] == holder["address"]
    assert [(p["number"], p["name"]) for p in directory["purposes"]][:2] == [
        (0, "loan_application"), (1, "credit_card_application")]  # fmt: skip
    assert directory["purposes"][0]["label"] == "贷款审批"

    def rpc(method: str, params: list) -> dict[str, Any]:
        status, answer = call_api(
            holder["url"] + "/rpc",
            None,
            {"jsonrpc": "2.0", "id": 7, "method": method, "params": params},
        )
        assert status == 200 and answer["id"] == 7, answer
        return answer

    chain_id = int(rpc("eth_chainId", [])["result"], 16)
    assert chain_id == directory["chain_id"]
    code = rpc("eth_getCode", [directory["contracts"]["RecordRegistry"], "latest"])["result"]
    assert len(code) > 1000  # the node passes reads on to anvil
    for write in ("eth_sendTransaction", "eth_sendRawTransaction", "anvil_setBalance"):
        assert rpc(write, [{}])["error"]["code"] == -32601, write
    wide = rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(100_000)}])
    assert wide["error"]["code"] == -32005


def test_an_injected_wallet_signs_with_eth_sign_typed_data_v4(two, browser) -> None:
    driver, _ = browser
    holder, asker = two["members"]
    account = Account.create()
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                           {"source": INJECTED % account.key.hex()})  # fmt: skip
    driver.get(holder["url"] + "/borrower/")
    until(driver, "the wallet button", lambda d: shown(d, "use-wallet"))
    driver.find_element(By.ID, "use-wallet").click()
    until(driver, "not bound", lambda d: "还没有绑定" in text(d, "binding-status"))
    assert text(driver, "address") == account.address and not shown(driver, "backup-box")

    subject = {"type": "person", "id_number": person(SEQ + 1)["subject"]["id_number"]}
    status, bound = call_api(holder["url"] + "/v1/bindings", holder["token"],
                             {"subject": subject, "address": account.address})  # fmt: skip
    assert status == 200, bound
    driver.find_element(By.ID, "check-binding").click()
    until(driver, "bound", lambda d: shown(d, "consent"))
    Select(driver.find_element(By.ID, "member")).select_by_value(asker["address"])
    Select(driver.find_element(By.ID, "purpose")).select_by_value("post_loan_management")
    days = driver.find_element(By.ID, "days")
    days.clear()
    days.send_keys("7")
    driver.find_element(By.ID, "preview").click()
    until(driver, "the typed data", lambda d: shown(d, "preview-box"))
    shown_typed = json.loads(text(driver, "typed-data"))
    driver.find_element(By.ID, "sign-consent").click()  # the borrower cancels in the wallet
    until(driver, "the cancel", lambda d: "您在钱包中取消了签名" in text(d, "consent-status"))
    driver.find_element(By.ID, "sign-consent").click()
    until(driver, "the consent registered", lambda d: "授权已登记" in text(d, "consent-status"))
    (signed,) = driver.execute_script("return window.__signed")
    assert signed == {"address": account.address, "typed": shown_typed}  # exactly what was shown
    assert shown_typed["message"]["validUntil"] - shown_typed["message"]["validFrom"] == 7 * 86_400

    load_trail(driver)  # the login is signed by the wallet too
    (consent,) = entries(driver, "consent")
    assert "贷后管理" in consent.text
    assert consent.find_element(By.CSS_SELECTOR, ".mark").get_attribute("data-mark") == "verified"
    assert [s["typed"]["primaryType"] for s in driver.execute_script("return window.__signed")] == [
        "Consent", "Login"]  # fmt: skip


def anchored(member: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Submit `records` at `member` and wait until each is anchored."""
    status, answer = call_api(member["url"] + "/v1/records", member["token"], {"records": records})
    assert status == 200 and answer["accepted"] == len(records), answer
    for r in records:
        url = member["url"] + f"/v1/records/{r['record_id']}"
        wait_for(lambda url=url: call_api(url, member["token"], method="GET")[1]["state"]
                 == "anchored", timeout=60, what="records anchored")  # fmt: skip


def report_sections(driver: WebDriver) -> dict[str, Any]:
    """Ask for the report in the page (one signature) and wait until every record shown is
    checked; the member sections by member address."""
    driver.find_element(By.ID, "load-report").click()
    until(driver, "the report", lambda d: d.find_element(By.ID, "load-report").is_enabled()
          and text(d, "report-status") and not d.find_elements(
              By.CSS_SELECTOR, "#report-view .mark[data-mark='checking']"))  # fmt: skip
    sections = driver.find_elements(By.CSS_SELECTOR, "#report-view .member-section")
    return {s.get_attribute("data-member"): s for s in sections}


def test_a_borrower_reads_their_own_report_from_both_members_then_is_told_the_yearly_rule(
    two, browser
) -> None:
    driver, _ = browser
    holder, other = two["members"]
    seq = SEQ + 2
    account = Account.create()
    subject = {"type": "person", "id_number": person(seq)["subject"]["id_number"]}
    anchored(holder, [person(seq, record_id="M1-RPT", account_id="M1-RPT-AC", kind="loan_opened",
                             days_past_due=None, amount_cents=800_000)])  # fmt: skip
    anchored(other, [person(seq, record_id="M2-RPT", account_id="M2-RPT-AC")])  # overdue, 95 days
    status, bound = call_api(holder["url"] + "/v1/bindings", holder["token"],
                             {"subject": subject, "address": account.address})  # fmt: skip
    assert status == 200, bound
    wait_for(lambda: store_has(other["data"], "SELECT 1 FROM consent_binding WHERE borrower = ?",
                               account.address), timeout=30, what="binding indexed")  # fmt: skip
    reasons = "the 95 days are wrong"  # objected to at the other member, left unresolved
    objection = {"subject": subject, "kind": "record", "record_id": "M2-RPT", "reasons": reasons}
    status, filed = call_api(other["url"] + "/v1/disputes/objections", other["token"], objection)
    assert status == 200, filed
    status, answered = call_api(
        other["url"] + f"/v1/disputes/objections/{filed['objection_id']}/answer", other["token"],
        {"outcome": "unresolved", "reason": "no agreement"})  # fmt: skip
    assert status == 200, answered
    wait_for(lambda: store_has(holder["data"], "SELECT 1 FROM dispute_objection WHERE id = ? "
                               "AND state = 'unresolved'", filed["objection_id"]),
             timeout=30, what="the answer indexed")  # fmt: skip

    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                           {"source": INJECTED % account.key.hex()})  # fmt: skip
    driver.get(holder["url"] + "/borrower/")
    until(driver, "the wallet button", lambda d: shown(d, "use-wallet"))
    driver.execute_script("window.__refuseNext = false")
    driver.find_element(By.ID, "use-wallet").click()
    until(driver, "the report button", lambda d: shown(d, "report"))
    assert text(driver, "report-h") == "4. 我的信用报告"

    sections = report_sections(driver)
    assert list(sections) == [holder["address"], other["address"]]  # this node's member first
    for address, ids in ((holder["address"], ["M1-RPT"]), (other["address"], ["M2-RPT"])):
        section = sections[address]
        assert section.get_attribute("data-status") == "answered"
        records = section.find_elements(By.CSS_SELECTOR, "li.record")
        assert [r.get_attribute("data-record-id") for r in records] == ids
        for r in records:
            assert r.find_element(By.CSS_SELECTOR, ".mark").get_attribute("data-mark") == "verified"
        assert "今年在该机构还可免费查看 1 次" in section.text
    overdue = sections[other["address"]].find_element(By.CSS_SELECTOR, "li.record")
    assert "逾期" in overdue.text and "逾期 95 天" in overdue.text and "M2-RPT-AC" in overdue.text
    assert "状态：有效" in overdue.text
    statement = "0x" + hashlib.sha256(reasons.encode()).hexdigest()
    assert f"异议未能解决：您的说明随此记录一并展示（说明的哈希 {statement}）" in overdue.text
    assert "异议" not in sections[holder["address"]].text
    opened = sections[holder["address"]].find_element(By.CSS_SELECTOR, "li.record")
    assert "贷款开立" in opened.text and "8,000.00" in opened.text
    assert "共 2 条记录" in text(driver, "report-status")
    assert wider_than_screen(driver) == []
    assert screenshot(driver, "report", "borrower-report.png").stat().st_size > 1000

    sections = report_sections(driver)  # the second free report of the year
    assert all("还可免费查看 0 次" in s.text for s in sections.values())

    sections = report_sections(driver)  # a third: each member says the rule and the next date
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).year + 1  # China Standard Time
    for section in sections.values():
        assert section.get_attribute("data-status") == "refused"
        assert section.find_elements(By.CSS_SELECTOR, "li.record") == []
        why = section.find_element(By.CSS_SELECTOR, ".why").text
        assert "第十七条" in why and "2 次已经用完" in why and f"{year}年1月1日起" in why, why
    status_line = driver.find_element(By.ID, "report-status")
    assert "第十七条" in status_line.text and "error" in status_line.get_attribute("class")
    assert "出错" not in status_line.text
    screenshot(driver, "report", "borrower-report-used.png")
    driver.find_element(By.ID, "lang").click()  # the same rule in English
    why = driver.find_element(By.CSS_SELECTOR, "#report-view .member-section .why").text
    assert "Art. 17" in why and f"January 1, {year}" in why, why
    assert [s["typed"]["primaryType"] for s in driver.execute_script("return window.__signed")] == [
        "ReportRequest"] * 3  # fmt: skip
