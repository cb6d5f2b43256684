"""The command line picks its engine by WIREWATCH_DATABASE_URL: commands of one engine only
say so clearly on the other, and no command shows the database password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.test_cli import error_line, wirewatch

URL = "postgresql://wirewatch:s3cret@127.0.0.1:1/news"


@pytest.mark.parametrize("command", [["backup", "out"], ["restore", "."]])
def test_backup_and_restore_point_postgresql_users_at_pg_dump(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", URL)
    monkeypatch.chdir(tmp_path)
    line = error_line(wirewatch(tmp_path / "data", *command, code=2))
    assert "pg_dump" in line and "s3cret" not in line
    assert not (tmp_path / "out").exists()


def test_a_worker_needs_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIREWATCH_DATABASE_URL", raising=False)
    line = error_line(wirewatch(tmp_path / "data", "worker", "--once", code=2))
    assert "WIREWATCH_DATABASE_URL" in line and "wirewatch run" in line


def test_an_unreachable_database_is_one_clear_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("asyncpg")
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", URL)
    line = error_line(wirewatch(tmp_path / "data", "stats", code=1))
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/news" in line
    assert "s3cret" not in line


def test_migrate_to_takes_the_url_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", URL)
    line = error_line(wirewatch(tmp_path / "data", "migrate-to", code=2))
    assert "no database at" in line and "s3cret" not in line  # nothing to copy yet
    monkeypatch.delenv("WIREWATCH_DATABASE_URL")
    line = error_line(wirewatch(tmp_path / "data", "migrate-to", code=2))
    assert "WIREWATCH_DATABASE_URL" in line
