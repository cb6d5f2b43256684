"""Log lines: plain and JSON formats, and secrets redacted in messages and tracebacks."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import REDACTED, configure, make_formatter

TOKEN = "MTAxNzA0.GhXy1z.s3cr3t-t0ken-value"


def _record(msg: str, *args: object, exc: BaseException | None = None, **extra: object):  # type: ignore[no-untyped-def]
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("bot.jobs", logging.WARNING, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def _raised(message: str) -> BaseException:
    try:
        raise RuntimeError(message)
    except RuntimeError as exc:
        return exc


def test_plain_lines_carry_the_ids() -> None:
    line = make_formatter("plain").format(_record("polled", feed_id=3, feed_url="http://x/f"))
    assert line.endswith("WARNING bot.jobs: polled [feed_id=3 feed_url=http://x/f]")


def test_json_lines_are_one_object_each_with_the_ids_and_the_traceback() -> None:
    exc = _raised("boom")
    line = make_formatter("json").format(_record("alert %s", 7, exc=exc, alert_id=7, target="c"))
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["msg"] == "alert 7" and doc["level"] == "WARNING" and doc["logger"] == "bot.jobs"
    assert doc["alert_id"] == 7 and doc["target"] == "c"
    assert doc["ts"].endswith("+00:00")
    assert "RuntimeError: boom" in doc["exc"] and "Traceback" in doc["exc"]


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_secret_never_reaches_a_line_nor_a_traceback(fmt: str) -> None:
    formatter = make_formatter(fmt, [TOKEN])  # type: ignore[arg-type]
    exc = _raised(f"login refused for {TOKEN}")
    line = formatter.format(_record("token %s rejected", TOKEN, exc=exc, target=TOKEN))
    assert TOKEN not in line
    assert line.count(REDACTED) >= 3  # the message, the field, the traceback


def test_configure_routes_the_root_logger_through_the_redactor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure("INFO", "json", [TOKEN])
        logging.getLogger("discord.http").info("Authorization: Bot %s", TOKEN)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert json.loads(err)["msg"] == f"Authorization: Bot {REDACTED}"


QUOTING = 'tok"en\\with-quote-and-backslash-é'  # JSON escapes `"` and `\`


def _leaks(text: str, secret: str) -> bool:
    """Whether `secret` shows in `text` as it is or escaped by JSON or a repr."""
    quoted = (json.dumps(secret), json.dumps(secret, ensure_ascii=False), repr(secret))
    return any(form in text for form in {secret, *(q[1:-1] for q in quoted)})


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_secret_with_quotes_and_backslashes_is_redacted_in_every_field(fmt: str) -> None:
    formatter = make_formatter(fmt, [QUOTING])  # type: ignore[arg-type]
    exc = _raised(f"login refused for {QUOTING} ({QUOTING!r})")
    line = formatter.format(_record("token %s rejected", QUOTING, exc=exc, target=QUOTING))
    assert not _leaks(line, QUOTING), line
    if fmt == "json":
        doc = json.loads(line)
        assert doc["msg"] == f"token {REDACTED} rejected" and doc["target"] == REDACTED
        assert f"login refused for {REDACTED} ('{REDACTED}')" in doc["exc"]


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_short_secret_is_redacted_as_a_whole_token_only(fmt: str) -> None:
    formatter = make_formatter(fmt, ["pw9", "k"])  # type: ignore[arg-type]
    message = "postgresql://bot:pw9@db/news; pw9 alone; pw99, apw9 and k-less kind keys stay"
    line = formatter.format(_record(message, feed_id=123, target="pw9"))
    shown = json.loads(line)["msg"] if fmt == "json" else line
    assert (
        f"postgresql://bot:{REDACTED}@db/news; {REDACTED} alone; pw99, apw9 and "
        f"{REDACTED}-less kind keys stay"
    ) in shown
    assert "target=pw9" not in line and '"target": "pw9"' not in line


def test_a_number_that_shows_a_secret_is_redacted_and_the_line_stays_json() -> None:
    line = make_formatter("json", ["123456"]).format(_record("polled", feed_id=123456))
    assert json.loads(line)["feed_id"] == REDACTED


def test_a_database_password_is_a_secret_as_written_and_decoded() -> None:
    from pydantic import SecretStr

    from bot.settings import Settings

    url = "postgresql://bot:p%40ss%2Fw0rd@db/news?sslmode=require&password=hunter%2022x"
    found = Settings(_env_file=None, database_url=SecretStr(url)).secret_values()  # type: ignore[call-arg]
    assert {"p%40ss%2Fw0rd", "p@ss/w0rd", "hunter%2022x", "hunter 22x"} <= set(found)
    assert "require" not in found
