"""Application commands in the fake Discord: storing what the bot syncs (checked as Discord
checks names, descriptions and option order) and building the `data` of a slash command a user
runs from those definitions (or from Python types when none was synced). No side effects.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from tests.fakediscord.model import (
    ALL_PERMISSIONS,
    JSON,
    OPT_BOOLEAN,
    OPT_CHANNEL,
    OPT_INTEGER,
    OPT_MENTIONABLE,
    OPT_NUMBER,
    OPT_ROLE,
    OPT_STRING,
    OPT_SUB_COMMAND,
    OPT_SUB_COMMAND_GROUP,
    OPT_USER,
    _invalid,
)
from tests.fakediscord.state import _State

_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


class _Commands(_State):
    """The commands the bot synced, and the interaction data that invokes them."""

    def _find_command(
        self, name: str, guild_id: int | None, command_type: int = 1
    ) -> tuple[int | None, JSON | None]:
        """(scope, definition) of a synced command: the guild's first, then global."""
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.synced.get(scope, []):
                if command["name"] == name and command.get("type", 1) == command_type:
                    return scope, command
        return None, None

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any],
        guild_id: int | None,
        *,
        focused: str | None,
    ) -> JSON:
        root, *path = name.split()
        scope, definition = self._find_command(root, guild_id)
        data: JSON = {
            "id": definition["id"] if definition else str(self._snowflake()),
            "name": root,
            "type": 1,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        option_defs: list[JSON] | None = (
            None if definition is None else definition.get("options", [])
        )
        kinds: list[int] = []
        for depth, part in enumerate(path):
            kind = OPT_SUB_COMMAND_GROUP if depth < len(path) - 1 else OPT_SUB_COMMAND
            if option_defs is not None:
                match = next(
                    (
                        o
                        for o in option_defs
                        if o["name"] == part
                        and o["type"] in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP)
                    ),
                    None,
                )
                if match is None:
                    raise ValueError(f"{name!r}: the synced /{root} has no subcommand {part!r}")
                kind, option_defs = match["type"], match.get("options", [])
            kinds.append(kind)
        resolved: JSON = {}
        nested = [
            self._option(key, value, option_defs, resolved, guild_id, focused=key == focused)
            for key, value in options.items()
        ]
        for part, kind in reversed(list(zip(path, kinds, strict=True))):
            nested = [{"type": kind, "name": part, "options": nested}]
        data["options"] = nested
        if resolved:
            data["resolved"] = resolved
        return data

    def _option(
        self,
        name: str,
        value: Any,
        defs: list[JSON] | None,
        resolved: JSON,
        guild_id: int | None,
        *,
        focused: bool,
    ) -> JSON:
        definition = None
        if defs is not None:
            definition = next((d for d in defs if d["name"] == name), None)
            if definition is None:
                known = [d["name"] for d in defs]
                raise ValueError(f"option {name!r} is not in the synced definition ({known})")
        kind = int(definition["type"]) if definition else _python_option_type(value)
        option: JSON = {"type": kind, "name": name}
        if focused:
            option.update(value=value, focused=True)  # Discord sends what the user typed
            return option
        if kind == OPT_STRING:
            option["value"] = str(value)
        elif kind == OPT_INTEGER:
            option["value"] = int(value)
        elif kind == OPT_BOOLEAN:
            option["value"] = bool(value)
        elif kind == OPT_NUMBER:
            option["value"] = float(value)
        elif kind in (OPT_USER, OPT_MENTIONABLE):
            user_id = int(value)
            resolved.setdefault("users", {})[str(user_id)] = copy.deepcopy(self.user(user_id))
            resolved.setdefault("members", {})[str(user_id)] = self._member(
                user_id, permissions=ALL_PERMISSIONS, with_user=False
            )
            option["value"] = str(user_id)
        elif kind == OPT_CHANNEL:
            channel_id = int(value)
            channel = (
                self.channel_payload(channel_id)
                if channel_id in self._channel_guild
                else {
                    "id": str(channel_id),
                    "type": 0,
                    "name": f"channel-{channel_id}",
                    "guild_id": str(guild_id),
                }
            )
            channel["permissions"] = str(ALL_PERMISSIONS)
            resolved.setdefault("channels", {})[str(channel_id)] = channel
            option["value"] = str(channel_id)
        elif kind == OPT_ROLE:
            role_id = int(value)
            role = self._role_everyone(role_id) | {"name": f"role-{role_id}", "position": 1}
            resolved.setdefault("roles", {})[str(role_id)] = role
            option["value"] = str(role_id)
        else:
            raise TypeError(f"option {name!r}: type {kind} is not supported by the fake")
        return option

    def _store_commands(self, scope: int | None, commands: list[JSON]) -> list[JSON]:
        if len(commands) > 100:
            raise _invalid("_root", "Must be 100 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        old = {(c["name"], c.get("type", 1)): c["id"] for c in self.synced.get(scope, [])}
        stored: list[JSON] = []
        for index, command in enumerate(commands):
            _check_command(index, command)
            kind = command.get("type", 1)
            entry = copy.deepcopy(command) | {
                "id": old.get((command["name"], kind)) or str(self._snowflake()),
                "application_id": str(self.application_id),
                "type": kind,
                "version": str(self._snowflake()),
                "default_member_permissions": command.get("default_member_permissions"),
                "description": command.get("description", ""),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.synced[scope] = stored
        self.sync_counts[scope] += 1
        return copy.deepcopy(stored)


def _check_command(index: int, command: Mapping[str, Any]) -> None:
    """The checks of Discord's that a bot can trip: names, descriptions, option order."""
    name = str(command.get("name", ""))
    kind = command.get("type", 1)
    # USER and MESSAGE commands (types 2, 3) may be mixed case and include spaces.
    valid = (
        _COMMAND_NAME.fullmatch(name) and name == name.lower()
        if kind == 1
        else 1 <= len(name) <= 32
    )
    if not valid:
        raise _invalid(
            f"{index}.name", f"Command name {name!r} is invalid", "APPLICATION_COMMAND_INVALID_NAME"
        )
    if kind == 1:
        _check_options(f"{index}", command)


def _check_options(where: str, parent: Mapping[str, Any]) -> None:
    description = str(parent.get("description", ""))
    if not 1 <= len(description) <= 100:
        raise _invalid(f"{where}.description", "Must be 1 to 100 in length.")
    options: list[JSON] = list(parent.get("options") or [])
    if len(options) > 25:
        raise _invalid(f"{where}.options", "Must be 25 or fewer in length.")
    seen_optional = False
    for n, option in enumerate(options):
        if not _COMMAND_NAME.fullmatch(str(option.get("name", ""))):
            raise _invalid(f"{where}.options.{n}.name", "Invalid option name")
        if option.get("type") in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP):
            _check_options(f"{where}.options.{n}", option)
            continue
        if option.get("required"):
            if seen_optional:
                raise _invalid(
                    f"{where}.options.{n}",
                    "Required options must be placed before non-required options",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                )
        else:
            seen_optional = True
        if not 1 <= len(str(option.get("description", ""))) <= 100:
            raise _invalid(f"{where}.options.{n}.description", "Must be 1 to 100 in length.")


def _python_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return OPT_BOOLEAN
    if isinstance(value, int):
        return OPT_INTEGER
    if isinstance(value, float):
        return OPT_NUMBER
    if isinstance(value, str):
        return OPT_STRING
    raise TypeError(f"cannot infer an option type for {value!r}: sync the command first")
