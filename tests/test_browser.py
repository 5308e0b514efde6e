"""The connection form in Airflow's real web UI, driven in headless Chromium (Debian's ``chromium`` and
``chromium-driver``): create an ``openai_realtime`` connection, use the UI's test action against the
emulator, save it, and check that the hook accepts what the form stored.

Run on Airflow 3.3 and 2.11 (the React UI of 3.x and the Flask UI of 2.x); a screenshot is saved
beside the test's temporary files when a step fails.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import shutil
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Sandbox as AirflowSandbox

from airflow_provider_realtime import compat
from airflow_provider_realtime.testing import RealtimeEmulator

BROWSER_VERSIONS = ((3, 3), (2, 11))
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = [
    pytest.mark.airflow_process,
    pytest.mark.skipif(
        compat.airflow_version() not in BROWSER_VERSIONS,
        reason=f"the browser test runs on Airflow {', '.join(f'{major}.{minor}' for major, minor in BROWSER_VERSIONS)}",
    ),
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER) or importlib.util.find_spec("selenium") is None,
        reason="needs Debian's chromium and chromium-driver (apt-get install) and selenium",
    ),
]
CONN_ID = "realtime_from_the_form"
WAIT = 30  # seconds for the UI to show what a step waits for


@pytest.fixture(scope="module")
def web_ui(sandbox: AirflowSandbox, request: pytest.FixtureRequest) -> Iterator[str]:
    """One web UI (its Test button enabled) for every test of the module: starting one takes 10-30 s.
    Airflow 3: the sandbox's API server, shared with the other tests (``api_server``)."""
    if compat.airflow_version() >= (3, 0):
        yield request.getfixturevalue("api_server")
        return
    with sandbox.web_ui(env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}) as url:
        yield url


@contextlib.contextmanager
def screenshot_on_failure(driver: Any, path: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        driver.save_screenshot(str(path))
        print(f"screenshot of the failing page: {path}")
        raise


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # React re-renders under our feet: an element found a moment ago may be gone; look again.
    wait = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(condition, message=f"waited {WAIT} s for {what}")


def button(driver: Any, label: str) -> Any:
    """The visible button whose text or aria-label is ``label``."""
    from selenium.webdriver.common.by import By

    def find(_: Any) -> Any:
        for element in driver.find_elements(By.TAG_NAME, "button"):
            if (
                label in (element.text.strip(), element.get_attribute("aria-label"))
                and element.is_displayed()
            ):
                return element
        return None

    return wait_for(driver, find, f"the button {label!r}")


def record_test_requests(driver: Any) -> None:
    """Make the page keep each answer to its connection-test request (3.x), to read back."""
    driver.execute_script(
        """
        window.connectionTests = [];
        const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
        XMLHttpRequest.prototype.open = function (method, url) { this.testUrl = url; return open.apply(this, arguments); };
        XMLHttpRequest.prototype.send = function (body) {
            if (String(this.testUrl).endsWith('/connections/test')) {
                this.addEventListener('load', () => window.connectionTests.push(
                    {status: this.status, request: body, answer: this.responseText}));
            }
            return send.apply(this, arguments);
        };
        """
    )


def fill_the_react_form(
    driver: Any, url: str, emulator: RealtimeEmulator, conn_id: str = CONN_ID, timeout: str = "30"
) -> None:
    """Airflow 3: Admin > Connections > Add Connection, then Save."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(url)
    button(driver, "Admin").click()
    wait_for(
        driver, lambda d: d.find_elements(By.LINK_TEXT, "Connections"), "Admin > Connections"
    ).pop().click()
    button(driver, "Add Connection").click()
    wait_for(driver, lambda d: d.find_elements(By.NAME, "connection_id"), "the form").pop().send_keys(conn_id)
    # The dialog's connection type box, once it can be typed in (the page behind may hold other boxes).
    kind = wait_for(
        driver,
        lambda d: [
            box
            for box in d.find_elements(By.CSS_SELECTOR, "[role=dialog] input[role=combobox]")
            if box.is_displayed() and box.is_enabled()
        ],
        "the connection type box",
    ).pop()
    kind.click()
    kind.send_keys("OpenAI Realtime")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[role=option]"), "the connection types")
    kind.send_keys(Keys.ENTER)
    host = wait_for(driver, lambda d: d.find_elements(By.NAME, "host"), "the Base URL field").pop()
    assert host.get_attribute("placeholder") == "https://api.openai.com/v1"
    host.send_keys(emulator.base_url)
    # The port, as the form's placeholder asks: without one, 3.3.2's Test button posts port 0 and fails.
    port = driver.find_element(By.NAME, "port")
    assert "Bad Request" in (port.get_attribute("placeholder") or "")
    port.send_keys(str(urllib.parse.urlsplit(emulator.base_url).port))
    driver.find_element(By.NAME, "password").send_keys(emulator.api_key)
    button(driver, "Extra Fields").click()
    api_type = wait_for(driver, lambda d: d.find_elements(By.NAME, "element_api_type"), "the extras").pop()
    assert api_type.get_attribute("value") == "openai", "the API type defaults to openai, not null"
    driver.find_element(By.NAME, "element_organization").send_keys("org-from-the-form")
    driver.find_element(By.NAME, "element_timeout").send_keys(timeout)
    driver.find_element(By.NAME, "element_max_retries").send_keys("2")
    labels = driver.find_element(By.CSS_SELECTOR, "[role=dialog]").text
    assert "Backoff initial (s)" in labels and "Retry-After max (s)" in labels, labels
    # No placeholder for extras in Airflow 3's form: the help text shows what the IDs look like.
    assert "Looks like org-…" in labels and "Looks like proj_…" in labels, labels
    button(driver, "Save").click()
    wait_for(driver, lambda d: "successfully created" in d.page_source, "the connection to be saved")


@pytest.mark.parametrize("typed", ["0", "soon"], ids=["out-of-range", "text"])
def test_the_react_form_saves_what_the_hook_refuses_and_its_test_says_why(
    browser: Any,
    sandbox: AirflowSandbox,
    web_ui: str,
    shared_emulator: RealtimeEmulator,
    tmp_path: Path,
    typed: str,
) -> None:
    """Airflow 3.3's form checks no range (a schema minimum makes it replace the typed value with the
    bound instead), and a number box would drop text: the fields are text boxes, so it saves a timeout
    of 0, or "soon", as typed, and the Test button then names the field, its label and the allowed
    range, as the task log's first lines would."""
    if compat.airflow_version() < (3, 0):
        pytest.skip("Airflow 2's form refuses the value: see the Flask tests below")
    from selenium.webdriver.common.by import By

    refused_id = f"realtime_timeout_{'zero' if typed == '0' else 'text'}"
    shared_emulator.reset()
    screenshot = tmp_path / "react-form-test-says-why.png"
    with screenshot_on_failure(browser, screenshot):
        fill_the_react_form(browser, web_ui, shared_emulator, conn_id=refused_id, timeout=typed)
        row = wait_for(
            browser,
            lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "tr") if refused_id in r.text],
            "the saved connection in the list",
        ).pop()
        record_test_requests(browser)
        row.find_element(By.CSS_SELECTOR, "button[aria-label='Test Connection']").click()
        test = wait_for(browser, lambda d: d.execute_script("return window.connectionTests[0]"), "the test")
        browser.save_screenshot(str(screenshot))
        print(f"screenshot of the test's answer: {screenshot}")
    answer = json.loads(test["answer"])
    assert answer["status"] is False, answer
    assert "extra 'timeout' must be a number of seconds, more than 0 and at most 3600" in answer["message"]
    assert "the form's field 'Read timeout (s)'" in answer["message"]
    assert not shared_emulator.requests, "nothing is sent with a refused setting"
    delete_connection(sandbox, refused_id)


def test_the_react_ui_in_a_browser(
    browser: Any,
    sandbox: AirflowSandbox,
    web_ui: str,
    shared_emulator: RealtimeEmulator,
    tmp_path: Path,
) -> None:
    if compat.airflow_version() < (3, 0):
        pytest.skip("Airflow 2 has the Flask UI: see the test below")
    from selenium.webdriver.common.by import By

    shared_emulator.reset()
    with screenshot_on_failure(browser, tmp_path / "react-ui.png"):
        fill_the_react_form(browser, web_ui, shared_emulator)
        row = wait_for(
            browser,
            lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "tr") if CONN_ID in r.text],
            "the new connection in the list",
        ).pop()
        record_test_requests(browser)
        row.find_element(By.CSS_SELECTOR, "button[aria-label='Test Connection']").click()
        test = wait_for(browser, lambda d: d.execute_script("return window.connectionTests[0]"), "the test")
    # With the port typed, the posted port is the stored one: the Test button reaches the emulator.
    assert test["status"] == 200 and json.loads(test["answer"])["status"] is True, test
    assert [r.path for r in shared_emulator.requests] == ["/v1/models"]
    the_hook_accepts_the_stored_connection(sandbox, shared_emulator)


def test_the_flask_ui_in_a_browser(
    browser: Any,
    sandbox: AirflowSandbox,
    web_ui: str,
    shared_emulator: RealtimeEmulator,
    tmp_path: Path,
) -> None:
    if compat.airflow_version() >= (3, 0):
        pytest.skip("Airflow 3 has the React UI: see the test above")
    from selenium.webdriver.common.by import By

    shared_emulator.reset()
    extra = "extra__openai_realtime__"
    with screenshot_on_failure(browser, tmp_path / "flask-ui.png"):
        browser.get(f"{web_ui}/connection/add")
        wait_for(browser, lambda d: d.find_elements(By.ID, "conn_type"), "the form")
        browser.execute_script("$('#conn_type').val('openai_realtime').trigger('change')")
        browser.find_element(By.ID, "conn_id").send_keys(CONN_ID)
        host = browser.find_element(By.ID, "host")
        assert host.get_attribute("placeholder") == "https://api.openai.com/v1"
        host.send_keys(shared_emulator.base_url)
        # Airflow 2's Test button needs no port: no hint of Airflow 3.3.2's trouble here.
        assert browser.find_element(By.ID, "port").get_attribute("placeholder") == "443 (optional)"
        browser.find_element(By.ID, "password").send_keys(shared_emulator.api_key)
        assert browser.find_element(By.ID, f"{extra}api_type").get_attribute("value") == "openai"
        organization = browser.find_element(By.ID, f"{extra}organization")
        assert organization.get_attribute("placeholder") == "org-..."
        organization.send_keys("org-from-the-form")
        browser.find_element(By.ID, f"{extra}timeout").send_keys("30")
        retries = browser.find_element(By.ID, f"{extra}max_retries")
        retries.clear()
        retries.send_keys("2")
        assert browser.find_element(By.ID, f"{extra}retry_after_max").is_displayed()
        browser.find_element(By.ID, "test-connection").click()
        wait_for(browser, lambda d: "GET /models answered 200" in d.page_source, "the test's answer")
        assert [r.path for r in shared_emulator.requests] == ["/v1/models"]
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(browser, lambda d: "Added Row" in d.page_source, "the connection to be saved")
    the_hook_accepts_the_stored_connection(sandbox, shared_emulator)


def the_hook_accepts_the_stored_connection(sandbox: AirflowSandbox, emulator: RealtimeEmulator) -> None:
    """What the form stored works with the hook: ``airflow connections test`` runs its test_connection on
    the stored connection (Airflow 2); Airflow 3's REST API gives the stored connection back, and tests it
    as posted, in the API server (an Airflow process start less for each command)."""
    emulator.reset()
    if compat.airflow_version() >= (3, 0):
        stored = sandbox.api_get(f"/api/v2/connections/{CONN_ID}")
        tested = sandbox.api_request("POST", "/api/v2/connections/test", stored)
        assert tested["status"] is True, tested
        extras = json.loads(stored["extra"])
    else:
        result = sandbox.airflow(
            "connections", "test", CONN_ID, env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
        )
        assert "Connection success!" in result.output, result.output[-2000:]
        exported = sandbox.airflow("connections", "get", CONN_ID, "--output", "json")
        stored = json.loads(exported.output[exported.output.index("[") :])[0]
        extras = stored["extra_dejson"]
    (request,) = emulator.requests
    assert request.headers.get("openai-organization") == "org-from-the-form"
    prefix = "extra__openai_realtime__"  # Airflow 2's form stores the field names it was given
    extras = {str(key).removeprefix(prefix): value for key, value in extras.items()}
    assert extras["timeout"] in (30, "30") and extras["max_retries"] in (2, "2"), extras
    assert extras["api_type"] == "openai"
    delete_connection(sandbox, CONN_ID)


def stale(element: Any) -> bool:
    """Whether ``element`` is gone from the page (a new page was loaded)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    return False


def delete_connection(sandbox: AirflowSandbox, conn_id: str) -> None:
    if compat.airflow_version() >= (3, 0):
        sandbox.api_request("DELETE", f"/api/v2/connections/{conn_id}")
    else:
        sandbox.airflow("connections", "delete", conn_id)


def test_the_flask_form_refuses_an_out_of_range_value_saying_why(
    browser: Any,
    sandbox: AirflowSandbox,
    web_ui: str,
    shared_emulator: RealtimeEmulator,
    tmp_path: Path,
) -> None:
    """Airflow 2: the form does not save a value the hook would refuse, and says why."""
    if compat.airflow_version() >= (3, 0):
        pytest.skip(
            "Airflow 3's form checks no range: the hook refuses the value, naming it (docs/connection.md)"
        )
    from selenium.webdriver.common.by import By

    refused_id = "realtime_refused_by_the_form"
    screenshot = tmp_path / "flask-form-refused.png"
    with screenshot_on_failure(browser, screenshot):
        browser.get(f"{web_ui}/connection/add")
        wait_for(browser, lambda d: d.find_elements(By.ID, "conn_type"), "the form")
        browser.execute_script("$('#conn_type').val('openai_realtime').trigger('change')")
        browser.find_element(By.ID, "conn_id").send_keys(refused_id)
        browser.find_element(By.ID, "host").send_keys(shared_emulator.base_url)
        browser.find_element(By.ID, "password").send_keys(shared_emulator.api_key)
        browser.find_element(By.ID, "extra__openai_realtime__timeout").send_keys("0")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # Refused: the form comes back (Airflow empties the API key), the field marked in red. Airflow 2's
        # page script then writes its own "Fields that are currently populated…" warning over every
        # alert box, the field's error among them (Airflow's bug): the field's help text, which
        # states the range, is what tells the user why.
        wait_for(
            browser,
            lambda d: (
                d.find_element(By.ID, "password").get_attribute("value") == ""
                and d.find_elements(
                    By.XPATH,
                    "//input[@id='extra__openai_realtime__timeout']/following::*[contains(@class, 'alert')]",
                )
            ),
            "the form to come back with the field marked",
        )
        assert "Allowed: more than 0 and at most 3600." in browser.page_source
        browser.save_screenshot(str(screenshot))
        print(f"screenshot of the refused form: {screenshot}")
        # The flagged field fixed and saved again, the emptied key not retyped: refused, saying why.
        assert "type it again after a refused Save" in browser.find_element(By.ID, "password").get_attribute(
            "placeholder"
        )
        timeout = browser.find_element(By.ID, "extra__openai_realtime__timeout")
        timeout.clear()
        timeout.send_keys("30")
        before = browser.find_element(By.ID, "password")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(browser, lambda d: stale(before), "the page to be answered")
        # Refused again, the API type marked (its message is overwritten by Airflow's page script, as
        # above): the API Key box's placeholder is what says why.
        wait_for(
            browser,
            lambda d: d.find_elements(
                By.XPATH,
                "//input[@id='extra__openai_realtime__api_type']/following::*[contains(@class, 'alert')]",
            ),
            "the form to come back refusing the missing key",
        )
        assert "Added Row" not in browser.page_source
        assert "required; type it again" in browser.find_element(By.ID, "password").get_attribute(
            "placeholder"
        )
        browser.save_screenshot(str(tmp_path / "flask-form-no-key.png"))
        stored = sandbox.airflow("connections", "get", refused_id)
        assert stored.returncode != 0 or refused_id not in stored.output, "saved without its key"
        # With the key typed again it is saved, key and all.
        browser.find_element(By.ID, "extra__openai_realtime__timeout").clear()
        browser.find_element(By.ID, "extra__openai_realtime__timeout").send_keys("30")
        browser.find_element(By.ID, "password").send_keys(shared_emulator.api_key)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(browser, lambda d: "Added Row" in d.page_source, "the connection to be saved")
    exported = sandbox.airflow("connections", "get", refused_id, "--output", "json")
    (stored_connection,) = json.loads(exported.output[exported.output.index("[") :])
    assert stored_connection["password"] == shared_emulator.api_key
    delete_connection(sandbox, refused_id)


def test_the_flask_test_button_names_the_field_and_not_a_made_up_connection_id(
    browser: Any,
    sandbox: AirflowSandbox,
    web_ui: str,
    shared_emulator: RealtimeEmulator,
    tmp_path: Path,
) -> None:
    """Airflow 2's Test button tests the unsaved form under a random id: its answer names
    "the connection", the field and the allowed range. No number is prefilled."""
    if compat.airflow_version() >= (3, 0):
        pytest.skip("Airflow 3: see the React tests above")
    from selenium.webdriver.common.by import By

    extra = "extra__openai_realtime__"
    shared_emulator.reset()
    screenshot = tmp_path / "flask-test-says-why.png"
    with screenshot_on_failure(browser, screenshot):
        browser.get(f"{web_ui}/connection/add")
        wait_for(browser, lambda d: d.find_elements(By.ID, "conn_type"), "the form")
        browser.execute_script("$('#conn_type').val('openai_realtime').trigger('change')")
        # Airflow 2 takes no select from a provider: the API type is text, its help text names the values.
        assert browser.find_element(By.ID, f"{extra}api_type").get_attribute("value") == "openai"
        assert "One of: openai, azure." in browser.page_source
        assert browser.find_element(By.ID, f"{extra}max_retries").get_attribute("value") == ""
        browser.find_element(By.ID, "host").send_keys(shared_emulator.base_url)
        browser.find_element(By.ID, "password").send_keys(shared_emulator.api_key)
        browser.find_element(By.ID, f"{extra}timeout").send_keys("0")
        browser.find_element(By.ID, "test-connection").click()
        said = "the connection: extra 'timeout' must be a number of seconds, more than 0 and at most 3600"
        wait_for(browser, lambda d: said in d.page_source, "the test's answer")
        browser.execute_script("window.scrollTo(0, 0)")  # the answer is shown at the top of the page
        browser.save_screenshot(str(screenshot))
        print(f"screenshot of the test's answer: {screenshot}")
    assert not shared_emulator.requests, "nothing is sent with a refused setting"
