"""Stage: feed body bytes -> ParsedFeed of RawEntry (feedparser); HTML -> text; URL -> canonical.

Side effects: none. Every function here is synchronous and pure (no network, no files, no
clock); the caller runs `parse_feed` in a thread. `feedparser` is only ever given
`io.BytesIO(body)`, never a str, which it might read as a URL or a path.

Safety: on broken XML feedparser falls back to its loose (regex) parser, which expands the
internal entities the DOCTYPE declares with no size limit, so a small "quadratic blowup" body
can eat gigabytes. `parse_feed` measures what the declared entities would expand to before
parsing and refuses bodies over `_MAX_ENTITY_EXPANSION`. External entities are never resolved
(feedparser turns off expat's external general entities, and its loose parser only knows
quoted internal values).
"""

from __future__ import annotations

import calendar
import html
import io
import re
import xml.sax
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.etree
import lxml.html

from index.errors import FeedMalformed
from index.models import ParsedFeed, RawEntry

__all__ = ["canonical_url", "html_to_text", "parse_feed"]

# Dates before this are treated as garbage (epoch zero, "0001-01-01", two-digit-year accidents).
_MIN_PUBLISHED_AT = datetime(1990, 1, 1, tzinfo=UTC)
_TITLE_FALLBACK_WORDS = 12
_UNTITLED = "(untitled)"
_MAX_REASON_CHARS = 200
# Upper bound, in characters, on what the body's declared internal entities may expand to.
_MAX_ENTITY_EXPANSION = 2_000_000

# ---------------------------------------------------------------------------------------------
# canonical_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "ref_src",
        "ref_url",
        "cmpid",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "ocid",
        "_ga",
        "_gl",
        "s_cid",
        "wt.mc_id",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "vero_id",
        "vero_conv",
        "__twitter_impression",
        "_openstat",
        "spm",
        # Seen in our own news feeds: AT Internet (xtor), Webtrekk (wt_mc, wt_zmc), internal
        # campaign ids (icid), Deutsche Welle (maca), Al Jazeera (traffic_source).
        "xtor",
        "wt_mc",
        "wt_zmc",
        "icid",
        "maca",
        "traffic_source",
    }
)


def canonical_url(url: str | None) -> str | None:
    """The canonical form of an http(s) URL, or None for anything else.

    Scheme and host lower-cased, default port dropped, fragment dropped, tracking parameters
    (utm_* in any case, fbclid, gclid, ...) dropped with the other parameters kept in order and
    as written, empty path -> "/". IDN hosts are kept as given (lower-cased).
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = parts.hostname  # lower-cased by urlsplit; brackets of IPv6 literals removed
        port = parts.port  # raises ValueError when not a number in 0..65535
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    userinfo = _userinfo(parts)
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not _is_tracking(pair.split("=", 1)[0])
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _userinfo(parts: SplitResult) -> str:
    netloc = parts.netloc
    return netloc.rpartition("@")[0] if "@" in netloc else ""


def _is_tracking(key: str) -> bool:
    name = unquote(key).strip().lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


# ---------------------------------------------------------------------------------------------
# html_to_text

# Elements whose content is never text for a reader (their tail text still is).
_SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "iframe",
        "object",
        "embed",
        "applet",
        "template",
        "head",
        "title",
        "svg",
        "math",
        "canvas",
        "audio",
        "video",
        "select",
        "textarea",
    }
)
# Elements that start and end a paragraph.
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "frame",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    }
)
# Elements that sit side by side and need a space between them, though they break no paragraph.
_CELL_TAGS = frozenset({"td", "th"})

_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|$)", re.DOTALL)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_TAG = re.compile(r"<[^>]*>?")
_LOOKS_LIKE_MARKUP = re.compile(r"<[A-Za-z!/?]")


def html_to_text(html_text: str) -> str:
    """Clean plain text of an HTML document or fragment (or of plain text with entities).

    Entities decoded; script/style/noscript/iframe/object (and the like) removed; block elements
    become paragraph breaks; inline elements join their neighbours as written ("<b>Al</b>-Qaim" ->
    "Al-Qaim"); whitespace collapsed within paragraphs; paragraphs joined by a blank line; image
    alt text dropped. Never raises.
    """
    try:
        text = _CONTROL_CHARS.sub("", html_text or "")
        if not text.strip():
            return ""
        if not _LOOKS_LIKE_MARKUP.search(text):
            return _plain_to_text(text)
        text = _CDATA.sub(r"\1", text)
        try:
            paragraphs = _html_paragraphs(text)
        except (ValueError, lxml.etree.LxmlError):
            paragraphs = _fallback_paragraphs(text)
        return "\n\n".join(paragraphs)
    except Exception:  # the promise is "never raises": degrade to tag stripping
        return "\n\n".join(_fallback_paragraphs(str(html_text)))


def _plain_to_text(text: str) -> str:
    """Plain text (entities allowed) -> clean text: entities decoded, blank lines kept as breaks."""
    text = html.unescape(_CONTROL_CHARS.sub("", text or ""))
    paragraphs = (" ".join(chunk.split()) for chunk in _BLANK_LINE.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def _html_paragraphs(text: str) -> list[str]:
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        no_network=True,
        default_doctype=False,
        huge_tree=True,  # no depth cap: deeply nested markup keeps its text (input is bounded)
    )
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=parser)
    except lxml.etree.ParserError:  # "Document is empty": only comments or nothing at all
        return []
    if any(error.level_name == "FATAL" for error in parser.error_log):
        return _fallback_paragraphs(text)  # e.g. nesting beyond libxml2's depth limit: truncated
    paragraphs: list[str] = []
    pieces: list[str] = []

    def flush() -> None:
        joined = " ".join("".join(pieces).split())
        if joined:
            paragraphs.append(joined)
        pieces.clear()

    walker = lxml.etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            if not tag or tag in _SKIP_TAGS:
                walker.skip_subtree()
                continue
            if tag in _BLOCK_TAGS:
                flush()
            elif tag in _CELL_TAGS:
                pieces.append(" ")
            if element.text:
                pieces.append(element.text)
        else:
            if tag in _BLOCK_TAGS:
                flush()
            elif tag in _CELL_TAGS:
                pieces.append(" ")
            if element.tail and element is not root:
                pieces.append(element.tail)
    flush()
    return paragraphs


def _fallback_paragraphs(text: str) -> list[str]:
    """Last resort when the HTML parser fails: drop tags, decode entities, one paragraph."""
    stripped = html.unescape(_TAG.sub(" ", _CONTROL_CHARS.sub("", text)))
    joined = " ".join(stripped.split())
    return [joined] if joined else []


# ---------------------------------------------------------------------------------------------
# parse_feed

# Bozo exceptions that say nothing is wrong with the XML itself (feedparser's own
# "ThingsNobodyCaresAboutButMe"): an empty but valid feed with one of these is not malformed.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)

_ENTITY_DECL = re.compile(rb"""<!ENTITY\s+([^\s"'%>]+)\s+(?:"([^"]*)"|'([^']*)')""")
_ENTITY_REF = re.compile(rb"&([^\s&;#<>\"']+);")
# Byte order marks and "<?" in the encodings where ASCII markup is not ASCII bytes (XML 1.0
# appendix F), longest first; feedparser detects the same ones.
_WIDE_PREFIXES = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00\x3c", "utf-16-be"),
    (b"\x3c\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)


def parse_feed(
    body: bytes,
    url: str,
    *,
    now: datetime,
    max_entries: int = 1000,
    content_type: str | None = None,
) -> ParsedFeed:
    """Feed bytes (RSS 0.9x/1.0/2.0, Atom; any encoding feedparser detects) -> ParsedFeed.

    `content_type` is the server's Content-Type header; its charset, when it names one, is
    taken into account as RFC 3023 says (a header without a charset is ignored).

    Raises FeedMalformed when the body yields no entry and is broken (bozo), empty, not a feed,
    or an entity bomb. A well-formed feed with no items gives `entries=[]`. Keeps at most
    `max_entries` entries, the first ones in the document; dedupes nothing.
    """
    if max_entries < 1:
        raise ValueError(f"max_entries must be at least 1, not {max_entries}")
    now = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC)
    if not body.strip():
        raise FeedMalformed(url, "empty body")
    expansion = _entity_expansion(body)
    if expansion > _MAX_ENTITY_EXPANSION:
        raise FeedMalformed(url, f"entities would expand to {expansion:,} characters (XML bomb?)")
    try:
        result = feedparser.parse(
            io.BytesIO(body),
            agent="Wirewatch",  # never sent: feedparser opens no connection for a stream
            request_headers={},
            response_headers=_charset_header(content_type),
            resolve_relative_uris=False,
            sanitize_html=True,
        )
    except Exception as crash:  # a body that crashes feedparser is one we cannot read
        raise FeedMalformed(url, _describe(crash, prefix="feedparser failed: ")) from crash
    feed_meta: Mapping[str, Any] = result.get("feed") or {}
    bozo = bool(result.get("bozo"))
    exc = result.get("bozo_exception")
    reason = _describe(exc) if bozo else None
    base = _entry_base(url, _text_of(feed_meta.get("link")))
    entries: list[RawEntry] = []
    for raw in result.get("entries") or []:
        entry = _to_entry(raw, base, now)
        if entry is not None:
            entries.append(entry)
            if len(entries) >= max_entries:
                break
    if not entries:
        version = _text_of(result.get("version"))
        if bozo and not (version and isinstance(exc, _BENIGN_BOZO)):
            raise FeedMalformed(url, f"no entries; {reason}")
        if not version:
            raise FeedMalformed(url, "not an RSS or Atom feed")
    title = _clean_title(feed_meta, "title") or None
    return ParsedFeed(title=title, entries=entries, bozo=bozo, bozo_reason=reason)


def _charset_header(content_type: str | None) -> dict[str, str]:
    if content_type and "charset=" in content_type.lower():
        return {"content-type": content_type}
    return {}


def _to_entry(raw: Mapping[str, Any], base: str, now: datetime) -> RawEntry | None:
    title = _clean_title(raw, "title")
    text = _richest_text(raw)
    guid = _text_of(raw.get("id")).strip() or None
    link = _text_of(raw.get("link")).strip()
    if raw.get("guidislink") and link == guid:
        # feedparser copied a permalink <guid> into the link: trust it only when absolute, as
        # guids like "12345" would otherwise resolve to made-up URLs.
        url = canonical_url(link)
    else:
        url = canonical_url(_join(base, link)) if link else None
    if not (title or text or url):
        return None
    author = " ".join(_text_of(raw.get("author")).split()) or None
    return RawEntry(
        guid=guid,
        url=url,
        title=title or _first_words(text) or _UNTITLED,
        text=text,
        published_at=_published_at(raw, now),
        author=author,
    )


def _clean_title(meta: Mapping[str, Any], key: str) -> str:
    """A one-line clean title from `meta[key]`, HTML or plain as feedparser detected it."""
    value = _text_of(meta.get(key))
    detail = meta.get(f"{key}_detail")
    content_type = _text_of(detail.get("type")) if isinstance(detail, Mapping) else ""
    return " ".join(_clean(value, content_type).split())


def _richest_text(raw: Mapping[str, Any]) -> str:
    """The longest clean text among content[*].value and summary."""
    candidates: list[tuple[str, str]] = []
    contents = raw.get("content")
    if isinstance(contents, list):
        for content in contents:
            if isinstance(content, Mapping):
                candidates.append((_text_of(content.get("value")), _text_of(content.get("type"))))
    summary = _text_of(raw.get("summary"))
    if summary:
        detail = raw.get("summary_detail")
        summary_type = _text_of(detail.get("type")) if isinstance(detail, Mapping) else ""
        candidates.append((summary, summary_type))
    texts = (_clean(value, content_type) for value, content_type in candidates if value)
    return max(texts, key=len, default="")


def _clean(value: str, content_type: str) -> str:
    if not value:
        return ""
    if content_type == "text/plain":
        return _plain_to_text(value)
    return html_to_text(value)


def _first_words(text: str) -> str:
    words = text.split()
    head = " ".join(words[:_TITLE_FALLBACK_WORDS])
    return f"{head}…" if len(words) > _TITLE_FALLBACK_WORDS else head


def _published_at(raw: Mapping[str, Any], now: datetime) -> datetime | None:
    # Read the real keys: FeedParserDict's aliases ("updated" -> "published") warn and mislead.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(raw, key) if isinstance(raw, dict) else raw.get(key)
        moment = _struct_to_datetime(value)
        if moment is not None:
            return min(moment, now)
    return None


def _struct_to_datetime(value: Any) -> datetime | None:
    """feedparser's UTC struct_time -> aware UTC datetime; None when unusable or before 1990."""
    if not isinstance(value, tuple):  # time.struct_time is a tuple
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(tuple(value)), UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return None
    return moment if moment >= _MIN_PUBLISHED_AT else None


def _entry_base(url: str, feed_link: str) -> str:
    """What relative entry links resolve against: the feed's http(s) link, else the feed URL."""
    joined = _join(url, feed_link) if feed_link else ""
    try:
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:
        return url
    return joined if scheme in _DEFAULT_PORTS else url


def _join(base: str, link: str) -> str:
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def _describe(exc: object, prefix: str = "") -> str:
    """A short readable reason for a bozo (or parser) exception."""
    if isinstance(exc, xml.sax.SAXParseException):
        where = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
        reason = f"{exc.getMessage()} at {where}"
    elif isinstance(exc, BaseException):
        reason = str(exc) or type(exc).__name__
    else:
        reason = "feedparser flagged the feed as malformed"
    if prefix:
        reason = f"{prefix}{type(exc).__name__}: {reason}"
    reason = " ".join(reason.split())
    return reason if len(reason) <= _MAX_REASON_CHARS else reason[: _MAX_REASON_CHARS - 1] + "…"


def _entity_expansion(body: bytes) -> int:
    """How many characters the internal entities declared in `body` would expand to, at most.

    Nested references are followed (billion laughs), a reference cycle counts as infinite, and
    every `&name;` in the body is counted, which over-estimates on purpose. 0 when none declared.
    """
    data = _as_ascii_compatible(body)
    if b"<!ENTITY" not in data:
        return 0
    values: dict[bytes, bytes] = {}
    for match in _ENTITY_DECL.finditer(data):
        values.setdefault(match.group(1), match.group(2) or match.group(3) or b"")
    if not values:
        return 0
    sizes: dict[bytes, int] = {}

    def size(name: bytes, seen: frozenset[bytes]) -> int:
        if name in sizes:
            return sizes[name]
        if name in seen:
            return _MAX_ENTITY_EXPANSION + 1
        value = values[name]
        total = len(value)
        for ref in _refs(value):
            if ref in values:
                total += size(ref, seen | {name})
            if total > _MAX_ENTITY_EXPANSION:
                break
        sizes[name] = total
        return total

    expansion = 0
    try:
        for ref in _refs(data):
            if ref in values:
                expansion += size(ref, frozenset())
                if expansion > _MAX_ENTITY_EXPANSION:
                    break
    except RecursionError:  # a chain of ~1000 entities, each naming the next: hostile anyway
        return _MAX_ENTITY_EXPANSION + 1
    return expansion


def _refs(data: bytes) -> Iterator[bytes]:
    return (match.group(1) for match in _ENTITY_REF.finditer(data))


def _as_ascii_compatible(body: bytes) -> bytes:
    """UTF-16/32 and EBCDIC bodies re-encoded as UTF-8 so that byte patterns find markup."""
    head = body[:4]
    codec = next((name for prefix, name in _WIDE_PREFIXES if head.startswith(prefix)), None)
    return body.decode(codec, "replace").encode("utf-8") if codec else body
