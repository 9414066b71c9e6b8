"""`entitle serve` and friends when the database cannot be used: one line, exit code 1, no traceback.

(Waiting for a PostgreSQL that comes up late, or gives up on one that stays down, runs against a real
cluster in tests/e2e/test_database_outage.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from entitle.cli import app


@pytest.mark.parametrize(
    "command", [["serve"], ["migrate"], ["seed-demo"], ["create-api-key", "--name", "ci"]]
)
def test_a_sqlite_file_that_cannot_be_opened_ends_the_command_with_one_line(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a database file in a directory that does not exist
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'entitle.db'}")
    monkeypatch.chdir(tmp_path)
    # when
    result = CliRunner().invoke(app, command)
    # then
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "error: the database is unavailable (unable to open database file); "
        "gave up after 1 attempt(s) in 0 s (ENTITLE_DB_WAIT_S=30)"
    ]
    assert "Traceback" not in result.output
