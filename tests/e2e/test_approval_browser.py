"""The emailed approval link in headless Chromium (Debian's chromium + chromium-driver), on the local engine.

Each page is looked at on a phone (390x844) and a laptop (1280x800); screenshots are kept under
build/test-artifacts/approval/ (git-ignored; the path is printed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By

from controlroom.contracts import ApprovalStatus
from controlroom.local.deploy_world import DEPLOY_ALIAS, DEPLOY_FUNCTION, HEALTHY_VERSION, STABLE_VERSION
from controlroom.local.world import DEMO_ALIAS, DEMO_FUNCTION, GOOD_VERSION

from .conftest import REPO, alarm_event, finished, fire_one

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = REPO / "build" / "test-artifacts" / "approval"
PHONE, LAPTOP = (390, 844), (1280, 800)


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


def _screen(browser, size: tuple[int, int]) -> None:
    """The viewport itself (not the window) is ``size``, as on a phone held upright."""
    width, height = size
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def _screenshot(browser, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def _no_horizontal_scroll(browser) -> None:
    width, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width}px wide in a {inner}px viewport"


def _in_first_screen(browser, element_id: str) -> None:
    top, bottom, left, right, inner_width, inner_height = browser.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return [r.top, r.bottom, r.left, r.right, window.innerWidth, window.innerHeight]",
        element_id,
    )
    assert top >= 0 and bottom <= inner_height, f"#{element_id} spans {top}..{bottom} of {inner_height}px"
    assert left >= 0 and right <= inner_width, f"#{element_id} spans {left}..{right} of {inner_width}px"


def _text(browser, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def _pending_link(client) -> tuple[str, str, str]:
    execution_arn = fire_one(client, alarm_event())
    incident_id = client.incident_id(execution_arn)
    approval = client.wait_for_approval(incident_id, execution_arn)
    links = client.wait_for_links(approval.approval_id)
    assert len(links) == 1, "one approver configured for env=local: one signed link"
    return execution_arn, approval.approval_id, links[0]


def _approver(link: str) -> str:
    return parse_qs(urlsplit(link).query)["approver"][0]


def _click(browser, element_id: str) -> str:
    """Click a form button and return the status message of the page the browser ends on."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    button = browser.find_element(By.ID, element_id)
    button.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))
    return str(
        WebDriverWait(browser, 15)
        .until(expected_conditions.presence_of_element_located((By.ID, "status-message")))
        .text
    )


def _check_the_decision_page(browser, link: str, name: str) -> None:
    """The summary card, both buttons in the first screen, no sideways scroll (details open or closed)."""
    browser.get(link)
    assert _text(browser, "environment-banner") == "LOCAL"
    action = _text(browser, "action")
    assert (
        action.startswith(f"Roll back {DEMO_FUNCTION} alias {DEMO_ALIAS} from v")
        and f"to v{GOOD_VERSION}" in action
    )
    assert _text(browser, "risk-level") == "medium"
    assert _text(browser, "time-left").startswith("in ")
    assert _text(browser, "votes") == "0 of 1 approval so far"
    assert _text(browser, "other-approvers") == "nobody else"
    assert "Nothing has been decided yet" in _text(browser, "status-message")
    for button in ("summary", "approve", "reject"):
        _in_first_screen(browser, button)
    _no_horizontal_scroll(browser)
    _screenshot(browser, f"{name}-decision")
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert "rollback_lambda_alias" in _text(browser, "plan") and DEMO_FUNCTION in _text(browser, "plan")
    _no_horizontal_scroll(browser)
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = false)")


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_approve_from_the_first_screen_resolves_and_a_refresh_records_nothing(client, browser, size):
    _screen(browser, size)
    name = f"approve-{size[0]}x{size[1]}"
    execution_arn, approval_id, link = _pending_link(client)
    # When the approver opens the emailed link, Then the card and both buttons fit the first screen
    _check_the_decision_page(browser, link, name)
    # And opening the page decided nothing
    assert client.checkpoint.get_approval(approval_id).status is ApprovalStatus.PENDING
    # When they approve, Then the browser lands on the result page (GET), which says who decided and what next
    message = _click(browser, "approve")
    assert message == f"Approved by {_approver(link)}."
    assert f"/approvals/{approval_id}/result?" in browser.current_url and "sig=" not in browser.current_url
    assert "Execute runs" in _text(browser, "next-step")
    _no_horizontal_scroll(browser)
    _screenshot(browser, f"{name}-approved")
    # And the execution resumes, rolls back and resolves
    view = finished(client, execution_arn)
    assert view.terminal_state == "Resolved"
    alias = client.aws("lambda").get_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS)
    assert alias["FunctionVersion"] == GOOD_VERSION
    # When they refresh, Then the same decided page, and no second vote was recorded
    browser.refresh()
    assert _text(browser, "status-message") == message
    assert len(client.checkpoint.get_approval(approval_id).votes) == 1
    incident_id = client.checkpoint.get_approval(approval_id).incident_id
    assert [r.kind for r in client.audit.records(incident_id)].count("approval_decision") == 1
    # And a second visit to the emailed link shows "already decided"
    browser.get(link)
    assert "already decided" in _text(browser, "status-message").lower()


def test_reject_on_a_phone_ends_rejected_and_says_what_happens_next(client, browser):
    _screen(browser, PHONE)
    execution_arn, approval_id, link = _pending_link(client)
    browser.get(link)
    browser.find_element(By.ID, "comment").send_keys("not during the sale")
    message = _click(browser, "reject")
    assert message == f"Rejected by {_approver(link)}."
    assert "not during the sale" in browser.find_element(By.ID, "summary").text
    assert "Nothing is executed" in _text(browser, "next-step")
    _no_horizontal_scroll(browser)
    _screenshot(browser, "reject-390x844-rejected")
    view = finished(client, execution_arn)
    assert view.terminal_state == "Rejected"
    browser.refresh()
    assert _text(browser, "status-message") == message
    votes = client.checkpoint.get_approval(approval_id).votes
    assert [(v.verdict, v.comment) for v in votes] == [("reject", "not during the sale")]


def test_a_prod_deployment_approval_on_a_phone_speaks_of_the_deployment(client, browser):
    from .test_deployment_flow import _alias, _deploy

    # Given orders-api tagged as a prod function, and a deployment of version 2 waiting for approval
    lambda_client = client.aws("lambda")
    function_arn = lambda_client.get_function(FunctionName=DEPLOY_FUNCTION)["Configuration"]["FunctionArn"]
    lambda_client.tag_resource(Resource=function_arn, Tags={"controlroom:environment": "prod"})
    _, execution_arn, deployment_id = _deploy(client, HEALTHY_VERSION)
    approval = client.wait_for_approval(deployment_id, execution_arn)
    (link,) = client.wait_for_links(approval.approval_id)
    # When the approver opens it on a phone
    _screen(browser, PHONE)
    browser.get(link)
    # Then prod is unmistakable, the action names the alias and from -> to, and it fits the first screen
    assert _text(browser, "environment-banner") == "PRODUCTION"
    background = browser.execute_script(
        "return getComputedStyle(document.getElementById('environment-banner')).backgroundColor"
    )
    assert background == "rgb(176, 0, 32)"
    assert _text(browser, "action") == (
        f"Deploy {DEPLOY_FUNCTION} alias {DEPLOY_ALIAS} from v{STABLE_VERSION} to v{HEALTHY_VERSION} as a canary"
    )
    for element_id in ("summary", "approve", "reject"):
        _in_first_screen(browser, element_id)
    _screenshot(browser, "deploy-390x844-decision")
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    _no_horizontal_scroll(browser)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "incident" not in body.lower() and "10% of traffic" in body
    # When they approve, Then the result page says the canary runs and promotes; the flow promotes
    assert _click(browser, "approve") == f"Approved by {_approver(link)}."
    assert "promotes it" in _text(browser, "next-step")
    _screenshot(browser, "deploy-390x844-approved")
    view = finished(client, execution_arn, timeout=120)
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Promoted")
    assert _alias(client) == (HEALTHY_VERSION, {})


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
