"""html_to_text and canonical_url rule by rule: markup to paragraphs, robustness on broken
and random markup, and URLs made canonical (tracking parameters dropped).
"""

from __future__ import annotations

import random

import pytest

from index.fetch.parse import canonical_url, html_to_text

# ---------------------------------------------------------------------------------------------
# html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # entities
        ("&amp; &#8217; &eacute; &#x2014; &lt;b&gt;", "& ’ é — <b>"),
        ("<p>caf&eacute; &amp; bar</p>", "café & bar"),
        ("AT&amp;T and Tom &amp; Jerry", "AT&T and Tom & Jerry"),
        ("Tom & Jerry; a < b, x<3", "Tom & Jerry; a < b, x<3"),
        # removed elements (their tail stays)
        ("<p>a<script>evil()</script>b</p>", "ab"),
        ("<style>p { color: red }</style>text", "text"),
        ("<noscript>Enable JS</noscript>Story", "Story"),
        ("before<iframe src='x'>fallback</iframe> after", "before after"),
        ("<object data='x'><param name='a'>obj</object>kept", "kept"),
        # blocks become paragraphs
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<div>A<div>B</div>C</div>", "A\n\nB\n\nC"),
        ("line one<br>line two<br/>line three", "line one\n\nline two\n\nline three"),
        ("<ul><li>first</li><li>second</li></ul>", "first\n\nsecond"),
        ("<h1>Head</h1>body<h6>small</h6>", "Head\n\nbody\n\nsmall"),
        ("said:<blockquote>quoted</blockquote>then", "said:\n\nquoted\n\nthen"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>", "a b\n\nc"),
        ("<section><article><header>H</header>Body</article></section>", "H\n\nBody"),
        # inline elements join without spurious spaces
        ("<b>Al</b>-Qaim", "Al-Qaim"),
        ("<p>Deir ez-<em>Zor</em>, <a href='/x'>Raqqa</a>.</p>", "Deir ez-Zor, Raqqa."),
        ("foo<span>bar</span>", "foobar"),
        ("<em>a</em> <em>b</em>", "a b"),
        # whitespace
        ("<p>  a \n\t b  </p>\n\n<p>\n c</p>", "a b\n\nc"),
        ("a&nbsp;&nbsp;b", "a b"),
        ("<pre>x\n\n   y</pre>", "x y"),
        # no empty paragraphs, alt text dropped
        ("<p></p><p> </p><div><br></div><p>x</p><br><br>", "x"),
        ('<p>Before <img src="a.jpg" alt="ALT TEXT"> after</p>', "Before after"),
        ('<figure><img alt="photo"><figcaption>Caption</figcaption></figure>', "Caption"),
        # document wrappers, comments, CDATA
        ("<html><head><title>Page</title></head><body>B</body></html>", "B"),
        ("<p>a<!-- hidden -->b</p>", "ab"),
        ("<![CDATA[<p>inside</p>]]>", "inside"),
        ('<?xml version="1.0" encoding="utf-8"?><p>x</p>', "x"),
        # plain text: paragraphs on blank lines, single newlines collapse
        ("First para\nstill first.\n\n  Second  para.", "First para still first.\n\nSecond para."),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ("   \n ", ""),
        ("<!-- only a comment -->", ""),
        ("</p></div>", ""),
        ("<p>unclosed <b>bold <i>both", "unclosed bold both"),
        ("<<<>>>", "<<<>>>"),
        ("a\x00b\x07c", "abc"),
        ("<div>" * 5000 + "deep" + "</div>" * 5000, "deep"),
        ("<b>" * 100_000 + "x", "x"),
        ("&#xD800; &#99999999;", "\ufffd \ufffd"),
    ],
    ids=[
        "empty",
        "blank",
        "comment",
        "closers",
        "unclosed",
        "angles",
        "controls",
        "deep",
        "deeper",
        "bad-refs",
    ],
)
def test_html_to_text_is_robust(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_never_raises_on_random_markup() -> None:
    rng = random.Random(20240601)
    alphabet = list("<>/&;#!-[]\"'= \n\tabpdivscriptbr0123456789\x00\ud800é") + [
        "<p>", "</p>", "<br>", "<script>", "</script>", "&amp;", "&#", "<![CDATA[", "]]>", "<!--",
    ]  # fmt: skip
    for _ in range(1500):
        html = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        text = html_to_text(html)
        assert isinstance(text, str)
        assert "\n\n\n" not in text
        assert all(p and p == " ".join(p.split()) for p in text.split("\n\n") if text)


# ---------------------------------------------------------------------------------------------
# canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        # http(s) only
        ("ftp://example.com/x", None),
        ("mailto:desk@example.com", None),
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        ("/relative/path", None),
        ("//example.com/protocol-relative", None),
        ("https://", None),
        ("http:///path-only", None),
        # scheme and host lower-cased, path kept as written, whitespace stripped
        ("  HTTPS://Example.COM/Path/To?Q=A  ", "https://example.com/Path/To?Q=A"),
        # default ports
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:notaport/", None),
        ("http://example.com:99999/", None),
        # fragment dropped
        ("https://example.com/a#section-2", "https://example.com/a"),
        # empty path
        ("https://example.com", "https://example.com/"),
        ("https://example.com?x=1", "https://example.com/?x=1"),
        # tracking parameters dropped, the rest kept in order and as encoded
        (
            "https://e.com/a?utm_source=x&id=1&UTM_Campaign=y&fbclid=z&b=2&Utm_Medium=m",
            "https://e.com/a?id=1&b=2",
        ),
        (
            "https://e.com/?b=2&a=1&q=caf%C3%A9+x&empty=",
            "https://e.com/?b=2&a=1&q=caf%C3%A9+x&empty=",
        ),
        ("https://e.com/?utm_source=a&gclid=b", "https://e.com/"),
        ("https://e.com/?flag&&utm_term=x&", "https://e.com/?flag"),
        ("https://e.com/?utm%5Fsource=x&k=v", "https://e.com/?k=v"),
        # IDN kept as given (lower-cased); punycode untouched
        ("https://Bücher.Example/x", "https://bücher.example/x"),
        ("https://XN--bcher-kva.example/", "https://xn--bcher-kva.example/"),
        # IPv6, userinfo
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("http://[2001:DB8::1]:8080/", "http://[2001:db8::1]:8080/"),
        ("http://[::1", None),
        ("https://user:pw@Example.com:443/", "https://user:pw@example.com/"),
    ],
)
def test_canonical_url(url: str | None, canonical: str | None) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "param",
    ["utm_content", "UTM_TERM", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
     "yclid", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "cmpid", "at_medium", "at_campaign", "ocid",
     "xtor", "wt_mc", "icid"],
)  # fmt: skip
def test_canonical_url_drops_each_tracking_param(param: str) -> None:
    assert canonical_url(f"https://e.com/a?id=7&{param}=abc") == "https://e.com/a?id=7"
