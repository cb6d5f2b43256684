"""Stage: an event's cues and words -> its sub-type and type; the cue words and pairs that
index/extract/events.py looks for, and the word lists that qualify them. Side effects: none.
Hand-written lists, generic; none was taken from evaluation data."""

from __future__ import annotations

from typing import Final

from index.extract.eventtypes import BATTLES, CIVILIANS, EXPLOSIONS, PROTESTS, RIOTS, STRATEGIC

OUTCOME: Final = "outcome"
# instruments ("warplanes", "rockets") and weak verbs ("hit", "fired") make an event only
# together, or beside another cue: "a missile hit a school", not "a jet deal"
AIR_TOOL: Final = "air_tool"
SHELL_TOOL: Final = "shell_tool"
WEAK: Final = "weak"
TOOLS: Final = {AIR_TOOL: "air_strike", SHELL_TOOL: "shelling", WEAK: "strike"}
# sub-types, most specific first: when an event holds cues of several, the first wins
SUB_TYPES: Final = (
    "suicide_bomb",
    "air_strike",
    "shelling",
    "ied",
    "strike",  # "strike", "struck" alone: an air or missile strike, unless a cue says more
    "violent_protest",
    "peaceful_protest",
    "abduction",
    "territory_change",
    "armed_clash",
    "attack",
    "pledge",  # non-violent developments last: a clash that ends a truce is a clash
    "agreement",
    "arrests",
)
TYPE_OF: Final = {
    "suicide_bomb": EXPLOSIONS,
    "air_strike": EXPLOSIONS,
    "shelling": EXPLOSIONS,
    "ied": EXPLOSIONS,
    "strike": EXPLOSIONS,
    "violent_protest": RIOTS,
    "peaceful_protest": PROTESTS,
    "abduction": CIVILIANS,
    "territory_change": STRATEGIC,
    "pledge": STRATEGIC,
    "agreement": STRATEGIC,
    "arrests": STRATEGIC,
    "armed_clash": BATTLES,
    "attack": CIVILIANS,
}


def words_of(words: str) -> frozenset[str]:
    return frozenset(words.split())


# one word -> what it cues (lower-cased surface forms: the pipeline runs without a lemmatizer)
CUE_WORDS: Final[dict[str, str]] = {
    **dict.fromkeys(words_of("airstrike airstrikes"), "air_strike"),
    **dict.fromkeys(
        words_of(
            "warplane warplanes jet jets drone drones aircraft helicopter helicopters missile "
            "missiles"
        ),
        AIR_TOOL,
    ),
    **dict.fromkeys(words_of("artillery mortar mortars rocket rockets shells"), SHELL_TOOL),
    **dict.fromkeys(words_of("hit hits fired fires launched landed"), WEAK),
    **dict.fromkeys(
        words_of("shelling shelled barrage bombardment"),
        "shelling",
    ),
    **dict.fromkeys(
        words_of(
            "bomb bombs bombing bombings bombed blast blasts explosion explosions exploded "
            "explodes detonated ied ieds landmine landmines grenade grenades"
        ),
        "ied",
    ),
    "suicide": "suicide_bomb",
    **dict.fromkeys(
        words_of(
            "clash clashes clashed fighting fought gunfight gunfights firefight firefights "
            "gunbattle battle battles battled ambush ambushed ambushes skirmish skirmishes "
            "assault offensive repelled"
        ),
        "armed_clash",
    ),
    **dict.fromkeys(
        words_of(
            "attack attacks attacked raid raids raided stormed looted massacre massacred "
            "executed beheaded"
        ),
        "attack",
    ),
    **dict.fromkeys(words_of("struck strike strikes"), "strike"),
    **dict.fromkeys(
        words_of(
            "abducted abduct abducting abduction abductions kidnapped kidnap kidnapping kidnappings"
        ),
        "abduction",
    ),
    **dict.fromkeys(words_of("arrested arrest arrests detained detain rounded"), "arrests"),
    **dict.fromkeys(
        words_of(
            "protest protests protested protesters protestors protesting demonstrators "
            "demonstration demonstrations demonstrated rally rallies rallied march marched "
            "marches sit-in"
        ),
        "peaceful_protest",
    ),
    **dict.fromkeys(words_of("riot riots rioted rioting rioters mob mobs"), "violent_protest"),
    **dict.fromkeys(
        words_of(
            "captured capture seized seize seizes retook recaptured retake retakes overran "
            "withdrew withdrawn liberated"
        ),
        "territory_change",
    ),
    **dict.fromkeys(words_of("ceasefire ceasefires cease-fire truce truces"), "agreement"),
    **dict.fromkeys(
        words_of("pledged pledge allegiance defected defects defect defection swore"), "pledge"
    ),
    **dict.fromkeys(
        words_of(
            "kill kills killed killing killings dead died die dies wounded wounding wounds "
            "injured injuring injuries hurt toll casualties"
        ),
        OUTCOME,
    ),
}
# word pairs whose second word changes what the first cues ("air strike", "took control")
CUE_PAIRS: Final[dict[tuple[str, str], str]] = {
    ("air", "strike"): "air_strike",
    ("air", "strikes"): "air_strike",
    ("air", "raid"): "air_strike",
    ("air", "raids"): "air_strike",
    ("drone", "strike"): "air_strike",
    ("drone", "strikes"): "air_strike",
    ("took", "control"): "territory_change",
    ("taken", "control"): "territory_change",
    ("took", "over"): "territory_change",
    ("pulled", "out"): "territory_change",
    ("opened", "fire"): "attack",
    ("shot", "dead"): "attack",
    ("exchanged", "fire"): "armed_clash",
    ("went", "off"): "ied",
    ("tear", "gas"): "violent_protest",
    ("peace", "deal"): "agreement",
    ("peace", "agreement"): "agreement",
    ("peace", "accord"): "agreement",
}
# words that make a protest violent
VIOLENT: Final = words_of(
    "stormed storm storming burned burnt burning torched looted looting stones rocks tear fire "
    "fired clashed clashes smashed vandalised vandalized"
)
SECURITY: Final = words_of(
    "army soldiers soldier troops checkpoint patrol base post station barracks garrison "
    "military peacekeepers"
)
COMBATANTS: Final = words_of(
    "army troops soldiers forces militants fighters militiamen rebels insurgents attackers "
    "jihadists terrorists combatants kidnappers"
)
CROWDS: Final = words_of(
    "riot riots rioted rioting rioters mob mobs protesters demonstrators youths crowd crowds"
)
NOT_VIOLENT: Final = words_of(
    "bird hunger general labour labor rail workers teachers doctors deal deals balance chord "
    "tone note pose bargain cyber ransomware hacking hackers heart panic asthma shark legal "
    "political verbal"
)
INTENT: Final = words_of(
    "planning plotting plan plans plot plots preparing suspicion threatened threatening threat "
    "threats"
    "vowed vowing warned warning"
)
REFERRING: Final = words_of("the this that these those its their such")


def event_type(found_cues: list[str], words: set[str]) -> tuple[str, str]:
    """(sub-type, type) of an event from its cues and words."""
    cues = set(found_cues)
    if "peaceful_protest" in cues and words & VIOLENT and "peaceful" not in words:
        cues.add("violent_protest")
    if "violent_protest" in cues and "peaceful_protest" not in cues and not words & CROWDS:
        cues.discard("violent_protest")  # tear gas with no crowd named
        cues.add("attack")
    sub = next((s for s in SUB_TYPES if s in cues), None)
    if sub is None:  # only an outcome: people killed or wounded
        return ("armed_clash", BATTLES) if words & COMBATANTS else ("attack", CIVILIANS)
    kind = TYPE_OF[sub]
    if sub == "territory_change" and "armed_clash" in cues:
        kind = BATTLES
    if sub == "attack" and words & SECURITY:
        kind = BATTLES
    if sub in ("ied", "strike") and words & words_of(
        "jet jets warplane warplanes aircraft missile"
    ):
        sub = "air_strike"
    return ("air_strike" if sub == "strike" else sub), kind


def armed(cues: list[str]) -> list[str]:
    """A clause's cues with its instruments and weak verbs read as strikes where they come
    together or beside another cue, and dropped where they stand alone."""
    tools = [c for c in cues if c in TOOLS]
    rest = [c for c in cues if c not in TOOLS]
    if tools == [WEAK] * len(tools) or (not rest and WEAK not in tools):
        return rest
    return [*rest, *(TOOLS[c] for c in tools)]
