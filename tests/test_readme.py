"""The README's code is true as written: each quick start runs verbatim and answers as it says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
KEY = "a-long-random-key-of-at-least-32-bytes"
#: where the README's links to the repository's own files point, so that they work on PyPI too
REPOSITORY_FILES = ("https://github.com/tokenguard/tokenguard/blob/main/",
                    "https://raw.githubusercontent.com/tokenguard/tokenguard/main/")
#: the sections on how tokenguard works inside: after everything a user needs to set it up.
INTERNALS = ("HTTP behaviour", "Token format", "Verification cache and several instances",
             "Choices made where the contract is silent", "Performance", "Development")

pytest_plugins = ["pytester"]


def block_after(heading: str, index: int = 0) -> str:
    """The ``index``-th python block of the README section titled ``heading``."""
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    return blocks[index]


def run(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)  # the snippets use sqlite:///tokens.db in the working directory
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README
    return namespace


def test_the_flask_quick_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = run(block_after("Quick start: Flask"), tmp_path, monkeypatch)["app"]
    guard = app.extensions["tokenguard"].guard
    token = guard.create_token("alice", "readme", scopes=["read"]).token
    client = app.test_client()
    assert client.get("/api/notes").status_code == 401
    answer = client.get("/api/notes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json == {"owner": "alice"}
    with client.session_transaction() as session:
        session["user"] = "alice"
    page = client.get("/settings/tokens")
    assert page.status_code == 200 and "readme" in page.get_data(as_text=True)


def test_the_starlette_quick_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    namespace = run(block_after("Quick start: ASGI (Starlette, FastAPI)"), tmp_path, monkeypatch)
    token = namespace["guard"].create_token("bob", "readme", scopes=["write"]).token
    with TestClient(namespace["app"]) as client:
        assert client.get("/api/notes").status_code == 401
        answer = client.get("/api/notes", headers={"Api-Token": token})
        assert answer.status_code == 200 and answer.json() == {"owner": "bob"}
        assert client.get("/settings/tokens").status_code == 401  # nobody signed in


def test_the_fastapi_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    namespace = run(block_after("Quick start: ASGI (Starlette, FastAPI)", 1), tmp_path, monkeypatch)
    token = namespace["guard"].create_token("carol", "readme", scopes=["read"]).token
    with TestClient(namespace["app"]) as client:
        denied = client.get("/api/notes")
        assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/api/notes", headers={"Authorization": f"Bearer {token}"}).json() == {
            "owner": "carol"}
        schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
        assert any(s.get("scheme") == "bearer" for s in schemes.values())


#: Runs in a fresh interpreter (Django's settings are global to a process; tests/django/ configures
#: its own): a small DRF project, the README's settings and urls added as written, migrated.
DJANGO_PROJECT = """
import json, sys, types
from pathlib import Path

settings_part, urls_part, view_part = json.loads(sys.stdin.read())
project = {
    "SECRET_KEY": "readme-django-secret", "ALLOWED_HOSTS": ["testserver"], "USE_TZ": True,
    "ROOT_URLCONF": "readme_urls", "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
    "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3",
                              "NAME": str(Path.cwd() / "db.sqlite3")}},
    "INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                       "rest_framework"],
    "MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware",
                   "django.contrib.auth.middleware.AuthenticationMiddleware"],
}
exec(settings_part, project)
import django
from django.conf import settings

settings.configure(**{name: value for name, value in project.items() if name.isupper()})
django.setup()
views = types.ModuleType("readme_views")
exec(view_part, views.__dict__)
from django.urls import path

urls = types.ModuleType("readme_urls")
urls.urlpatterns = [path("api/notes", views.Notes.as_view())]
exec(urls_part, urls.__dict__)
sys.modules["readme_urls"] = urls

from django.core.management import call_command
from django.test import Client
from tokenguard_django import get_guard

call_command("migrate", verbosity=0)
token = get_guard().create_token("alice", "readme", scopes=["read"]).token
client = Client()
allowed = client.get("/api/notes", headers={"Authorization": f"Bearer {token}"})
refused = client.get("/api/notes")
print(json.dumps({"allowed": [allowed.status_code, allowed.json()],
                  "refused": [refused.status_code, refused.headers.get("WWW-Authenticate")],
                  "api": client.get("/api/tokens").status_code}))
"""


def test_the_django_quick_start(tmp_path: Path) -> None:
    pytest.importorskip("django")
    pytest.importorskip("rest_framework")
    settings_part, urls_part = block_after("Quick start: Django").split("# urls.py\n")
    parts = [settings_part, urls_part, block_after("Quick start: Django", 1)]
    done = subprocess.run([sys.executable, "-c", DJANGO_PROJECT], cwd=tmp_path, input=json.dumps(parts),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["allowed"] == [200, {"owner": "alice"}]
    assert answers["refused"] == [401, 'Bearer realm="api"']  # RFC 6750 §3: no token, no error code
    assert answers["api"] == 401  # the management API, mounted by the include


def test_the_core_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = block_after("The core, from Python").replace(
        '"postgresql+psycopg://app@db/app"', '"memory://"')  # the one line that needs a server
    namespace = run(f"new_key, old_key = {KEY!r}, {KEY[::-1]!r}\n" + code, tmp_path, monkeypatch)
    guard, info = namespace["guard"], namespace["info"]
    assert guard.get_token(info.id).status == "revoked"  # revoke_owner ran last


LIFECYCLE = "Token lifecycle: expiry, stale tokens, rotation, networks"


def test_the_lifecycle_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenguard import InvalidToken

    namespace = run(block_after(LIFECYCLE), tmp_path, monkeypatch)
    guard, ci, new, seen = namespace["guard"], namespace["ci"], namespace["new"], namespace["seen"]
    assert (seen.last_used_ip, seen.last_used_agent) == ("203.0.113.7", "curl/8.5")
    assert [t.id for t in namespace["soon"]] == [ci.info.id] and namespace["stale"] == []
    assert namespace["sent"] == 1 and guard.remind() == 0  # once per threshold
    with pytest.raises(InvalidToken):
        guard.authenticate(ci.token, remote="198.51.100.1")  # outside the allowed networks
    for secret in (ci.token, new.token):  # the grace: both work
        assert guard.authenticate(secret, remote="2001:db8::1").id == ci.info.id
    assert guard.expire_unused_after is not None
    guard.close()


def test_the_email_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenguard.mail import EmailNotifier

    guard = run(block_after(LIFECYCLE, 1), tmp_path, monkeypatch)["guard"]
    mailer = next(p for p in guard.plugins.get_plugins() if isinstance(p, EmailNotifier))
    assert mailer.owner_email("alice") == "alice@example.com" and mailer.server.tls == "starttls"
    guard.close()


def test_the_plugin_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = f"url, key = 'memory://', {KEY!r}\n" + block_after("Plugins")
    namespace = run(code, tmp_path, monkeypatch)
    guard = namespace["guard"]
    assert any(type(p).__name__ == "SlackAlerts" for p in guard.plugins.get_plugins())
    guard.create_token("alice", "readme")  # the plugin's hook is called and accepts the event


def test_the_limiter_snippet_in_security_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenguard import InvalidToken
    from tokenguard.errors import TooManyAttempts

    security = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    section = security.split("### A failed-attempt limiter, on by default\n", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, re.DOTALL)[0]
    guard = run(f"url, keys = 'memory://', [{KEY!r}]\n" + code, tmp_path, monkeypatch)["guard"]
    for _ in range(20):
        with pytest.raises(InvalidToken):
            guard.authenticate("tg_" + "A" * 38, remote="203.0.113.7")
    with pytest.raises(TooManyAttempts):
        guard.authenticate("tg_" + "A" * 38, remote="203.0.113.7")


def prose(markdown: str) -> str:
    """``markdown`` without its code blocks and code spans."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", markdown, flags=re.DOTALL))


def test_every_link_works_on_pypi_too() -> None:
    """PyPI shows the README without the repository around it: a relative link or an in-page anchor breaks."""
    targets = re.findall(r"\]\(([^)\s]+)\)", prose(README))
    assert any("SECURITY.md" in target for target in targets) and any("ratios.png" in t for t in targets)
    for target in targets:
        assert target.startswith("https://"), target
        for prefix in REPOSITORY_FILES:
            if target.startswith(prefix):
                path = target.removeprefix(prefix).split("#")[0].split("?")[0]
                assert (ROOT / path).is_file(), f"{target}: no {path} in the repository"


def test_the_supported_versions_are_the_classifiers() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    versions = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    said = "CPython " + ", ".join(versions[:-1]) + " and " + versions[-1]
    assert said in " ".join(README.split()), said
    assert project["requires-python"] == f">={versions[0]}"


def test_one_pure_python_path() -> None:
    """Nothing is compiled any more: the README describes no second path."""
    for gone in ("_speedups", "TOKENGUARD_PURE_PYTHON", "web/warm.py", "C extension", "compiled path",
                 "C call", "compiler"):
        assert gone not in README, gone
    assert "py3-none-any" in README


def test_the_pytest_example_runs_as_written(pytester: pytest.Pytester) -> None:
    """Its own ``client`` fixture, the plugin's ``tokenguard_guard`` handed to the app, no warning."""
    pytester.makepyfile(test_notes=block_after("Testing your app"))
    result = pytester.runpytest_subprocess("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "warning" not in result.stdout.str().lower()


def test_what_a_user_needs_comes_before_the_internals() -> None:
    titles = re.findall(r"^## (.+)$", README, re.MULTILINE)
    first_internal = min(titles.index(title) for title in INTERNALS)
    for needed in ("Install", "Quick start: Flask", "Quick start: ASGI (Starlette, FastAPI)",
                   "Quick start: Django", "Testing your app", "Configuration reference",
                   "Token policies and administration", "The CLI"):
        assert titles.index(needed) < first_internal, needed
