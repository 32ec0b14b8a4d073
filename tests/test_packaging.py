"""What `python -m build` makes is what PyPI should get: one pure-Python wheel and a complete sdist.

The source tree is copied first, so the build writes nothing into the checkout, and built without
build isolation (setuptools, build and twine come with the dev group), so it needs no network.
"""

from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
NAME, VERSION = PROJECT["name"], PROJECT["version"]
#: the import packages: every directory of src/ that is one
PACKAGES = sorted(path.name for path in (ROOT / "src").iterdir() if (path / "__init__.py").is_file())
#: files that only a build or a test run leaves in a tree
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".tox", ".*_cache", ".hypothesis", "__pycache__",
                                    "*.py[cod]", "*.egg-info", "build", "dist", ".peers", "*.db", "*.sqlite3")
COMPILED = (".c", ".h", ".so", ".pyd", ".pyx", ".dll", ".dylib")


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    wheel_names: frozenset[str]
    sdist_names: frozenset[str]  # without the leading "tokenguard-0.1.0/"


def package_files() -> set[str]:
    """Every file of the import packages in src/, as a path inside a wheel."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / "src" / package).rglob("*"):
            relative = path.relative_to(ROOT / "src")
            if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
                found.add(relative.as_posix())
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    tmp = tmp_path_factory.mktemp("packaging")
    tree, out = tmp / "tree", tmp / "dist"
    shutil.copytree(ROOT, tree, ignore=NOT_SOURCE)
    # the default build: the sdist first, then the wheel from that sdist (so the sdist is complete)
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = frozenset(archive.namelist())
    top = f"{NAME}-{VERSION}/"
    with tarfile.open(sdist) as archive:
        members = [member.name for member in archive.getmembers() if member.isfile()]
    assert all(name.startswith(top) for name in members)
    return Dist(wheel, sdist, wheel_names, frozenset(name.removeprefix(top) for name in members))


def wheel_text(dist: Dist, name: str) -> str:
    with zipfile.ZipFile(dist.wheel) as archive:
        return archive.read(name).decode("utf-8")


def metadata(dist: Dist) -> Message:
    return email.parser.Parser().parsestr(wheel_text(dist, f"{NAME}-{VERSION}.dist-info/METADATA"))


def test_one_pure_python_wheel_for_every_platform(dist: Dist) -> None:
    assert dist.wheel.name == f"{NAME}-{VERSION}-py3-none-any.whl"
    wheel = email.parser.Parser().parsestr(wheel_text(dist, f"{NAME}-{VERSION}.dist-info/WHEEL"))
    assert wheel["Root-Is-Purelib"] == "true"
    assert wheel.get_all("Tag") == ["py3-none-any"]


def test_nothing_compiled_in_either(dist: Dist) -> None:
    for names in (dist.wheel_names, dist.sdist_names):
        assert not [name for name in names if name.endswith(COMPILED)]


def test_the_license_is_in_both(dist: Dist) -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Copyright (c) 2026 the tokenguard authors" in text
    assert wheel_text(dist, f"{NAME}-{VERSION}.dist-info/licenses/LICENSE") == text
    assert "LICENSE" in dist.sdist_names
    assert metadata(dist)["License-Expression"] == "MIT"
    assert metadata(dist).get_all("License-File") == ["LICENSE"]


def test_the_wheel_holds_every_file_of_the_packages_and_nothing_else(dist: Dist) -> None:
    files = package_files()
    migrations = "tokenguard/stores/migrations"
    for expected in ("tokenguard/py.typed", "tokenguard_flask/py.typed", "tokenguard_asgi/py.typed",
                     "tokenguard/web/templates/tokenguard/settings.html",
                     "tokenguard/web/static/tokenguard.css",
                     f"{migrations}/alembic.ini", f"{migrations}/script.py.mako", f"{migrations}/env.py",
                     f"{migrations}/versions/0001_initial.py"):
        assert expected in files  # the tree has them, so the comparison below is not vacuous
    shipped = {name for name in dist.wheel_names if not name.startswith(f"{NAME}-{VERSION}.dist-info/")}
    assert sorted(files - shipped) == []  # package data left out
    assert sorted(shipped - files) == []  # something that is not the packages' own


def test_the_sdist_is_the_source_tree_a_packager_can_test(dist: Dist) -> None:
    assert {f"src/{name}" for name in package_files()} <= dist.sdist_names
    for name in ("pyproject.toml", "README.md", "SECURITY.md", "CHANGELOG.md", "PKG-INFO",
                 "tests/conftest.py", "tests/test_packaging.py", "examples/flask_app.py"):
        assert name in dist.sdist_names
    assert not [name for name in dist.sdist_names if "__pycache__" in name or name.endswith((".pyc", ".db"))]


def test_the_metadata_pypi_shows(dist: Dist) -> None:
    meta = metadata(dist)
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    versions = {c.rsplit(" :: ", 1)[1] for c in meta.get_all("Classifier") or []
                if c.startswith("Programming Language :: Python :: 3.")}
    assert versions == {"3.11", "3.12", "3.13"}
    urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    assert all(url.startswith("https://github.com/tokenguard/tokenguard") for url in urls.values())
    # the public extras; the development tools are a dependency group, not an extra
    assert {"flask", "asgi", "postgres", "mysql", "redis"} <= set(meta.get_all("Provides-Extra") or [])
    assert "dev" not in (meta.get_all("Provides-Extra") or [])


def test_twine_check_passes(dist: Dist) -> None:
    command = [sys.executable, "-m", "twine", "check", "--strict", str(dist.wheel), str(dist.sdist)]
    checked = subprocess.run(command, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2


SMOKE = """
import sys
from importlib import resources
from pathlib import Path

from jinja2 import PackageLoader

import tokenguard, tokenguard_asgi, tokenguard_flask
from tokenguard import TokenGuard

root = Path(sys.argv[1])
for module in (tokenguard, tokenguard_asgi, tokenguard_flask):
    assert Path(module.__file__).is_relative_to(root), module.__file__
guard = TokenGuard(f"sqlite:///{sys.argv[2]}", secret_key="k" * 40)  # the shipped Alembic migrations
token = guard.create_token("alice", "from the wheel").token
assert guard.authenticate(token).owner == "alice"
assert "tokenguard/settings.html" in PackageLoader("tokenguard.web", "templates").list_templates()
assert resources.files("tokenguard.web").joinpath("static", "tokenguard.js").is_file()
print("ok")
"""


def test_the_installed_wheel_works_from_its_own_files(dist: Dist, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(dist.wheel) as archive:
        archive.extractall(site)  # what installing a pure wheel amounts to
    ran = subprocess.run([sys.executable, "-c", SMOKE, str(site), str(tmp_path / "tokens.db")],
                         capture_output=True, text=True, check=False, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0 and ran.stdout == "ok\n", ran.stdout + ran.stderr
