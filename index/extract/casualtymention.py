"""Stage: one lower-cased sentence -> casualty mentions (kind, Count, token span): the
hand-written grammar of active, passive, singular, toll and negated mentions described in
index/extract/casualties.py's docstring; background mentions are dropped and a toll split by side is
summed. Side effects: none (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from index.extract.casualtybackground import _is_background
from index.extract.casualtycount import (
    _AFTER_A,
    _BOUNDARY,
    _HARD_STOP,
    _MODIFIERS_BY_FIRST,
    _NUMBER_START,
    _TOKEN,
    _UNITS,
    _WEEKDAYS,
    _ZERO,
    Count,
    _at,
    _Quantity,
    _quantity,
    _words,
)

_MAX_NP = 6  # words of a victim noun phrase ("members of the same family")
_MAX_AUX = 5
_MAX_LIST = 12  # items of a victim list; bounds keep long odd sentences linear
_MAX_TOKENS = 200  # of one sentence (news sentences are far shorter)
_MAX_TOLL_GAP = 10

# ---------------------------------------------------------------------------------------------
# Word classes

_KILL_ACTIVE: Final = _words(
    "killed killing kills kill murdered murdering massacred massacring slaughtered slaughtering "
    "executed executing"
)
_INJURE_ACTIVE: Final = _words(
    "wounded wounding wounds wound injured injuring injures injure hurting"
)
_BASE_VERBS: Final = _words("kill injure wound hurt murder execute massacre slaughter")
_NOT_DONE: Final = _words("to will would could can may might shall not never")
_LIVES_VERBS: Final = _words("claimed claiming claims claim took taking cost costing")
_KILLED_WORDS: Final = _words(
    "killed dead died die dies slain perished deaths death fatalities fatality murdered "
    "executed massacred"
)
_INJURED_WORDS: Final = _words("wounded injured hurt injuries injury harmed")
_COMBINED_WORDS: Final = frozenset({"casualties", "casualty"})
_PARTICIPLES: Final = _words("killed wounded injured hurt murdered executed massacred slain harmed")
_TO_DEATH: Final = _words(
    "stabbed burned burnt beaten crushed hacked bludgeoned shot tortured starved"
)
_AUX: Final = _words(
    "were was are is have has had been being be who that which reportedly also all later "
    "confirmed reported feared believed presumed found said to now already each allegedly "
    "apparently initially subsequently eventually left both"
)
_SINGULAR_AUX: Final = frozenset({"was", "is", "has"})
_FOLLOW_OK: Final = (
    _words(
        "in on at by when after during while as near and or but following amid across inside "
        "outside overnight yesterday today tonight since from with including last this early "
        "late earlier so over around throughout within between among along close north south "
        "east west says say said according"
    )
    | _WEEKDAYS
    | _BOUNDARY
)
_NP_BREAK: Final = (
    _AUX
    | _KILLED_WORDS
    | _INJURED_WORDS
    | _COMBINED_WORDS
    | _KILL_ACTIVE
    | _INJURE_ACTIVE
    | _BOUNDARY
    | _words(
        "and or but including among after before when while since during because as than then "
        "if says told according amid following until by lost lose losing shot stabbed burned "
        "burnt beaten crushed hacked"
    )
)
_SUBSET_START: Final = frozenset({"including", "among", "incl", "mostly", "mainly", "most"})
_AGENTS: Final = _words(
    "attack attacks strike strikes airstrike airstrikes missile missiles rocket rockets drone "
    "drones bomb bombs blast blasts explosion explosions shell shells gunmen gunman assailants "
    "attackers raids raid shots bullets bombers bombings"
)
_PERSONS: Final = _words(
    "man woman child boy girl baby infant toddler teenager teen person civilian soldier officer "
    "policeman policewoman journalist reporter photographer cameraman worker farmer fighter "
    "militant member resident student doctor nurse medic paramedic pilot driver shepherd "
    "fisherman guard commander leader official trooper peacekeeper contractor volunteer "
    "villager passerby pedestrian youth mother father son daughter wife husband brother sister "
    "policeman gendarme marine sailor sergeant captain colonel general lieutenant major private "
    "militiaman rebel insurgent jihadist gunman bystander protester demonstrator activist "
    "teacher imam priest pupil grandmother grandfather settler minister politician lawmaker "
    "legislator mp judge governor mayor chief cleric preacher elder diplomat ambassador envoy "
    "lawyer businessman businesswoman engineer bodyguard hostage prisoner detainee candidate "
    "blogger refugee migrant pilgrim worshipper tourist policeman"
)
_SIDE_STATE: Final = _words(
    "soldier soldiers troops trooper troopers policeman policemen police officers servicemen "
    "personnel guards gendarmes marines sailors pilots conscripts"
)
_SIDE_ARMED: Final = _words(
    "militant militants rebel rebels insurgent insurgents fighters jihadists militiamen "
    "combatants extremists terrorists"
)
_CIVILIANS: Final = _words(
    "civilian civilians child children boy boys girl girls woman women villager villagers "
    "resident residents worshipper worshippers student students pupil pupils passenger "
    "passengers shopper shoppers farmer farmers journalist journalists refugee refugees "
    "pilgrim pilgrims tourist tourists bystander bystanders teacher teachers"
)
_NO_WORDS: Final = frozenset({"no", "nobody", "none", "no-one"})
_HEDGES: Final = frozenset({"immediate", "immediately", "yet", "initial", "further", "other"})
_NEG_KILLED: Final = frozenset({"deaths", "fatalities", "dead", "death", "fatality"})
_NEG_INJURED: Final = frozenset({"injuries", "injury"})
_NEG_BOTH: Final = frozenset({"casualties", "casualty", "victims"})
_TOLL_LINK: Final = _words(
    "to at of reached reaches hit hits is was now passed topped exceeded surpassed stands stood "
    "about around nearly over"
)
_UPDATE_WORDS: Final = _words(
    "rose risen rises rising climbed climbs climbing increased increases jumped jumps grew "
    "mounted reached reaches updated revised"
)
_DETERMINERS: Final = frozenset({"a", "an", "the", "his", "her", "their"})
_PREPOSITIONS: Final = frozenset({"of", "in", "at", "on", "from", "near"})

_PASSIVE_HEADS: Final = (
    _KILLED_WORDS
    | _INJURED_WORDS
    | _COMBINED_WORDS
    | _TO_DEATH
    | {"lost", "lose", "losing", "shot"}
)


@dataclass(frozen=True, slots=True)
class _Mention:
    kind: str  # "killed" | "injured" | "combined" (recognised, then dropped)
    count: Count
    start: int
    end: int
    update: bool = False
    vague: bool = False
    side: str = ""  # "state" or "armed" when the victims are one side's ("12 soldiers")
    civilians: bool = False  # the victims are said to be civilians ("12 civilians", "a child")
    parts: tuple[int, ...] = ()  # the summed counts' bests ("40 militants and 6 soldiers")


# ---------------------------------------------------------------------------------------------
# Sentence -> mentions


def _sentence_mentions(sentence: str) -> list[_Mention]:
    """Mentions in one lower-cased sentence, background ones dropped."""
    toks: list[str] = _TOKEN.findall(sentence)[:_MAX_TOKENS]
    found: list[_Mention] = []
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        got: list[_Mention] | None = None
        if tok in ("deaths", "death", "killing", "killings") and _at(toks, i + 1) == "of":
            got = _object_list(toks, i, i + 2, "killed")  # "the deaths of 4 soldiers"
        elif tok in _KILL_ACTIVE or tok in _INJURE_ACTIVE or tok in _LIVES_VERBS or tok == "shot":
            got = _active(toks, i)
        elif tok in ("lost", "lose", "losing") and (lost := _active(toks, i)) and lost[0].side:
            got = lost  # "the army lost 9 soldiers"; not "lost 3 homes"
        elif tok in ("toll", "tolls", "number"):
            got = _toll(toks, i)
        elif tok in _NO_WORDS or tok == "without":
            got = _negation(toks, i)
        if got is None and _may_start_passive(toks, i):
            got = _passive(toks, i)
        if got:
            found.extend(m for m in got if not _is_background(toks, m.start, m.end))
            i = max(m.end for m in got)
        else:
            i += 1
    return _sum_sides(found)


def _may_start_passive(toks: list[str], i: int) -> bool:
    """A cheap gate before _passive: most words start no quantity and no singular victim."""
    tok = toks[i]
    if _starts_number(tok):
        return tok not in ("a", "an") or _at(toks, i + 1) in _AFTER_A or _head_near(toks, i)
    if tok in _MODIFIERS_BY_FIRST:
        return tok == "another" or any(_starts_number(t) for t in toks[i + 1 : i + 5])
    return (tok in _DETERMINERS or tok in _PERSONS) and _head_near(toks, i)


def _starts_number(tok: str) -> bool:
    return tok[0].isdigit() or tok in _NUMBER_START or tok.split("-", 1)[0] in _UNITS


def _head_near(toks: list[str], i: int) -> bool:
    return any(t in _PASSIVE_HEADS for t in toks[i + 1 : i + 10])


def _active(toks: list[str], i: int) -> list[_Mention] | None:
    """Verb, then victims: "killing at least 30", "wounded 5 soldiers and 3 civilians"."""
    tok = toks[i]
    if tok == "shot":
        return _object_list(toks, i, i + 2, "killed") if _at(toks, i + 1) == "dead" else None
    if tok in ("lost", "lose", "losing"):  # "the army lost 9 soldiers": one side's dead
        return _object_list(toks, i, i + 1, "killed")
    if tok in _LIVES_VERBS:
        if toks[i + 1 : i + 4] != ["the", "lives", "of"]:
            return None
        return _object_list(toks, i, i + 4, "killed")
    if tok in _BASE_VERBS and _at(toks, i - 1) in _NOT_DONE:
        return None  # "threatened to kill 100 hostages", "could kill thousands"
    kind = "killed" if tok in _KILL_ACTIVE else "injured"
    nxt = _at(toks, i + 1)
    other_verbs = _INJURE_ACTIVE if kind == "killed" else _KILL_ACTIVE
    if nxt in ("or", "and") and _at(toks, i + 2) in other_verbs:
        return _object_list(toks, i, i + 3, "combined")  # "killing or wounding 12"
    if nxt in ("him", "her"):
        return [_Mention(kind, Count(1, 1, 1), i, i + 2)]
    return _object_list(toks, i, i + 1, kind)


def _object_list(toks: list[str], start: int, j: int, kind: str) -> list[_Mention] | None:
    first = _victims(toks, j)
    if first is None:
        return None
    count, vague, end, parts = _victim_list(toks, first, active=True)
    side = _side(toks, first.end, end)
    civilians = _civilians(toks, first.end, end)
    return [
        _Mention(kind, count, start, end, vague=vague, side=side, parts=parts, civilians=civilians)
    ]


def _side(toks: list[str], start: int, end: int) -> str:
    """The side one victim noun phrase toks[start:end] belongs to, if it names one."""
    if _skip_np(toks, start) != end:
        return ""  # a list ("5 soldiers and 3 civilians"), already summed
    head = _np_head(toks, start, end)
    return "state" if head in _SIDE_STATE else "armed" if head in _SIDE_ARMED else ""


def _civilians(toks: list[str], start: int, end: int) -> bool:
    """Whether one victim noun phrase toks[start:end] names civilians ("civilians", "civilian
    passengers", "children"); a list of several kinds of victims does not."""
    return _skip_np(toks, start) == end and _np_head(toks, start, end) in _CIVILIANS


def _sum_sides(found: list[_Mention]) -> list[_Mention]:
    """A toll split by side in one sentence is summed: "12 militants were killed, while three
    soldiers died" -> 15 (the first count of each side)."""
    firsts: dict[str, _Mention] = {}
    for m in found:
        if m.kind == "killed" and m.side and not m.update:
            firsts.setdefault(m.side, m)
    if len(firsts) < 2:
        return found
    a, b = sorted(firsts.values(), key=lambda m: m.start)
    total = Count(
        a.count.low + b.count.low, a.count.best + b.count.best, a.count.high + b.count.high
    )
    parts = (a.count.best, b.count.best)
    merged = _Mention("killed", total, a.start, b.end, vague=a.vague or b.vague, parts=parts)
    return [merged if m is a else m for m in found if m is not b]


def _victim_list(
    toks: list[str], first: _Quantity, *, active: bool
) -> tuple[Count, bool, int, tuple[int, ...]]:
    """Sum "5 soldiers and 3 civilians", "3 soldiers, 2 policemen and a civilian"; a comma list
    must end with "and" ("12 people, 5 children" is an apposition). In the active voice an item
    followed by its own verb starts a new clause ("killed 5 and 3 were wounded")."""
    items, seps = [first], []
    ends = [_skip_np(toks, first.end)]
    while (sep := _at(toks, ends[-1])) in ("and", ",") and len(items) < _MAX_LIST:
        following = _victims(toks, ends[-1] + 1)
        if following is None:
            break
        after = _skip_np(toks, following.end)
        if active and (_at(toks, after) in _AUX or _kill_word(toks, after) is not None):
            break
        items.append(following)
        seps.append(sep)
        ends.append(after)
    if "," in seps and seps[-1] != "and":
        cut = seps.index(",") + 1
        items, ends = items[:cut], ends[:cut]
    total = items[0].count
    for item in items[1:]:
        total = Count(
            total.low + item.count.low, total.best + item.count.best, total.high + item.count.high
        )
    parts = tuple(item.count.best for item in items) if len(items) > 1 else ()
    return total, any(item.vague for item in items), ends[-1], parts


def _passive(toks: list[str], i: int) -> list[_Mention] | None:
    """Victims, then verb: "12 civilians, including a child, were killed", "4 dead"."""
    tok = toks[i]
    if tok == "another" and (found := _kill_word(toks, i + 1)) is not None:
        return [_Mention(found[0], Count(1, 1, 1), i, found[1])]  # "... and another wounded"
    quantity = None if tok in _PERSONS else _quantity(toks, i)
    if quantity is None:
        return _singular(toks, i) if tok in _DETERMINERS or tok in _PERSONS else None
    np_end = _skip_np(toks, quantity.end)
    if _np_head(toks, quantity.end, np_end) in _AGENTS:
        return None  # "3 rockets killed ...": the count is of weapons, not victims
    count, vague, k, parts = _victim_list(toks, quantity, active=False)
    k_list = k
    if _at(toks, k - 1) in _PREPOSITIONS or _at(toks, k - 1) == "the":
        return None  # "one of the injured (died)", "two of the dead": a subset
    k = _skip_subset(toks, k)
    k, has_aux = _skip_aux(toks, k)
    found = _kill_word(toks, k)
    if found is None:
        return None
    kind, end = found
    if not has_aux and not _participle_ok(toks, end):
        return None
    side = _side(toks, quantity.end, np_end) if np_end >= k_list else ""
    civilians = np_end >= k_list and _civilians(toks, quantity.end, np_end)
    return [_Mention(kind, count, i, end, vague=vague, side=side, parts=parts, civilians=civilians)]


def _singular(toks: list[str], i: int) -> list[_Mention] | None:
    """One victim: "a man was killed", "an Israeli has been wounded", "Soldier killed in"."""
    det = toks[i] if toks[i] in _DETERMINERS else ""
    k = i + 1 if det else i
    np_start, head = k, ""
    while k < len(toks) and k - np_start < 4 and not _breaks_np(toks[k]):
        head = toks[k]
        k += 1
    if not head:
        return None
    after_aux, has_aux = _skip_aux(toks, k)
    if has_aux and toks[k] not in _SINGULAR_AUX:
        return None  # "were": not one person
    found = _kill_word(toks, after_aux)
    if found is None:
        return None
    kind, end = found
    person = head in _PERSONS
    if has_aux:
        if det not in ("a", "an") and not person:
            return None  # "the attack was deadly"; "his wife was killed" passes
    elif not person or det not in ("", "a", "an") or not _participle_ok(toks, end):
        return None
    return [_Mention(kind, Count(1, 1, 1), i, end, civilians=head in _CIVILIANS)]


def _kill_word(toks: list[str], k: int) -> tuple[str, int] | None:
    """The casualty word at k as (kind, index after it), or None."""
    tok = _at(toks, k)
    if tok in _KILLED_WORDS:
        kind = "killed"
    elif tok in _INJURED_WORDS:
        kind = "injured"
    elif tok in _COMBINED_WORDS:
        return "combined", k + 1
    elif tok in ("lost", "lose", "losing") and _at(toks, k + 2) in ("lives", "life"):
        return "killed", k + 3
    elif tok == "shot" and _at(toks, k + 1) == "dead":
        return "killed", k + 2
    elif toks[k : k + 3] == ["shot", "and", "killed"] or (
        tok in _TO_DEATH and toks[k + 1 : k + 3] == ["to", "death"]
    ):
        return "killed", k + 3
    else:
        return None
    if _at(toks, k + 1) in ("or", "and"):
        other = _at(toks, k + 2)
        if other in (_INJURED_WORDS if kind == "killed" else _KILLED_WORDS):
            return "combined", k + 3  # "killed or wounded", "dead and injured"
    return kind, k + 1


def _participle_ok(toks: list[str], end: int) -> bool:
    """Without an auxiliary, "killed"/"wounded" must not take an object ("3 gunmen killed 12")."""
    if toks[end - 1] not in _PARTICIPLES:
        return True
    nxt = _at(toks, end)
    return (not nxt or nxt in _FOLLOW_OK) and _victims(toks, end) is None


def _breaks_np(tok: str) -> bool:
    return tok in _NP_BREAK or (tok[0].isdigit() and "-" not in tok)


def _skip_np(toks: list[str], k: int) -> int:
    start = k
    while k < len(toks) and k - start < _MAX_NP and not _breaks_np(toks[k]):
        k += 1
    return k


def _np_head(toks: list[str], start: int, end: int) -> str:
    """The noun a phrase is about: "people" in "people in air strikes"."""
    head = ""
    for k in range(start, end):
        if toks[k] in _PREPOSITIONS:
            break
        head = toks[k]
    return head


def _skip_subset(toks: list[str], k: int) -> int:
    """Skip ", including a woman and a child," / ", most of them children," and the like."""
    j = k + 1 if _at(toks, k) == "," else k
    window = toks[j : j + 16]
    if not window:
        return k
    is_subset = window[0] in _SUBSET_START or any(
        window[x] == "of" and window[x + 1] in ("them", "whom")
        for x in range(min(4, len(window) - 1))
    )
    if not is_subset:
        return k
    for x, tok in enumerate(window):
        if tok == ",":
            return j + x + 1
        if x and (tok in _AUX or tok in _HARD_STOP or _kill_word(toks, j + x) is not None):
            return j + x
    return k


def _skip_aux(toks: list[str], k: int) -> tuple[int, bool]:
    start = k
    while k < len(toks) and k - start < _MAX_AUX and toks[k] in _AUX:
        k += 1
    return k, k > start


def _toll(toks: list[str], i: int) -> list[_Mention] | None:
    """ "the death toll (from the attack) rose to 23", "the number of dead reached 23"."""
    kind = "killed"
    j = i + 1
    if toks[i] == "number":
        if _at(toks, j) != "of":
            return None
        j += 2 if _at(toks, j + 1) == "people" else 1
        if _at(toks, j) in _KILLED_WORDS:
            kind = "killed"
        elif _at(toks, j) in _INJURED_WORDS:
            kind = "injured"
        else:
            return None
        j += 1
    elif _at(toks, i - 1) in ("injury", "injuries"):
        kind = "injured"
    elif _at(toks, i - 1) in ("casualty", "casualties"):
        kind = "combined"
    update = False
    for k in range(j, min(len(toks), j + _MAX_TOLL_GAP)):
        tok = toks[k]
        if tok in _HARD_STOP:
            return None
        update = update or tok in _UPDATE_WORDS
        if toks[k - 1] in _TOLL_LINK and (quantity := _quantity(toks, k)) is not None:
            return [_Mention(kind, quantity.count, i, quantity.end, update, quantity.vague)]
    return None


def _negation(toks: list[str], i: int) -> list[_Mention] | None:
    """ "no one was killed" -> killed 0; "no casualties", "without casualties" -> both 0."""
    tok = toks[i]
    window_end = i + 1
    while window_end < len(toks) and window_end - i < 10 and toks[window_end] not in _BOUNDARY:
        window_end += 1
    if any(t in _HEDGES for t in toks[i:window_end]):
        return None  # "no immediate reports of casualties": unknown, not zero
    kinds: tuple[str, ...] = ()
    end = i + 1
    if tok in ("nobody", "no-one", "none") or (tok == "no" and _at(toks, i + 1) == "one"):
        k = i + 2 if tok == "no" else i + 1
        if _at(toks, k) == "of":  # "none of the passengers"
            k = _skip_np(toks, k + 1)
        k, _ = _skip_aux(toks, k)
        word = _at(toks, k)
        if word in _KILLED_WORDS:
            kinds = ("killed",)
        elif word in _INJURED_WORDS:
            kinds = ("killed", "injured")  # nobody hurt: nobody dead either
        end = k + 1
    else:  # "no (reports of) (civilian) casualties", "without casualties"
        for k in range(i + 1, min(window_end, i + 5)):
            word = toks[k]
            if word in _NEG_BOTH:
                kinds = ("killed", "injured")
            elif word in _NEG_KILLED:
                kinds = ("killed",)
            elif word in _NEG_INJURED:
                kinds = ("injured",)
            else:
                continue
            end = k + 1
            break
    return [_Mention(kind, _ZERO, i, end) for kind in kinds] or None


# ---------------------------------------------------------------------------------------------
# Victims


def _victims(toks: list[str], j: int) -> _Quantity | None:
    """A quantity, or "a/an ... <person>" as one."""
    quantity = _quantity(toks, j)
    if quantity is not None or _at(toks, j) not in ("a", "an", "his", "her"):
        return quantity  # "a district official and his driver": 2
    for k in range(j + 1, min(len(toks), j + 5)):
        if toks[k] in _PERSONS:
            return _Quantity(Count(1, 1, 1), False, k + 1)
        if _breaks_np(toks[k]):
            return None
    return None
