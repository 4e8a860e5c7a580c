"""The emailed approval link in headless Chromium (Debian's chromium + chromium-driver), on the local engine."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from controlroom.contracts import ApprovalStatus
from controlroom.local.world import DEMO_ALIAS, DEMO_FUNCTION, GOOD_VERSION

from .conftest import alarm_event, finished, fire_one

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        message = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="controlroom-chromium-")
    # No sandbox as root; no background networking: this machine's network is closed.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _pending_link(client) -> tuple[str, str, str]:
    execution_arn = fire_one(client, alarm_event())
    incident_id = client.incident_id(execution_arn)
    approval = client.wait_for_approval(incident_id, execution_arn)
    links = client.wait_for_links(approval.approval_id)
    assert len(links) == 1, "one approver configured for env=local: one signed link"
    return execution_arn, approval.approval_id, links[0]


def _click(browser, element_id: str) -> str:
    """Click a form button and return the status message of the page the POST answers with."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    button = browser.find_element(By.ID, element_id)
    button.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))
    return (
        WebDriverWait(browser, 15)
        .until(expected_conditions.presence_of_element_located((By.ID, "status-message")))
        .text
    )


def test_approve_in_the_browser_resolves_and_a_second_click_is_refused(client, browser):
    from selenium.webdriver.common.by import By

    execution_arn, approval_id, link = _pending_link(client)
    # When the approver opens the emailed link
    browser.get(link)
    plan = browser.find_element(By.ID, "plan").text
    assert "rollback_lambda_alias" in plan and DEMO_FUNCTION in plan
    # Then opening the page decided nothing
    assert client.checkpoint.get_approval(approval_id).status is ApprovalStatus.PENDING
    # When they click Approve
    assert "approve" in _click(browser, "approve").lower()
    # Then the execution resumes, rolls back and resolves
    view = finished(client, execution_arn)
    assert view.terminal_state == "Resolved"
    assert (
        client.aws("lambda").get_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS)["FunctionVersion"]
        == GOOD_VERSION
    )
    # And a second visit and click shows "already decided"
    browser.get(link)
    page = browser.find_element(By.TAG_NAME, "body").text.lower()
    assert "already decided" in page


def test_reject_in_the_browser_ends_rejected(client, browser):
    from selenium.webdriver.common.by import By

    execution_arn, approval_id, link = _pending_link(client)
    browser.get(link)
    browser.find_element(By.ID, "comment").send_keys("not during the sale")
    _click(browser, "reject")
    view = finished(client, execution_arn)
    assert view.terminal_state == "Rejected"
    votes = client.checkpoint.get_approval(approval_id).votes
    assert [(v.verdict, v.comment) for v in votes] == [("reject", "not during the sale")]


def test_a_mail_scanner_prefetching_every_link_decides_nothing(client):
    execution_arn, approval_id, link = _pending_link(client)
    # When a scanner GETs every link in the email (and a tampered copy of it)
    for url in (link, link.replace("sig=", "sig=x"), link.split("?")[0]):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            assert exc.code < 500
    # Then the approval is still pending and the execution still waits for a human
    assert client.checkpoint.get_approval(approval_id).status is ApprovalStatus.PENDING
    assert client.describe(execution_arn).status == "RUNNING"
    assert client.current_state(execution_arn) == "RequestApproval"
