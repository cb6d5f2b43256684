"""The real `wirewatch` command line as a subprocess, with the secrets set in its environment
(the Discord token, the LLM API key, a database URL with a password): a command that fails,
expectedly or not, never shows one on stdout or stderr, in the plain or the JSON log format,
traceback included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot.test_logs import QUOTING, _leaks

ROOT = Path(__file__).resolve().parents[2]
LLM_KEY = "sk-llm-key-4821"
DB_PASSWORD = "pw9"  # short: redacted as a whole token
DB_URL = f"postgresql://wirewatch:{DB_PASSWORD}@127.0.0.1:99999/news"  # no port can be 99999
SECRETS = (QUOTING, LLM_KEY, DB_PASSWORD)

# The real CLI with one more command, whose failure no command expects: its text holds every
# secret (`--read-settings`: after the command read the settings, as every real one does).
CRASHING_CLI = """
import os, sys, click
from bot.adapters.cli.main import _settings, cli, main

@cli.command("crash")
@click.option("--read-settings", is_flag=True)
@click.pass_context
def crash(ctx, read_settings):
    if read_settings:
        _settings(ctx)
    token, key = os.environ["WIREWATCH_DISCORD_TOKEN"], os.environ["WIREWATCH_LLM_API_KEY"]
    url = os.environ["WIREWATCH_DATABASE_URL"]
    raise RuntimeError(f"login refused for {token} ({token!r}), key {key}, database {url}")

main(sys.argv[1:])
"""


def _wirewatch(
    tmp_path: Path, *args: str, fmt: str = "plain", code: int = 1, data_dir: Path | None = None
) -> str:
    """Run the CLI (`-c` and its program first, for the crashing one) with the secrets in its
    environment; check its exit code; its stdout and stderr together."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env |= {
        "WIREWATCH_DISCORD_TOKEN": QUOTING,
        "WIREWATCH_LLM_API_KEY": LLM_KEY,
        "WIREWATCH_DATABASE_URL": DB_URL,
        "WIREWATCH_LOG_FORMAT": fmt,
        "WIREWATCH_DATA_DIR": str(data_dir or tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, *(args if args[0] == "-c" else ("-m", "bot", *args))]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, (done.stdout, done.stderr)
    return done.stdout + done.stderr


def _assert_no_secret(output: str) -> None:
    for secret in SECRETS:
        assert not _leaks(output, secret), (secret, output)


def _json_lines(output: str) -> list[dict[str, object]]:
    """Every line is one JSON object (json.loads fails on anything else)."""
    return [json.loads(line) for line in output.splitlines()]


@pytest.mark.parametrize("fmt", ["plain", "json"])
@pytest.mark.parametrize("read_settings", [True, False])
def test_a_crash_whose_text_holds_every_secret_shows_none(
    tmp_path: Path, fmt: str, read_settings: bool
) -> None:
    flags = ["--read-settings"] if read_settings else []
    output = _wirewatch(tmp_path, "-c", CRASHING_CLI, "crash", *flags, fmt=fmt)
    _assert_no_secret(output)
    assert "RuntimeError: login refused for ***" in output
    assert "postgresql://wirewatch:***@127.0.0.1:99999/news" in output
    if fmt == "json":
        [line] = _json_lines(output)
        assert line["level"] == "CRITICAL" and "Traceback" in str(line["exc"])
        assert str(line["msg"]).startswith("the command failed unexpectedly: RuntimeError")


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_real_command_failing_unexpectedly_is_logged_and_exits_1(
    tmp_path: Path, fmt: str
) -> None:
    output = _wirewatch(tmp_path, "feeds", "list", fmt=fmt)  # connects to port 99999
    _assert_no_secret(output)
    assert "the command failed unexpectedly: OverflowError" in output
    if fmt == "json":
        [line] = _json_lines(output)
        assert "OverflowError" in str(line["exc"])


def test_an_error_line_is_redacted(tmp_path: Path) -> None:
    named = tmp_path / f"data-{LLM_KEY}"
    named.write_text("")  # a file where the data directory should be
    output = _wirewatch(tmp_path, "feeds", "list", code=2, data_dir=named)
    _assert_no_secret(output)
    assert output == f"error: the data directory {tmp_path}/data-*** is a file; point " + (
        "--data-dir or WIREWATCH_DATA_DIR at a directory\n"
    )
