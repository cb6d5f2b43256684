"""Stage: catalogue entries (plain data, as index/extract/actors.py loads them from YAML) -> [Actor]
and each actor's alias specs. Side effects: none.

Each entry is checked field by field (index/extract/data/actors.yaml documents the format); a later
file's entry with a known id extends that actor. Every problem raises CatalogueError naming the
file and the entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from index.errors import DataFileError
from index.extract.actortext import _alias_key, _normalise

KINDS = frozenset(
    {
        "armed_group",
        "state_forces",
        "militia",
        "international_force",
        "organisation",
        "political_party",
    }
)
RELATIONS = frozenset({"rebranded_as", "merged_into", "split_from", "pledged_to"})

_ID = re.compile(r"^[a-z0-9_]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")
_ENTRY_KEYS = frozenset(
    {"id", "name", "kind", "countries", "aliases", "lineage", "parent", "notes"}
)
_ALIAS_KEYS = frozenset({"text", "case_sensitive", "weak", "shared"})
_LINEAGE_KEYS = frozenset({"to", "date", "relation"})


class CatalogueError(DataFileError):
    """An actor catalogue file is unreadable or has an invalid entry."""


@dataclass(frozen=True, slots=True)
class Lineage:
    """A dated change of identity, as declared on an actor: `relation` to actor `to`."""

    to: str
    date: str  # YYYY-MM or YYYY-MM-DD
    relation: str  # rebranded_as | merged_into | split_from | pledged_to


@dataclass(frozen=True, slots=True)
class Actor:
    """One catalogue entry. `aliases` are as written in the catalogue, canonical name first."""

    id: str
    name: str
    kind: str
    countries: tuple[str, ...]
    aliases: tuple[str, ...]
    lineage: tuple[Lineage, ...] = ()
    parent: str | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class _AliasSpec:
    text: str
    case_sensitive: bool = False
    weak: bool = False
    shared: bool = False


# ---- loading and validation ---------------------------------------------------------------------
@dataclass(slots=True)
class _Draft:
    """An actor while files are merged; `where` names the file and entry of each declaration."""

    id: str
    where: tuple[str, str]  # (file, entry)
    name: str | None = None
    kind: str | None = None
    countries: list[str] = field(default_factory=list)
    aliases: list[tuple[_AliasSpec, tuple[str, str]]] = field(default_factory=list)
    lineage: list[tuple[Lineage, tuple[str, str]]] = field(default_factory=list)
    parent: tuple[str, tuple[str, str]] | None = None
    notes: str = ""


def _parse_entries(data: object, source: str) -> list[_Draft]:
    """The entries of one file (`source`), as YAML loaded them: a list of mappings, or nothing."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise CatalogueError(source, "file", "the top level must be a list of entries")
    drafts = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data, start=1):
        draft = _parse_entry(raw, source, number)
        if draft.id in seen:
            raise CatalogueError(
                source, _label(number, draft.id), f"duplicate id (also entry {seen[draft.id]})"
            )
        seen[draft.id] = number
        drafts.append(draft)
    return drafts


def _label(number: int, actor_id: object) -> str:
    return f"entry {number} (id {actor_id!r})" if actor_id is not None else f"entry {number}"


def _parse_entry(raw: object, source: str, number: int) -> _Draft:
    if not isinstance(raw, dict):
        raise CatalogueError(source, _label(number, None), "an entry must be a mapping")
    where = _label(number, raw.get("id"))

    def fail(reason: str) -> CatalogueError:
        return CatalogueError(source, where, reason)

    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise fail(f"unknown field(s) {sorted(map(str, unknown))}; allowed: {sorted(_ENTRY_KEYS)}")
    actor_id = raw.get("id")
    if not isinstance(actor_id, str) or not _ID.match(actor_id):
        raise fail("id must be a slug of a-z, 0-9 and _")
    draft = _Draft(id=actor_id, where=(source, where))
    for name in ("name", "notes"):
        value = raw.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(f"{name} must be a non-empty string")
    draft.name = raw.get("name")
    draft.notes = raw.get("notes") or ""
    kind = raw.get("kind")
    if kind is not None and kind not in KINDS:
        raise fail(f"kind {kind!r} is not one of {sorted(KINDS)}")
    draft.kind = kind
    for country in _as_list(raw.get("countries"), "countries", fail):
        if not isinstance(country, str) or not _COUNTRY.match(country):
            raise fail(f"country {country!r} is not an upper-case ISO 3166 alpha-2 code")
        draft.countries.append(country)
    for alias in _as_list(raw.get("aliases"), "aliases", fail):
        draft.aliases.append((_parse_alias(alias, fail), draft.where))
    for link in _as_list(raw.get("lineage"), "lineage", fail):
        draft.lineage.append((_parse_lineage(link, fail), draft.where))
    parent = raw.get("parent")
    if parent is not None:
        if not isinstance(parent, str):
            raise fail("parent must be an actor id")
        draft.parent = (parent, draft.where)
    return draft


def _as_list(value: object, name: str, fail: Callable[[str], CatalogueError]) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(f"{name} must be a list")
    return value


def _parse_alias(raw: object, fail: Callable[[str], CatalogueError]) -> _AliasSpec:
    if isinstance(raw, str):
        spec = _AliasSpec(raw)
    elif isinstance(raw, dict):
        unknown = set(raw) - _ALIAS_KEYS
        if unknown:
            raise fail(f"alias {raw!r}: unknown field(s) {sorted(map(str, unknown))}")
        flags = {k: raw.get(k, False) for k in ("case_sensitive", "weak", "shared")}
        if not isinstance(raw.get("text"), str) or not all(
            isinstance(v, bool) for v in flags.values()
        ):
            raise fail(f"alias {raw!r}: needs text (a string) and true/false flags")
        spec = _AliasSpec(raw["text"], **flags)
    else:
        raise fail(f"alias {raw!r} must be a string or a mapping with text")
    key = " ".join(_normalise(spec.text).text.split())
    if not key:
        raise fail(f"alias {spec.text!r} is empty once normalised")
    if len(key) <= 2 and not spec.case_sensitive:
        raise fail(f"alias {spec.text!r} is two characters or less: mark it case_sensitive")
    return spec


def _parse_lineage(raw: object, fail: Callable[[str], CatalogueError]) -> Lineage:
    if not isinstance(raw, dict) or set(raw) - _LINEAGE_KEYS:
        raise fail(f"lineage item {raw!r} must be a mapping of to, date and relation")
    when = raw.get("date")
    when = when.isoformat() if isinstance(when, date) else when
    to, relation = raw.get("to"), raw.get("relation")
    if not isinstance(to, str) or not isinstance(when, str) or not _DATE.match(when):
        raise fail(f"lineage item {raw!r} needs to (an id) and date (YYYY-MM or YYYY-MM-DD)")
    if relation not in RELATIONS:
        raise fail(f"lineage relation {relation!r} is not one of {sorted(RELATIONS)}")
    return Lineage(to, when, relation)


def _merge(drafts: dict[str, _Draft], entries: Iterable[_Draft]) -> None:
    for entry in entries:
        known = drafts.get(entry.id)
        if known is None:
            if entry.name is None or entry.kind is None:
                raise CatalogueError(*entry.where, "a new actor needs a name and a kind")
            drafts[entry.id] = entry
            continue
        known.name = entry.name or known.name
        known.kind = entry.kind or known.kind
        known.notes = entry.notes or known.notes
        known.parent = entry.parent or known.parent
        known.countries.extend(c for c in entry.countries if c not in known.countries)
        known.aliases.extend(entry.aliases)
        known.lineage.extend(entry.lineage)


def _finish(drafts: dict[str, _Draft]) -> tuple[list[Actor], list[list[_AliasSpec]]]:
    actors: list[Actor] = []
    aliases: list[list[_AliasSpec]] = []
    shared_uses: dict[tuple[str, bool], list[tuple[str, bool, tuple[str, str]]]] = {}
    for draft in drafts.values():
        for link, where in draft.lineage:
            if link.to not in drafts:
                raise CatalogueError(*where, f"lineage target {link.to!r} is not an actor id")
            if link.to == draft.id:
                raise CatalogueError(*where, "lineage points at the actor itself")
        if draft.parent is not None and draft.parent[0] not in drafts:
            parent, where = draft.parent
            raise CatalogueError(*where, f"parent {parent!r} is not an actor id")
        specs = [_AliasSpec(draft.name or draft.id)] + [spec for spec, _ in draft.aliases]
        for spec, where in draft.aliases:
            key = (_alias_key(spec.text, spec.case_sensitive), spec.case_sensitive)
            shared_uses.setdefault(key, []).append((draft.id, spec.shared, where))
        names = dict.fromkeys(spec.text for spec in specs)
        actors.append(
            Actor(
                id=draft.id,
                name=draft.name or draft.id,
                kind=draft.kind or "",
                countries=tuple(draft.countries),
                aliases=tuple(names),
                lineage=tuple(link for link, _ in draft.lineage),
                parent=draft.parent[0] if draft.parent else None,
                notes=draft.notes.strip(),
            )
        )
        aliases.append(specs)
    for (alias_key, _), uses in shared_uses.items():
        if any(shared for _, shared, _ in uses) and len({actor for actor, _, _ in uses}) < 2:
            actor_id, _, where = uses[0]
            raise CatalogueError(
                *where, f"alias {alias_key!r} is marked shared but only {actor_id!r} uses it"
            )
    return actors, aliases
