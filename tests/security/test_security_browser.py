"""Items 7, 16, 17 and 18 in Debian's chromium: the settings page against a hostile web.

An attacker's page is served from another origin (127.0.0.1 on another port:
the same *site*, so SameSite cookies do not help and the CSRF defences must).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _security_helpers import SECRET
from _servers import ADAPTERS, PAGE, serve

from tokenguard import TokenGuard

pytestmark = pytest.mark.browser

HOSTILE_NAMES = [
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
    '"><svg onload=window.__pwned=3>',
    "'};window.__pwned=4;//</textarea></title>",
]


@dataclass
class Attacker:
    """Another origin that serves pages and records what it receives."""

    url: str = ""
    pages: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    state = Attacker()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = state.pages.get(self.path.split("?")[0], "<p>nothing here</p>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(params=ADAPTERS)
def app(request: pytest.FixtureRequest) -> Iterator[tuple[str, TokenGuard]]:
    guard = TokenGuard("memory://", secret_key=SECRET, load_entry_points=False, max_tokens_per_owner=None)
    with serve(request.param, guard) as url:
        yield url, guard


def new_page(browser: Any, **options: Any) -> Any:
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/login/alice")
    page.goto(f"{url}{PAGE}")
    assert page.locator('meta[name="csrf-token"]').count() == 1


def create_in_page(page: Any, name: str) -> tuple[str, Any]:
    """Fill and send the create form; return the secret shown and the POST's response."""
    page.fill("#name", name)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("form.create-form [type=submit]")
    page.wait_for_load_state()
    secret = page.locator("#new-token").text_content()
    assert secret and secret.startswith("tg_")
    return secret, posted.value


def settled_content(page: Any) -> str:
    """The page's HTML once any navigation in flight has finished.

    A page the back/forward cache restores fires no load event: after a short wait
    for one (a reload the page's script starts, say), its content is read as it is.
    """
    page.wait_for_timeout(300)
    for _ in range(50):
        with contextlib.suppress(Exception):  # restored from the back/forward cache: loaded already
            page.wait_for_load_state(timeout=2000)
        try:
            return str(page.content())
        except Exception:  # navigating: wait for it
            page.wait_for_timeout(100)
    raise AssertionError("the page never settled")


def wait_until(page: Any, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll while letting Playwright deliver its events (a plain sleep would not)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def test_a_page_on_another_origin_cannot_write(browser: Any, app: tuple[str, TokenGuard],
                                              attacker: Attacker) -> None:
    url, guard = app
    guard.create_token("alice", "victim", token_id="victim")
    forms = {
        "create": (f"{url}{PAGE}", {"name": "pwned", "permission": "management"}),
        "revoke": (f"{url}{PAGE}/victim/revoke", {}),
        "rotate": (f"{url}{PAGE}/victim/rotate", {}),
        "delete": (f"{url}{PAGE}/victim/delete", {"confirm": "yes"}),
        "guessed csrf": (f"{url}{PAGE}", {"name": "pwned", "csrf_token": "x"}),
        "api revoke": (f"{url}/api/tokens/victim/revoke", {}),
    }
    html = []
    for n, (action, fields) in enumerate(forms.values()):
        inputs = "".join(f'<input name="{k}" value="{v}">' for k, v in fields.items())
        html.append(f'<iframe name="f{n}"></iframe><form id="form{n}" method="post" target="f{n}" '
                    f'action="{action}">{inputs}</form>')
    submits = "".join(f'document.getElementById("form{n}").submit();' for n in range(len(forms)))
    fetches = (f'fetch("{url}/api/tokens", {{method: "POST", mode: "no-cors", credentials: "include", '
               f'headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{name: "pwned"}})}});'
               f'fetch("{url}/api/tokens/victim", {{method: "DELETE", credentials: "include"}})'
               f'.catch(() => null);')
    attacker.pages["/evil"] = "".join(html) + f"<script>{submits}{fetches}</script>"

    page = new_page(browser)
    sign_in(page, url)
    writes: list[str] = []
    statuses: list[int] = []
    page.context.on("requestfinished", lambda r: writes.append(r.url) if r.method == "POST" else None)
    page.context.on("requestfailed", lambda r: writes.append(r.url) if r.method == "POST" else None)
    page.context.on("response", lambda r: statuses.append(r.status) if r.request.method != "GET" else None)
    page.goto(f"{attacker.url}/evil")
    wait_until(page, lambda: len(writes) >= len(forms) + 1)   # every forged write reached the server
    page.wait_for_timeout(300)
    assert len(statuses) >= len(forms) + 1 and set(statuses) == {403}   # refused by CSRF, not unseen
    tokens = guard.list_tokens("alice")
    assert [(t.id, t.status) for t in tokens] == [("victim", "active")]
    assert guard.get_token("victim").hint == tokens[0].hint     # not rotated either

    page.goto(f"{url}{PAGE}")                        # the same session, from our own page, can write
    create_in_page(page, "legitimate")
    assert sorted(t.name for t in guard.list_tokens("alice")) == ["legitimate", "victim"]
    page.context.close()


def test_a_hostile_token_name_is_shown_as_text(browser: Any, app: tuple[str, TokenGuard]) -> None:
    url, guard = app
    for n, name in enumerate(HOSTILE_NAMES):
        guard.create_token("alice", name, token_id=f"hostile-{n}")
    page = new_page(browser)
    sign_in(page, url)
    for n, name in enumerate(HOSTILE_NAMES):
        assert page.get_by_text(name, exact=True).count() >= 1, name
        page.goto(f"{url}{PAGE}/hostile-{n}/delete")           # the confirmation page shows it too
        assert page.get_by_text(name, exact=False).count() >= 1
        page.goto(f"{url}{PAGE}")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x], svg[onload], script:not([src])").count() == 0
    page.context.close()


def test_the_page_refuses_to_be_framed(browser: Any, app: tuple[str, TokenGuard], attacker: Attacker) -> None:
    url, _ = app
    attacker.pages["/frame"] = (f'<iframe id="control" src="{url}/public"></iframe>'
                                f'<iframe id="victim" src="{url}{PAGE}"></iframe>')
    page = new_page(browser)
    sign_in(page, url)
    page.goto(f"{attacker.url}/frame")
    wait_until(page, lambda: len(page.frames) == 3)
    page.wait_for_load_state("load")
    control = page.frame_locator("#control").locator("body")
    assert "public" in control.text_content()                  # frames work in this browser
    framed = [f for f in page.frames if f.parent_frame is not None and f.name == ""]
    contents = [f.evaluate("document.documentElement.outerHTML") if f.url.startswith(url) else f.url
                for f in framed]
    assert not any("csrf-token" in c or "create-form" in c for c in contents)
    page.context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_secret_is_shown_once_and_never_again(browser: Any, app: tuple[str, TokenGuard],
                                                  javascript: bool) -> None:
    url, _ = app
    page = new_page(browser, java_script_enabled=javascript)
    sign_in(page, url)
    secret, response = create_in_page(page, "ci")
    assert "no-store" in response.headers["cache-control"]
    page.reload()
    assert secret not in settled_content(page)
    page.goto(f"{url}/public")
    try:
        page.go_back(wait_until="commit")  # a page from the back/forward cache fires no load
    except Exception as exc:   # without JS the entry is a POST: chromium will not replay it unasked
        assert "ERR_CACHE_MISS" in str(exc)
    assert secret not in settled_content(page)
    page.context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("action", ["create", "rotate"])
def test_back_after_leaving_the_secret_page_does_not_show_it(browser: Any, app: tuple[str, TokenGuard],
                                                             action: str, javascript: bool) -> None:
    """Chromium keeps even a no-store page in its back/forward cache: Back must not bring the secret."""
    url, _ = app
    page = new_page(browser, java_script_enabled=javascript)
    sign_in(page, url)
    secret, _ = create_in_page(page, "ci")
    if action == "rotate":
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("form[action$='/rotate'] button")
        page.wait_for_load_state()
        secret = page.inner_text("#new-token")
    page.goto(f"{url}/public")
    try:
        page.go_back(wait_until="commit")
    except Exception as exc:  # without JS the entry is a POST: chromium will not replay it unasked
        assert not javascript and "ERR_CACHE_MISS" in str(exc)
    assert secret not in settled_content(page)
    page.context.close()


def test_reloading_the_secret_page_without_javascript_creates_nothing(
    browser: Any, app: tuple[str, TokenGuard],
) -> None:
    url, guard = app
    page = new_page(browser, java_script_enabled=False)
    sign_in(page, url)
    secret, _ = create_in_page(page, "ci")
    page.reload()  # without JavaScript nothing replaced the POST entry: the form is sent again
    content = settled_content(page)
    page.context.close()
    assert len(guard.list_tokens("alice")) == 1
    assert "already created" in content and secret not in content


def test_reloading_the_rotated_secret_without_javascript_rotates_nothing(
    browser: Any, app: tuple[str, TokenGuard],
) -> None:
    url, guard = app
    page = new_page(browser, java_script_enabled=False)
    sign_in(page, url)
    create_in_page(page, "ci")
    page.goto(url + PAGE)
    page.click("form[action$='/rotate'] [type=submit]")
    page.wait_for_load_state()
    rotated = page.locator("#new-token").text_content()
    assert rotated and rotated.startswith("tg_")
    page.reload()
    content = settled_content(page)
    page.context.close()
    assert "already rotated" in content and rotated not in content
    assert guard.authenticate(rotated).name == "ci"  # the secret the user copied still works


def test_the_secret_is_never_in_a_url_history_or_referer(browser: Any, app: tuple[str, TokenGuard],
                                                         attacker: Attacker) -> None:
    url, guard = app
    page = new_page(browser)
    requests: list[Any] = []
    page.context.on("request", lambda request: requests.append(request))
    sign_in(page, url)
    secret, _ = create_in_page(page, "ci")
    page.evaluate(f"location.href = {attacker.url + '/landing'!r}")   # leave the page for another site
    page.wait_for_url(f"{attacker.url}/landing")
    page.go_back()
    page.reload()
    history = page.context.new_cdp_session(page).send("Page.getNavigationHistory")["entries"]
    assert history and all(secret not in e["url"] and secret not in e["title"] for e in history)
    assert all(secret not in r.url for r in requests)
    for request in requests:
        sent = request.all_headers()
        assert all(secret not in v for v in sent.values())
        if request.url.startswith(url) and request.is_navigation_request() is False:
            assert not sent.get("referer"), request.url
    landing = [headers for path, headers in attacker.seen if path == "/landing"]
    assert landing and "referer" not in landing[0]
    storage = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert secret not in storage and secret not in page.url and secret not in page.title()
    assert len(guard.list_tokens("alice")) == 1
    page.context.close()
