"""The wheel, installed on its own away from the source tree, migrates and serves.

A checkout can hide packaging mistakes: a data file missing from the wheel is still found next
to the sources. Here the wheel is built from a copy of the tree, installed (not editable) into
a fresh virtual environment and run from a directory outside the repository. The fresh
environment sees the dependencies through a ``.pth`` path line pointing at this interpreter's
site-packages, which installs nothing from the network; a path line does not run that
directory's own ``.pth`` files, so the editable install of the project stays invisible.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path, PurePosixPath

import attrs
import psycopg
import pytest

from tests.fakes.bot_api_server import FakeBotApiServer
from tests.fakes.processes import TOKEN, free_port, http
from tests.fakes.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "adapters", "entrypoints", "migrations")
PACKAGE_FILES = {".py", ".sql", ".ftl", ".toml", ".json"}
CORE_TABLES = {"users", "ledger_entries", "jobs", "update_inbox", "fsm_state", "kie_callbacks"}


@attrs.frozen
class Installed:
    source: Path
    """The copy of the tree the wheel was built from."""
    wheel: Path
    python: Path
    kiebot: Path
    site_packages: Path
    outside: Path
    """A working directory outside the repository, without a .env."""

    def env(self, **values: object) -> dict[str, str]:
        """Nothing from the runner's environment but PATH: no PYTHONPATH, no settings."""
        path = f"{self.python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {"PATH": path, "HOME": str(self.outside), **{k: str(v) for k, v in values.items()}}

    def run(self, *args: str, **values: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            cwd=self.outside,
            env=self.env(**values),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def copy_tree(target: Path) -> None:
    """The files a clone would have, as they are in the work tree now.

    Untracked files that git does not ignore are included as well: while a change is being
    made its new files exist before they are added, and a fresh clone has none of them.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not there
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def dependency_dirs() -> list[str]:
    """Where this interpreter's dependencies live (purelib and platlib may differ)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    assert not base.resolve().is_relative_to(ROOT)
    source, wheels, venv, outside = (base / n for n in ("source", "wheels", "venv", "outside"))
    outside.mkdir()
    copy_tree(source)

    pip = [sys.executable, "-m", "pip"]
    offline = ["--no-deps", "--no-index", "--quiet"]
    built = subprocess.run(
        [*pip, "wheel", *offline, "--no-build-isolation", "--wheel-dir", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = wheels.glob("kiebot-*.whl")

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # pip runs from this environment and installs into the fresh one.
    install = subprocess.run(
        [*pip, "--python", str(python), "install", *offline, str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    (site_packages / "kiebot-test-dependencies.pth").write_text(
        "".join(f"{d}\n" for d in dependency_dirs())
    )
    return Installed(source, wheel, python, venv / "bin" / "kiebot", site_packages, outside)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows.fetchall()}


def in_wheel(installed: Installed, folder: str, suffix: str) -> list[str]:
    """The names of the wheel's files directly in ``folder`` that end in ``suffix``."""
    with zipfile.ZipFile(installed.wheel) as archive:
        paths = [PurePosixPath(name) for name in archive.namelist()]
    here = PurePosixPath(folder)
    return sorted(p.name for p in paths if p.parent == here and p.suffix == suffix)


def shipped_migrations(installed: Installed) -> list[str]:
    return in_wheel(installed, "migrations", ".sql")


def test_the_wheel_holds_every_package_file_of_the_tree(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
    expected = {
        path.relative_to(installed.source).as_posix()
        for package in PACKAGES
        for path in (installed.source / package).rglob("*")
        if path.is_file() and path.suffix in PACKAGE_FILES and "__pycache__" not in path.parts
    }
    assert expected - names == set()
    assert not any(name.startswith("tests/") for name in names)

    tree = installed.source
    assert shipped_migrations(installed) == sorted(p.name for p in tree.glob("migrations/*.sql"))
    assert len(shipped_migrations(installed)) >= 4
    assert "migrations/__init__.py" in names
    for lang in ("en", "ru"):
        shipped = in_wheel(installed, f"adapters/telegram/locales/{lang}", ".ftl")
        assert shipped == sorted(
            p.name for p in tree.glob(f"adapters/telegram/locales/{lang}/*.ftl")
        )
        assert shipped
    catalog = in_wheel(installed, "adapters/catalog/data", ".toml")
    assert catalog == sorted(p.name for p in tree.glob("adapters/catalog/data/*.toml"))
    assert catalog


def test_the_fresh_environment_imports_the_installed_copy_only(installed: Installed) -> None:
    probe = installed.run(
        str(installed.python),
        "-c",
        "import json, sys, entrypoints, migrations, adapters.catalog.loader, pydantic_settings\n"
        "print(json.dumps({'path': sys.path, 'files': {m: sys.modules[m].__file__ for m in "
        "('entrypoints', 'migrations', 'adapters.catalog.loader', 'pydantic_settings')}}))",
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    files = {name: Path(file).resolve() for name, file in found["files"].items()}
    site = installed.site_packages.resolve()
    for name in ("entrypoints", "migrations", "adapters.catalog.loader"):
        assert files[name].is_relative_to(site), found
    deps = {Path(d).resolve() for d in dependency_dirs()}
    assert files["pydantic_settings"].parent.parent in deps, found
    assert str(ROOT) not in found["path"]
    assert not any(Path(p).resolve() == ROOT for p in found["path"] if p)


def test_installed_kiebot_migrates_an_empty_database_and_serves_the_webhook(
    installed: Installed, empty_pg_url: str, pg_url: str
) -> None:
    shipped = shipped_migrations(installed)
    assert tables(empty_pg_url) == set()
    migrated = installed.run(str(installed.kiebot), "migrate", DATABASE_URL=empty_pg_url)
    assert migrated.returncode == 0, migrated.stderr
    assert f"Found {len(shipped)} migration file(s)" in migrated.stderr
    # The same tables as the repository's migrations create (pg_url is migrated from them).
    assert tables(empty_pg_url) == tables(pg_url)
    assert CORE_TABLES | {"schema_migrations"} <= tables(empty_pg_url)
    with psycopg.connect(empty_pg_url) as conn:
        rows = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    assert [r[0] for r in rows] == shipped

    with FakeBotApiServer().running() as api:
        port = free_port()
        log_path = installed.outside / f"webhook-{port}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [str(installed.kiebot), "webhook"],
            cwd=installed.outside,
            env=installed.env(
                DATABASE_URL=empty_pg_url,
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_BASE=api.base,
                KIE_MODE="stub",
                WEBHOOK_BASE_URL="https://bot.example",
                HOST="127.0.0.1",
                PORT=port,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def output() -> str:
            return log_path.read_text(errors="replace")

        def health() -> dict[str, object] | None:
            if proc.poll() is not None:
                raise AssertionError(f"kiebot exited {proc.returncode}:\n{output()}")
            status, body = http("GET", f"http://127.0.0.1:{port}/health")
            return json.loads(body) if status == 200 else None

        try:
            wait_for(lambda: (health() or {}).get("status") == "ok", 60, "/health ok")
            body = health()
            assert body is not None
            assert body["migrations_applied"] is True
            assert body["migrations_count"] == len(shipped)
            wait_for(lambda: bool(api.called("setWebhook")), 20, "setWebhook")
            [hook] = api.called("setWebhook")
            assert re.fullmatch(r"https://bot\.example/webhook/\S+", hook["url"])
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
                raise
            finally:
                log.close()
        assert code == 0, output()
