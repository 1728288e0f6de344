"""The browser UI, in a real browser: headless Debian Chromium driven by Playwright.

The browser is the system's ``chromium`` (no browser download). Without it the browser tests
are skipped, except with ``CI=true``, where they fail. Screenshots of every page, at a laptop
width and a phone width, are written to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
import sqlalchemy as sa
import sqlalchemy.orm as so

from app.devserver import LocalServer
from app.env import CodeReviewerAction, CodeReviewerEnv, load_registry
from app.models import Episode, EpisodeStatus, Session, Step
from app.services.episodes import issue_outcomes, summary_counters

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
# Debian's chromium; CHROMIUM_PATH names another build (a CI runner's Chrome, say).
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
TIMEOUT_MS = 15_000
WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}
SYNTAX_ISSUES = load_registry().get("syntax_check").canonical.issues


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[LocalServer, str]]:
    """gunicorn over a fresh SQLite database, with that database's URL for direct inserts."""
    path = tmp_path_factory.mktemp("ui") / "ui.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    server = LocalServer(url, workers=2, threads=8)
    yield server, url
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        reason = "Debian chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true: the browser tests must run")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, timeout=TIMEOUT_MS)
        yield chromium
        chromium.close()


class Watched:
    """A page plus what it did that it should not have: dialogs, uncaught errors."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # The page must work within its own Content-Security-Policy: any refusal is an error.
        page.on("console", lambda message: self.errors.append(message.text)
                if "Content Security Policy" in message.text else None)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Watched]]:
    """Open pages in fresh browser contexts (``bypass_csp`` to test escaping on its own)."""
    contexts = []

    def opener(**options: Any) -> Watched:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return Watched(context.new_page())

    yield opener
    for context in contexts:
        context.close()


# WCAG 2 contrast of every visible text against the background it is drawn on: 4.5:1, or 3:1
# for large text. Native form controls' menus and disabled buttons are exempt.
CONTRAST_FAILURES = r"""() => {
  const parse = (color) => {
    const match = color.match(/rgba?\(([^)]+)\)/);
    if (!match) return null;
    const parts = match[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const channel = (value) => { value /= 255; return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4; };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const backgroundOf = (node) => {
    for (let current = node; current; current = current.parentElement) {
      const style = getComputedStyle(current);
      if (style.backgroundImage !== "none") return null;
      const color = parse(style.backgroundColor);
      if (color && color.a > 0.5) return color;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const failures = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(node)) continue;
    seen.add(node);
    if (!node.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    if (node.closest("option, button:disabled")) continue;
    const style = getComputedStyle(node);
    const foreground = parse(style.color);
    const background = backgroundOf(node);
    if (!foreground || !background) continue;
    const [light, dark] = [luminance(foreground), luminance(background)].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      failures.push(`${node.tagName}.${node.className} ${ratio.toFixed(2)}: ${walker.currentNode.textContent.trim().slice(0, 40)}`);
    }
  }
  return failures;
}"""


def capture(page: Any, name: str) -> None:
    """Check the contrast of what the page shows, then save full-page screenshots at a laptop
    width and a phone width (charts redraw on resize)."""
    assert page.evaluate(CONTRAST_FAILURES) == []
    ARTIFACTS.mkdir(exist_ok=True)
    original = page.viewport_size
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)


# ---------------------------------------------------------------------- helpers


def post(server: LocalServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{server.url}{path}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def report(line: int, issue_type: str = "syntax_error", severity: str = "high", description: str = "",
           confidence: float | None = None, fix: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"action_type": "identify_issue", "issue": {
        "line_number": line, "issue_type": issue_type, "severity": severity, "description": description,
        "suggested_fix": fix}}
    if confidence is not None:
        action["confidence"] = confidence
    return action


def play(server: LocalServer, actions: list[dict[str, Any]], **reset: Any) -> str:
    """Play an episode over REST; return its id."""
    started = post(server, "/reset", {"task": "syntax_check", **reset})
    for action in actions:
        post(server, "/step", {"session_id": started["session_id"], "action": action})
    return started["episode_id"]


def start_episode(page: Any, task: str = "syntax_check") -> None:
    page.wait_for_selector(f'#task option[value="{task}"]', state="attached")
    page.select_option("#task", task)
    page.fill("#seed", "")
    page.click("#start")
    page.wait_for_selector("#code .line")
    page.wait_for_function("() => !document.getElementById('open-report').disabled")


def report_in_form(page: Any, line: int, issue_type: str, severity: str, description: str) -> None:
    page.click(f'#code .line[data-line="{line}"] .src')
    dialog = page.locator("#report-dialog")
    dialog.wait_for(state="visible")
    assert page.input_value("#line-number") == str(line)
    page.select_option("#issue-type", issue_type)
    page.select_option("#severity", severity)
    page.fill("#description", description)
    page.fill("#confidence", "0.9")
    page.click("#report-submit")
    dialog.wait_for(state="hidden")


# ---------------------------------------------------------------------- no browser needed


def test_answer_key_is_absent_while_the_episode_runs(client) -> None:  # type: ignore[no-untyped-def]
    started = client.post("/reset", json={"task": "syntax_check"}).get_json()
    issue = SYNTAX_ISSUES[0]
    client.post("/step", json={"session_id": started["session_id"], "action": report(
        issue.line_number, severity=issue.severity.value)})
    running = client.get(f"/api/episodes/{started['episode_id']}").get_json()
    assert running["status"] == "running"
    assert running["planted_issues"] is None and running["decoys"] is None and running["result"] is None
    assert client.get(f"/result?session_id={started['session_id']}").get_json()["missed_issues"] == []
    client.post("/step", json={"session_id": started["session_id"], "action": {"action_type": "submit_review"}})
    finished = client.get(f"/api/episodes/{started['episode_id']}").get_json()
    assert len(finished["planted_issues"]) == len(SYNTAX_ISSUES)
    assert len(finished["result"]["missed_issues"]) == len(SYNTAX_ISSUES) - 1


def test_pages_are_shells_without_stored_data(client) -> None:  # type: ignore[no-untyped-def]
    episode_id = play_in_client(client)
    page = client.get(f"/episodes/{episode_id}").get_data(as_text=True)
    assert episode_id in page and "def " not in page  # the code comes from the API, not the page
    assert client.get("/episodes/%3Cb%3Ex").get_data(as_text=True).count("&lt;b&gt;x") == 2


def play_in_client(client) -> str:  # type: ignore[no-untyped-def]
    started = client.post("/reset", json={"task": "syntax_check"}).get_json()
    client.post("/step", json={"session_id": started["session_id"], "action": {"action_type": "submit_review"}})
    return started["episode_id"]


# ---------------------------------------------------------------------- review page


def test_play_a_whole_episode_by_clicking_to_success(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    watched = open_page()
    page = watched.page
    page.goto(f"{server.url}/")
    start_episode(page)
    assert page.get_attribute("#transport", "data-transport") == "WebSocket"
    assert page.locator("#code .line").count() == len(
        load_registry().get("syntax_check").canonical.snippet.code.rstrip("\n").split("\n"))
    assert page.locator("#code .tok-kw").count() > 10  # highlighted
    capture(page, "review-start")

    cumulative = 0.0
    for count, issue in enumerate(SYNTAX_ISSUES, start=1):
        report_in_form(page, issue.line_number, issue.issue_type.value, issue.severity.value,
                       f"Planted {issue.kind or issue.id}")
        page.wait_for_function(f"() => document.querySelectorAll('#reports li').length === {count}")
        latest = page.locator("#reports li").nth(count - 1)
        assert latest.get_attribute("data-outcome") == "match"
        cumulative = round(cumulative + issue.severity.value_points, 6)
        assert page.text_content("#step-reward") == f"+{issue.severity.value_points:.2f}"
        assert page.text_content("#cumulative-reward") == f"{cumulative:.2f}"
        assert page.text_content("#steps-left") == f"{15 - count} of 15"
        assert page.text_content("#feedback").startswith("Correct:")
    page.locator("#open-report").wait_for(state="visible")
    capture(page, "review-reporting")
    page.click("#submit-review")
    page.locator("#result").wait_for(state="visible")
    assert page.text_content("#result-success") == "yes"
    assert page.text_content("#result-score") == "1.00"
    assert page.text_content("#result-precision") == "100%"
    assert page.text_content("#result-recall") == "100%"
    page.wait_for_selector("#code .line.mark-found")
    assert page.locator("#code .line.mark-found").count() == len(SYNTAX_ISSUES)
    assert page.locator("#code .line.mark-missed").count() == 0
    assert page.locator("#legend").is_visible()
    capture(page, "review-result")
    assert watched.errors == [] and watched.dialogs == []


def test_a_pull_request_is_reviewed_on_the_code_after_it(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    from app.env.diffs import apply_unified_diff

    server, _ = ui_server
    watched = open_page()
    page = watched.page
    page.goto(f"{server.url}/")
    start_episode(page, "pr_review")
    episode = load_registry().episode("pr_review", seed=0, split="train")
    applied = apply_unified_diff(episode.snippet.code, episode.diff or "")
    assert page.locator("#diff-panel").is_visible()
    assert page.text_content("#code-title-text") == "Code after the pull request"
    assert page.locator("#code .line").count() == len(applied.code.rstrip("\n").split("\n"))
    changed = page.eval_on_selector_all("#code .line.changed", "rows => rows.map((row) => Number(row.dataset.line))")
    assert sorted(changed) == sorted(applied.added)
    page.click("#diff-panel summary")
    assert page.text_content("#diff") == episode.diff
    capture(page, "review-pull-request")
    start_episode(page, "syntax_check")
    assert not page.locator("#diff-panel").is_visible()
    assert page.text_content("#code-title-text") == "Code"
    assert watched.errors == [] and watched.dialogs == []


def test_highlighting_keeps_every_character_and_colours_python(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    page = open_page().page
    page.goto(f"{server.url}/")
    snippets = [task.canonical.snippet.code for task in load_registry().tasks() if task.canonical]
    snippets.append(load_registry().episode("full_review", seed=3).snippet.code)
    snippets.append('x = """open\nstill <b>open</b>\nclosed""" # done\ns = "unterminated\n@decorator\ndef f(a=0x1F, b=1.5e3):\n    return f"{a}" + \'q\\\'q\'  # it\'s\n')
    rendered = page.evaluate("""async (snippets) => {
        const { CodeView } = await import('/static/js/code.js');
        return snippets.map((code) => {
            const view = new CodeView(document.createElement('div'), code);
            return view.rows.map((row) => ({
                text: row.querySelector('.src').textContent,
                kinds: [...row.querySelectorAll('[class^=tok-]')].map((t) => t.className + ':' + t.textContent),
            }));
        });
    }""", snippets)
    for code, rows in zip(snippets, rendered):
        assert [row["text"] for row in rows] == code.splitlines()
    tricky = rendered[-1]
    assert tricky[1]["kinds"] == ["tok-str:still <b>open</b>"]  # inside the triple-quoted string
    assert tricky[2]["kinds"] == ['tok-str:closed"""', "tok-com:# done"]
    assert tricky[3]["kinds"] == ["tok-str:\"unterminated"]
    assert tricky[4]["kinds"] == ["tok-deco:@decorator"]
    assert tricky[5]["kinds"] == ["tok-kw:def", "tok-def:f", "tok-num:0x1F", "tok-num:1.5e3"]
    assert tricky[6]["kinds"] == ["tok-kw:return", 'tok-str:f"{a}"', "tok-str:'q\\'q'", "tok-com:# it's"]


def test_review_falls_back_to_rest_and_overlays_misses(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    watched = open_page()
    page = watched.page
    page.route_web_socket(re.compile(r"/ws$"), lambda socket: socket.close())  # the socket dies at once
    page.goto(f"{server.url}/")
    start_episode(page)
    assert page.get_attribute("#transport", "data-transport") == "REST"
    first = SYNTAX_ISSUES[0]
    wrong_line = next(n for n in range(1, 40) if all(n not in i.accepted_lines for i in SYNTAX_ISSUES))
    report_in_form(page, wrong_line, "syntax_error", "low", "Not a bug")
    page.wait_for_selector('#reports li[data-outcome="false_positive"]')
    assert page.text_content("#step-reward") == "-0.15"
    # Keyboard: Tab reaches the line last clicked, arrows move, Enter opens the form.
    page.focus(f'#code .line[data-line="{wrong_line}"] button.ln')
    for _ in range(abs(first.line_number - wrong_line)):
        page.keyboard.press("ArrowDown" if first.line_number > wrong_line else "ArrowUp")
    page.keyboard.press("Enter")
    page.locator("#report-dialog").wait_for(state="visible")
    assert page.input_value("#line-number") == str(first.line_number)
    page.select_option("#severity", first.severity.value)
    page.keyboard.press("Escape")
    page.locator("#report-dialog").wait_for(state="hidden")
    page.click("#hint")
    page.wait_for_function("() => document.getElementById('hints-left').textContent === '2'")
    assert page.locator("#hint-text").is_visible()
    page.click("#submit-review")
    page.locator("#result").wait_for(state="visible")
    assert page.text_content("#result-success") == "no"
    page.wait_for_selector("#code .line.mark-missed")
    assert page.locator("#code .line.mark-missed").count() == len(SYNTAX_ISSUES)
    assert page.locator("#code .line.mark-false-positive").count() == 1
    assert page.locator(".note-missed").count() == len(SYNTAX_ISSUES)
    # A second episode (a generated one) starts from a clean slate.
    page.fill("#seed", "7")
    page.click("#start")
    page.wait_for_function("() => !document.getElementById('open-report').disabled")
    assert page.locator("#code .line.mark-missed, #reports li, #code .note").count() == 0
    assert page.locator("#result").is_hidden()
    page.click('#code .line[data-line="3"] .src')
    page.locator("#report-dialog").wait_for(state="visible")
    assert page.input_value("#line-number") == "3"
    page.click("#report-cancel")
    assert watched.errors == []


def test_review_page_uses_rest_when_an_api_key_is_set(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    watched = open_page()
    page = watched.page
    seen: list[str | None] = []
    page.on("request", lambda request: seen.append(request.headers.get("authorization"))
            if request.url.endswith("/reset") else None)
    page.add_init_script("sessionStorage.setItem('codereview.apiKey', 'k-123')")
    page.goto(f"{server.url}/")
    start_episode(page)
    assert page.get_attribute("#transport", "data-transport") == "REST"
    assert seen == ["Bearer k-123"]
    assert page.locator("#api-key-forget").is_visible()


def test_the_ui_asks_for_a_key_when_the_server_requires_one(sqlite_template, tmp_path, open_page) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys.db"
    shutil.copy(sqlite_template, path)
    server = LocalServer(f"sqlite:///{path}", workers=1, threads=4,
                         extra_env={"API_KEYS": "user-key", "ADMIN_API_KEYS": "admin-key"})
    try:
        watched = open_page()
        page = watched.page
        page.goto(f"{server.url}/")  # the page shell is public; /tasks answers 401
        page.locator("#api-key-form").wait_for(state="visible")
        assert "API key" in page.text_content("#api-key-message")
        page.fill("#api-key-input", "wrong-key")
        page.press("#api-key-input", "Enter")
        page.wait_for_function("() => document.getElementById('api-key-message').textContent.includes('refused')")
        page.fill("#api-key-input", "admin-key")
        page.press("#api-key-input", "Enter")
        start_episode(page)
        assert page.get_attribute("#transport", "data-transport") == "REST"
        issue = SYNTAX_ISSUES[0]
        report_in_form(page, issue.line_number, "syntax_error", issue.severity.value, "missing colon")
        page.wait_for_selector('#reports li[data-outcome="match"]')
        page.click("#submit-review")
        page.wait_for_selector("#code .line.mark-found")
        page.goto(f"{server.url}/analytics")  # admin-only data; the key lasts for the tab
        page.wait_for_function("() => [...document.querySelectorAll('.chart')].every((c) => c.dataset.drawn === '1')")
        assert page.locator("#chart-success .ct-bar").count() == 1
        assert page.locator("#api-key-form").is_hidden()
        assert [error for error in watched.errors if "Content Security Policy" in error] == []
    finally:
        server.stop()


def test_keyboard_focus_is_visible(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    page = open_page().page
    page.goto(f"{server.url}/episodes")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").bounding_box()["x"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(2):
        page.keyboard.press("Tab")
    focused = page.evaluate("""() => {
        const style = getComputedStyle(document.activeElement);
        return [document.activeElement.id, style.outlineStyle, parseFloat(style.outlineWidth)];
    }""")
    assert focused[0] == "f-split" and focused[1] == "solid" and focused[2] >= 2


# ---------------------------------------------------------------------- episodes and replay


def test_episodes_page_filters_pages_and_asks_for_a_key(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    ids = [play(server, [{"action_type": "submit_review"}], agent="lister", model=f"m-{n}") for n in range(3)]
    watched = open_page()
    page = watched.page
    # The server may require API keys: answer 401 until the page sends the right one.
    def guard(route: Any) -> None:
        if route.request.headers.get("authorization") == "Bearer sesame":
            route.continue_()
        else:
            route.fulfill(status=401, content_type="application/json",
                          body='{"error": {"code": "UNAUTHORIZED", "message": "an API key is required"}}')
    page.route(re.compile(r"/api/episodes(\?|$)"), guard)
    page.goto(f"{server.url}/episodes?agent=lister&limit=10")
    page.locator("#api-key-form").wait_for(state="visible")
    assert "an API key is required" in page.text_content("#api-key-message")
    page.fill("#api-key-input", "sesame")
    page.click("#api-key-form button[type=submit]")
    page.wait_for_selector("#episodes tbody tr")
    assert page.evaluate("sessionStorage.getItem('codereview.apiKey')") == "sesame"
    assert page.locator("#episodes tbody tr").count() == 3
    assert page.input_value("#f-agent") == "lister"
    page.fill("#f-model", "m-1")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#episodes tbody tr').length === 1")
    assert "model=m-1" in page.url
    page.fill("#f-model", "")
    day = requests.get(f"{server.url}/api/episodes/{ids[0]}", timeout=10).json()["created_at"][:10]
    page.fill("#f-until", day)  # before that day: none of them
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.getElementById('summary').textContent.startsWith('No episodes')")
    page.fill("#f-until", "")
    page.fill("#f-since", day)
    page.fill("#f-limit", "1")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.getElementById('page-label').textContent === 'Page 1 of 3'")
    first_page = page.text_content("#episodes tbody tr")
    page.click("#next-page")
    page.wait_for_function("() => document.getElementById('page-label').textContent === 'Page 2 of 3'")
    assert page.text_content("#episodes tbody tr") != first_page
    page.click("#episodes tbody a")
    page.wait_for_url(re.compile(r"/episodes/.+"))
    assert page.url.rsplit("/", 1)[1] in ids
    page.goto(f"{server.url}/episodes?agent=lister")
    page.wait_for_selector("#episodes tbody tr")
    capture(page, "episodes")
    assert watched.errors == []


def test_replay_an_episode_step_by_step(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    first, second = SYNTAX_ISSUES[0], SYNTAX_ISSUES[1]
    wrong_line = next(n for n in range(1, 40) if all(n not in i.accepted_lines for i in SYNTAX_ISSUES))
    actions = [
        report(first.line_number, severity=first.severity.value, description="first", confidence=0.8),
        report(wrong_line, description="wrong", confidence=0.3),
        {"action_type": "request_hint"},
        report(second.line_number, severity=second.severity.value, description="second"),
        {"action_type": "submit_review"},
    ]
    episode_id = play(server, actions, agent="replayer", model="r-1")
    watched = open_page()
    page = watched.page
    page.goto(f"{server.url}/episodes/{episode_id}")
    page.wait_for_selector('#verdict[data-identical="true"]')
    assert "identical" in page.text_content("#verdict")
    assert page.text_content("#position") == "Step 0 of 5"
    page.wait_for_selector('#reward-chart[data-drawn="1"]')
    assert page.locator("#reward-chart .ct-bar").count() == 5  # reward per step, drawn
    page.click("#next")
    assert page.text_content("#position") == "Step 1 of 5"
    assert page.get_attribute("#code .line.current", "data-line") == str(first.line_number)
    assert "Correct" in page.text_content("#step-fields")
    assert f"+{first.severity.value_points:.2f}" in page.text_content("#step-fields")
    page.keyboard.press("ArrowRight")
    assert page.text_content("#position") == "Step 2 of 5"
    assert page.get_attribute("#code .line.current", "data-line") == str(wrong_line)
    assert "False positive" in page.text_content("#step-fields")
    assert "-0.15" in page.text_content("#step-fields")
    page.keyboard.press("ArrowRight")
    assert page.locator("#code .line.current").count() == 0  # a hint reports no line
    assert "hint penalty -0.05" in page.text_content("#step-fields")
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#position") == "Step 2 of 5"
    page.keyboard.press("End")
    assert page.text_content("#position") == "Step 5 of 5"
    assert page.is_disabled("#next") and page.is_disabled("#last")
    assert page.get_attribute("#reward-chart .ct-bar.ct-current", "ct:value") is not None
    page.click("#first")
    assert page.text_content("#position") == "Step 0 of 5"
    page.click("#last")
    page.check("#show-key")
    assert page.locator("#code .line.mark-found").count() == 2
    assert page.locator("#code .line.mark-missed").count() == len(SYNTAX_ISSUES) - 2
    assert page.locator("#code .line.mark-false-positive").count() == 1
    page.click('#steps button[data-position="4"]')
    assert page.get_attribute("#code .line.current", "data-line") == str(second.line_number)
    page.set_viewport_size({"width": 1366, "height": 500})  # a short code box: it must scroll
    page.click("#first")
    page.click('#steps button[data-position="4"]')
    box, line = page.locator("#code").bounding_box(), page.locator("#code .line.current").bounding_box()
    assert box["y"] <= line["y"] and line["y"] + line["height"] <= box["y"] + box["height"]
    page.set_viewport_size({"width": 1366, "height": 900})
    page.click('#steps button[data-position="1"]')
    assert page.text_content("#position") == "Step 1 of 5"
    capture(page, "replay")
    assert watched.errors == []


# ---------------------------------------------------------------------- analytics


def test_analytics_page_draws_its_charts_from_stored_episodes(ui_server, open_page) -> None:  # type: ignore[no-untyped-def]
    server, _ = ui_server
    for n in range(3):  # a careful agent, and a careless one with low confidence
        play(server, [report(i.line_number, severity=i.severity.value, confidence=0.9) for i in SYNTAX_ISSUES]
             + [{"action_type": "submit_review"}], agent="careful", model="c-1")
        play(server, [report(1 + n, confidence=0.2), report(SYNTAX_ISSUES[0].line_number, confidence=0.6),
                      {"action_type": "submit_review"}], agent="careless", model="x-1")
    play(server, [report(1, "security_vulnerability", confidence=0.5), {"action_type": "submit_review"}],
         task="security_audit", agent="careless", model="x-1")
    rows = {name: requests.get(f"{server.url}/api/analytics/{name}", timeout=30).json()["rows"]
            for name in ("summary", "agents", "issues", "false_positives", "calibration", "timeline")}
    watched = open_page()
    page = watched.page
    page.goto(f"{server.url}/analytics")
    page.wait_for_function("() => [...document.querySelectorAll('.chart')].every((c) => c.dataset.drawn === '1')")
    finished = [row for row in rows["summary"] if row["finished"]]
    assert page.locator("#chart-success .ct-bar").count() == len(finished)
    assert page.locator("#chart-scores .ct-bar").count() == 4 * len(finished)
    assert page.locator("#chart-leaderboard .ct-bar").count() == len([r for r in rows["agents"] if r["finished"]])
    assert page.locator("#chart-issues .ct-bar").count() == min(15, len(rows["issues"]))
    assert page.locator("#chart-false-positives .ct-bar").count() == 2 * len(
        [r for r in rows["false_positives"] if r["reports"]])
    assert page.locator("#chart-calibration .ct-line").count() == 2  # hit rate and the diagonal
    assert page.locator("#chart-calibration .ct-series-a .ct-point").count() == len(rows["calibration"])
    assert len(rows["calibration"]) >= 3
    assert page.locator("#chart-timeline .ct-bar").count() == len(rows["timeline"])
    labels = page.locator("#chart-leaderboard .ct-label").all_text_contents()
    assert any("careful / c-1" in label for label in labels)
    assert "syntax_check (train)" in page.locator("#chart-success .ct-label").all_text_contents()
    # Filters reach the API and the URL.
    page.fill("#f-agent", "careful")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#chart-leaderboard .ct-bar').length === 1")
    assert "agent=careful" in page.url
    page.fill("#f-agent", "")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#chart-leaderboard .ct-bar').length > 1")
    capture(page, "analytics")
    assert watched.errors == []


# ---------------------------------------------------------------------- hostile content

SCRIPT = "<script>window.__pwned = 'script'</script>"
IMG = "<img src=x onerror=\"window.__pwned='img'; alert('img')\">"
SVG = "\"><svg onload=\"window.__pwned='svg'\"></svg>"
PAYLOADS = [SCRIPT, IMG, SVG]
HOSTILE_CODE = "\n".join([
    f"# {SCRIPT}",
    f"html = '{IMG}'",
    f"other = \"{SVG}\"",
    "</code></pre></div><script>alert('closed the container')</script>",
]) + "\n" + load_registry().get("syntax_check").canonical.snippet.code
HOSTILE_ID = "xss-<img src=x onerror=alert(1)>"


def insert_hostile_episode(database_url: str) -> None:
    """Store a finished episode whose code, labels, descriptions and feedback are XSS payloads."""
    env = CodeReviewerEnv(task_name="syntax_check")
    env.reset(episode_id=HOSTILE_ID)
    planted = env.ground_truth()[0]
    actions = [
        report(planted.line_number, severity=planted.severity.value, description=IMG, fix=SCRIPT, confidence=0.7),
        report(2, description=SVG, fix=IMG, confidence=0.4),
        {"action_type": "submit_review"},
    ]
    engine = sa.create_engine(database_url)
    with so.Session(engine) as db:
        db.add(Session(id="xss-session", transport="http"))
        db.flush()
        steps = []
        for index, action in enumerate(actions, start=1):
            _, reward, done, info = env.step(CodeReviewerAction.from_dict(action))
            steps.append(Step(episode_id=HOSTILE_ID, index=index, action_type=action["action_type"], action=action,
                              outcome=info["last_outcome"], confidence=action.get("confidence"),
                              reward=reward.step_reward, breakdown=reward.breakdown,
                              changes={"feedback": f"{SCRIPT} {IMG}", "hint_text": None}, done=done))
        result = env.get_review_result()
        snapshot = env.snapshot()
        db.add(Episode(id=HOSTILE_ID, session_id="xss-session", task="syntax_check", seed=None, split="train",
                       code=HOSTILE_CODE, file_name=f"{SVG}.py", status=EpisodeStatus.FINISHED, agent=IMG[:128],
                       model=SCRIPT, step_count=len(actions), max_steps=15, issues_expected=7,
                       cumulative_reward=result.total_reward, completion_score=result.completion_score,
                       success=result.success, result=result.to_dict(), state=snapshot,
                       finished_at=sa.func.now(), **summary_counters(snapshot)))
        db.flush()
        db.add_all(steps)
        db.add_all(issue_outcomes(HOSTILE_ID, env.ground_truth(), snapshot["found"]))
        db.commit()
    engine.dispose()


def assert_nothing_ran(watched: Watched) -> None:
    page = watched.page
    assert page.evaluate("() => window.__pwned === undefined")
    assert watched.dialogs == []
    injected = page.evaluate("""() => [...document.querySelectorAll('*')].flatMap((node) =>
        [...node.attributes].filter((a) => /^on/i.test(a.name)).map((a) => node.tagName + ' ' + a.name))
        .concat([...document.querySelectorAll('script:not([src]), iframe, img, main svg:not(.ct-chart-bar):not(.ct-chart-line)')]
        .map((node) => node.outerHTML.slice(0, 80)))""")
    assert injected == []


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_hostile_content_is_shown_as_text_and_never_runs(ui_server, open_page, bypass_csp) -> None:  # type: ignore[no-untyped-def]
    server, database_url = ui_server
    if requests.get(f"{server.url}/api/episodes/{requests.utils.quote(HOSTILE_ID, safe='')}", timeout=10).status_code == 404:
        insert_hostile_episode(database_url)
    watched = open_page(bypass_csp=bypass_csp)
    page = watched.page

    page.goto(f"{server.url}/episodes/{requests.utils.quote(HOSTILE_ID, safe='')}")
    page.wait_for_selector("#verdict[data-identical]")
    assert page.text_content("#episode-title") == HOSTILE_ID
    assert page.text_content('#code .line[data-line="1"] .src') == f"# {SCRIPT}"
    assert page.text_content('#code .line[data-line="2"] .src') == f"html = '{IMG}'"
    assert page.text_content("#file-name") == f"{SVG}.py"
    assert page.get_attribute("#verdict", "data-identical") == "false"  # the stored code was altered
    assert IMG[:128] in page.text_content("#episode-info")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
        assert SCRIPT in page.text_content("#step-feedback")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    assert IMG in page.text_content("#step-fields") and SCRIPT in page.text_content("#step-fields")
    page.check("#show-key")
    assert page.locator(".note-false-positive").filter(has_text=SVG).count() == 1
    if not bypass_csp:
        capture(page, "xss-replay")
    assert_nothing_ran(watched)

    page.goto(f"{server.url}/episodes")
    page.wait_for_selector("#episodes tbody tr")
    row = page.locator("#episodes tbody tr").filter(has_text=HOSTILE_ID)
    assert row.count() == 1
    assert SCRIPT in row.text_content() and IMG[:128] in row.text_content()
    assert_nothing_ran(watched)

    page.goto(f"{server.url}/analytics")
    page.wait_for_function("() => [...document.querySelectorAll('.chart')].every((c) => c.dataset.drawn)")
    labels = " ".join(page.locator("#chart-false-positives .ct-label").all_text_contents())
    assert IMG[:128] in labels
    assert_nothing_ran(watched)
    assert watched.errors == []
