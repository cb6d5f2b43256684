"""Stage: keyword query text -> KeywordQuery; article texts -> KeywordDoc; (query, doc) -> the
terms that matched, or None. Side effects: none (pure stdlib; one fixed regex, compiled at import).

A keyword watch is a boolean query such as `"car bomb" OR ied NOT training`, tested against every
new article. No user-supplied pattern is ever compiled (no ReDoS): both sides are cut into folded
words by `index.text.words`, the words the full-text index holds, so a watch fires on an article
exactly when a search for its words finds it; matching compares those tokens.

Syntax
- a word (`ied`), a "double-quoted phrase" (“curly” quotes too): the phrase's tokens in
  consecutive positions. A bare word that folds to several tokens is a phrase too: `al-Qaeda`,
  `Sana'a`, `Deir ez-Zor` (two terms: `deir`, and the phrase `ez zor`).
- AND, OR, NOT in any letter case; quote an operator word to look for it (`"or"`). `-word`,
  `-"phrase"` and `-(group)` are NOT shorthand. Adjacent terms are ANDed. Parentheses group.
  Precedence NOT > AND > OR, so `a OR b NOT c` is `a OR (b AND NOT c)`.
- `attack*` is a prefix (attacks, attacked): at least 3 letters or digits before the `*`, and only
  on a lone word or the last word of a phrase (`"suicide bomb*"`).
- limits: 500 characters, 50 terms, parentheses nested 20 deep. A query that would match an empty
  article (`NOT sport`, `a OR NOT b`) is rejected: it has nothing to look for.

`str(query)` is the canonical form (folded terms, explicit operators, minimal parentheses), and
`KeywordQuery.parse(str(q)) == q`. `matches` returns the positive terms whose presence made the
query match (in query order), so an alert can say why it fired.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from index.text import fold_with_offsets, words

MAX_QUERY_CHARS = 500
MAX_TERMS = 50
MAX_DEPTH = 20
MIN_PREFIX_CHARS = 3

_WORD = re.compile(r"\w+")
_QUOTES = frozenset('"“”„')
_OPERATORS = frozenset({"and", "or", "not"})  # see _OPERATOR_KINDS
_NOTHING_TO_LOOK_FOR = "a keyword watch needs at least one word to look for, not only NOT terms"


class KeywordSyntaxError(ValueError):
    """A keyword query that cannot be parsed; the message is one sentence for the user.

    `position` is the 1-based character of the query the message points at, when there is one.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


# ---- text -> tokens ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeywordDoc:
    """One article's tokens, prepared once and tested against many queries."""

    positions: dict[str, tuple[int, ...]]  # token -> its positions, ascending
    vocabulary: tuple[str, ...] = field(init=False, repr=False, compare=False)  # sorted tokens

    def __post_init__(self) -> None:
        object.__setattr__(self, "vocabulary", tuple(sorted(self.positions)))

    @classmethod
    def of(cls, *texts: str) -> KeywordDoc:
        """E.g. `KeywordDoc.of(title, body)`. A position is skipped between texts, so a phrase
        never spans the end of one text and the start of the next."""
        found: dict[str, list[int]] = {}
        position = 0
        for text in texts:
            for token in words(text):
                found.setdefault(token, []).append(position)
                position += 1
            position += 1
        return cls({token: tuple(where) for token, where in found.items()})

    def prefixed(self, prefix: str) -> Iterator[str]:
        """The distinct tokens that start with `prefix` (a binary search in the vocabulary)."""
        index = bisect_left(self.vocabulary, prefix)
        while index < len(self.vocabulary) and self.vocabulary[index].startswith(prefix):
            yield self.vocabulary[index]
            index += 1


_EMPTY_DOC = KeywordDoc({})


# ---- the query tree ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase: folded tokens in consecutive positions; `prefix`: the last is a prefix."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def label(self) -> str:
        """As shown to users: `car bomb`, `ied`, `attack*`."""
        return " ".join(self.words) + ("*" if self.prefix else "")

    def __str__(self) -> str:
        if len(self.words) > 1 or self.words[0] in _OPERATORS:
            return f'"{self.label}"'
        return self.label


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or


def _negate(node: Node) -> Node:
    return node.child if isinstance(node, Not) else Not(node)


def _join(kind: type[And] | type[Or], parts: list[Node]) -> Node:
    """n-ary AND / OR, flattened (`a AND (b AND c)` is `a AND b AND c`)."""
    flat: list[Node] = []
    for part in parts:
        flat.extend(part.children if isinstance(part, kind) else (part,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _precedence(node: Node) -> int:
    if isinstance(node, Or):
        return 1
    if isinstance(node, And):
        return 2
    return 3


def _render(node: Node) -> str:
    if isinstance(node, Term):
        return str(node)
    if isinstance(node, Not):
        return "NOT " + _wrap(node.child, 3)
    if isinstance(node, And):
        return " AND ".join(_wrap(child, 2) for child in node.children)
    return " OR ".join(_wrap(child, 1) for child in node.children)


def _wrap(node: Node, least: int) -> str:
    text = _render(node)
    return f"({text})" if _precedence(node) < least else text


def _walk(node: Node, positive: bool = True) -> Iterator[tuple[Term, bool]]:
    """Every term in query order, with whether it is positive (under an even number of NOTs)."""
    if isinstance(node, Term):
        yield node, positive
    elif isinstance(node, Not):
        yield from _walk(node.child, not positive)
    else:
        for child in node.children:
            yield from _walk(child, positive)


# ---- matching ------------------------------------------------------------------------------------


def _contains(positions: Sequence[int], position: int) -> bool:
    index = bisect_left(positions, position)
    return index < len(positions) and positions[index] == position


def _occurs(term: Term, doc: KeywordDoc) -> bool:
    lists: list[Sequence[int]] = [doc.positions.get(word, ()) for word in term.words[:-1]]
    if term.prefix:
        lists.append(sorted(p for t in doc.prefixed(term.words[-1]) for p in doc.positions[t]))
    else:
        lists.append(doc.positions.get(term.words[-1], ()))
    if not all(lists):
        return False
    anchor = min(range(len(lists)), key=lambda i: len(lists[i]))  # the rarest word
    others = [i for i in range(len(lists)) if i != anchor]
    return any(
        all(_contains(lists[i], start - anchor + i) for i in others) for start in lists[anchor]
    )


def _evaluate(node: Node, doc: KeywordDoc, seen: dict[Term, bool]) -> tuple[bool, frozenset[Term]]:
    """The node's value, and the present terms that decide it: for a true AND, all its children's;
    for a false one, its false children's; OR the mirror; NOT passes its child's through. So the
    evidence for a true query is the positive terms that occur in a branch that made it true."""
    if isinstance(node, Term):
        if node not in seen:
            seen[node] = _occurs(node, doc)
        return seen[node], frozenset({node}) if seen[node] else frozenset()
    if isinstance(node, Not):
        value, evidence = _evaluate(node.child, doc, seen)
        return not value, evidence
    results = [_evaluate(child, doc, seen) for child in node.children]
    values = (value for value, _ in results)
    value = all(values) if isinstance(node, And) else any(values)
    return value, frozenset().union(*(evidence for v, evidence in results if v == value))


# ---- parsing -------------------------------------------------------------------------------------

_Kind = Literal["(", ")", "AND", "OR", "NOT", "-", "TERM"]
_OPERATOR_KINDS: dict[str, _Kind] = {"and": "AND", "or": "OR", "not": "NOT"}


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: _Kind
    position: int  # 1-based character of the query
    term: Term | None = None


def _error(message: str, position: int) -> KeywordSyntaxError:
    """`message` holds "{at}" once, where the place goes (no user text: it is not .format)."""
    return KeywordSyntaxError(
        message.replace("{at}", f"at character {position} of the query"), position
    )


def _term(text: str, position: int, quoted: bool) -> Term:
    """A word or the inside of a quoted phrase (`text`, starting at `position`) -> Term."""
    stars = [i for i, c in enumerate(text) if c == "*"]
    for i in stars:
        at = position + i
        if not fold_with_offsets(text[:i])[0][-1:].strip():
            raise _error("the * {at} must follow a word, as in attack*", at)
        if _WORD.match(text, i + 1):
            raise _error("the * {at} must come at the end of a word, as in attack*", at)
        if _WORD.search(text, i + 1):
            raise _error("a * prefix is allowed only on the last word of a phrase, not {at}", at)
    found = words(text.replace("*", " "))
    if not found:
        what = "the quoted phrase" if quoted else f'"{text}"'
        where = f"at character {position} of the query"
        raise KeywordSyntaxError(f"{what} {where} has no letters or digits to look for", position)
    if stars and len(found[-1]) < MIN_PREFIX_CHARS:
        raise _error(
            f"a prefix needs at least {MIN_PREFIX_CHARS} letters or digits before the * {{at}}",
            position + stars[0],
        )
    return Term(tuple(found), prefix=bool(stars))


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    terms = 0
    i = 0
    while i < len(query):
        char, at = query[i], i + 1
        if char.isspace():
            i += 1
            continue
        if char in "()":
            out.append(_Lexeme("(" if char == "(" else ")", at))
            i += 1
            continue
        if (
            char == "-"
            and i + 1 < len(query)
            and not (query[i + 1].isspace() or query[i + 1] in ")")
        ):
            out.append(_Lexeme("-", at))
            i += 1
            continue
        if char in _QUOTES:
            end = next((j for j in range(i + 1, len(query)) if query[j] in _QUOTES), None)
            if end is None:
                raise _error("the quote {at} is never closed", at)
            term = _term(query[i + 1 : end], at + 1, quoted=True)
            i = end + 1
        else:
            end = i
            while end < len(query) and not (
                query[end].isspace() or query[end] in "()" or query[end] in _QUOTES
            ):
                end += 1
            word, i = query[i:end], end
            literal = bool(out) and out[-1].kind == "-"  # -or is NOT "or"
            if not literal and word.casefold() in _OPERATORS:
                out.append(_Lexeme(_OPERATOR_KINDS[word.casefold()], at))
                continue
            if word == "-":
                raise _error('the "-" {at} must come right before a word, phrase or group', at)
            term = _term(word, at, quoted=False)
        terms += 1
        if terms > MAX_TERMS:
            raise _error(
                f"the query has more than {MAX_TERMS} terms; the one {{at}} is too many", at
            )
        out.append(_Lexeme("TERM", at, term))
    return out


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary ([AND] unary)*;
    unary := (NOT | -)* primary; primary := TERM | "(" or ")"."""

    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self.lexemes = lexemes
        self.index = 0
        self.depth = 0

    def peek(self) -> _Lexeme | None:
        return self.lexemes[self.index] if self.index < len(self.lexemes) else None

    def take(self) -> _Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def parse(self) -> Node:
        node = self.parse_or()
        extra = self.peek()
        if extra is not None:  # only a ")" can be left over
            raise _error('unbalanced parenthesis {at}: nothing opens this ")"', extra.position)
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while (lexeme := self.peek()) is not None and lexeme.kind == "OR":
            self.take()
            parts.append(self.parse_and())
        return _join(Or, parts)

    def parse_and(self) -> Node:
        parts = [self.parse_unary()]
        while (lexeme := self.peek()) is not None and lexeme.kind in (
            "AND",
            "NOT",
            "-",
            "(",
            "TERM",
        ):
            if lexeme.kind == "AND":
                self.take()
            parts.append(self.parse_unary())
        return _join(And, parts)

    def parse_unary(self) -> Node:
        negated = False
        while (lexeme := self.peek()) is not None and lexeme.kind in ("NOT", "-"):
            self.take()
            negated = not negated
        node = self.parse_primary()
        return _negate(node) if negated else node

    def parse_primary(self) -> Node:
        lexeme = self.peek()
        if lexeme is None or lexeme.kind not in ("TERM", "("):
            raise self.missing_operand(lexeme)
        self.take()
        if lexeme.term is not None:
            return lexeme.term
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(
                f"parentheses are nested more than {MAX_DEPTH} deep {{at}}", lexeme.position
            )
        node = self.parse_or()
        closing = self.peek()
        if closing is None:
            raise _error('unbalanced parenthesis {at}: this "(" is never closed', lexeme.position)
        self.take()
        self.depth -= 1
        return node

    def missing_operand(self, lexeme: _Lexeme | None) -> KeywordSyntaxError:
        """Where a word or group should be, `lexeme` (None: the end) is."""
        before = self.lexemes[self.index - 1] if self.index else None
        if before is not None and before.kind in ("AND", "OR", "NOT", "-"):
            name = '"-"' if before.kind == "-" else before.kind
            return _error(name + " {at} has no word or group after it", before.position)
        if lexeme is None or before is not None and lexeme.kind == ")":
            opening = before.position if before else 1  # here before is always the "("
            if lexeme is None:
                return _error('unbalanced parenthesis {at}: this "(" is never closed', opening)
            return _error("empty parentheses {at}", opening)
        return _error(lexeme.kind + " {at} has no word or group before it", lexeme.position)


@dataclass(frozen=True, slots=True)
class KeywordQuery:
    """A parsed keyword watch. Equal queries have the same canonical form."""

    root: Node

    @classmethod
    def parse(cls, query: str) -> KeywordQuery:
        """Query text -> KeywordQuery; raises KeywordSyntaxError with a sentence for the user."""
        if not query.strip():
            raise KeywordSyntaxError("the query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise KeywordSyntaxError(
                f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}"
            )
        parsed = cls(_Parser(_lex(query)).parse())
        if parsed.matches(_EMPTY_DOC) is not None:
            raise KeywordSyntaxError(_NOTHING_TO_LOOK_FOR)
        return parsed

    def matches(self, doc: KeywordDoc) -> tuple[str, ...] | None:
        """None when the query does not match; else the positive terms whose presence made it
        match (labels such as 'car bomb', 'ied', 'attack*'), in query order, each once."""
        value, evidence = _evaluate(self.root, doc, {})
        if not value:
            return None
        return tuple(dict.fromkeys(term.label for term, _ in _walk(self.root) if term in evidence))

    @property
    def terms(self) -> tuple[str, ...]:
        """Every positive term's label, in query order, each once (for display)."""
        return tuple(dict.fromkeys(term.label for term, positive in _walk(self.root) if positive))

    def __str__(self) -> str:
        return _render(self.root)
