"""An HTML page's status is read from its marked tags alone, with the answer html.parser gives for the whole page.

``store/status.py`` skips html.parser for a page that can state no status and feeds it
only the tags that can when the page is plain markup; these pages are built to make the
two disagree (quoted ``>``, single quotes, upper case, entities, comments, scripts,
titles, tags cut short) and the answer must be the whole page's every time.
"""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from pipenv_sync_ext.store import status
from pipenv_sync_ext.store.status import _StatusParser, parse_page

DIGESTS = ["a" * 64, "b" * 64, "c" * 64]


def _whole(body: bytes) -> tuple[dict[str, str], str, str | None]:
    parser = _StatusParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    reason = None if parser.reason is None else status._said(parser.reason)
    return {d: status._said(r) for d, r in parser.files.items()}, status._said(parser.status).lower(), reason


def _read(body: bytes) -> tuple[dict[str, str], str, str | None]:
    found = parse_page(body, "text/html", project="p", index="https://i/simple")
    return dict(found.files), found.status, found.reason


def _quote(value: str, style: str) -> str:
    if style == "double":
        return '"' + value.replace('"', "&quot;") + '"'
    if style == "single":
        return "'" + value.replace("'", "&#39;") + "'"
    return html.escape(value, quote=True).replace(" ", "&#32;").replace(">", "&gt;") or "x"


_text = st.text(alphabet="ab <>&;#'\"=/-:yYK", max_size=12)
_style = st.sampled_from(["double", "single", "bare"])


@st.composite
def _anchor(draw: st.DrawFn) -> str:
    tag = draw(st.sampled_from(["a", "A"]))
    digest = draw(st.sampled_from(DIGESTS))
    attrs = [f"href={_quote(f'https://f/x.whl#sha256={digest}', draw(_style))}"]
    if draw(st.booleans()):
        attrs.append(f"data-requires-python={_quote(draw(_text), draw(_style))}")
    yank = draw(st.sampled_from(["none", "bare", "empty", "reason"]))
    name = draw(st.sampled_from(["data-yanked", "DATA-YANKED", "Data-Yanked"]))
    if yank == "bare":
        attrs.append(name)
    elif yank == "empty":
        attrs.append(f"{name}=''")
    elif yank == "reason":
        attrs.append(f"{name}={_quote(draw(_text), draw(_style))}")
    draw(st.randoms()).shuffle(attrs)
    return f"<{tag} {' '.join(attrs)}>x.whl</{tag}><br/>"


@st.composite
def _meta(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["pypi:project-status", "pypi&colon;project-status", "pypi&#58;project-status"]))
    kind = draw(st.sampled_from(["", "-reason"]))
    value = draw(st.sampled_from(["quarantined", "archived", "Deprecated", "active"]) | _text)
    return f'<meta name="{name}{kind}" content={_quote(value, draw(_style))}>'


_noise = st.sampled_from(
    [
        "<!-- <a href='https://f/y.whl#sha256=" + DIGESTS[0] + "' data-yanked> -->",
        "<script>var s = '<a data-yanked>';</script>",
        "<title>Links for p</title>",
        "<title>Links <a data-yanked> p</title>",
        "<textarea><a href=x data-yanked></textarea>",
        "<![CDATA[ <a data-yanked> ]]>",
        "<?pi data-yanked ?>",
        "<h1>Links for p</h1>",
        "<a href=unterminated data-yanked",
        "text with > and < signs",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_anchor() | _meta() | _noise, max_size=8))
def test_the_marked_tags_alone_give_the_whole_page_s_answer(parts: list[str]) -> None:
    body = ("<!DOCTYPE html>\n<html><body>\n" + "\n".join(parts) + "\n</body></html>").encode()
    assert _read(body) == _whole(body)


def test_a_page_that_can_state_nothing_is_not_parsed_and_a_plain_one_only_in_its_marked_tags() -> None:
    plain = b"".join(
        b'<a href="https://f/x-%d.whl#sha256=%s">x</a><br/>\n' % (i, DIGESTS[i % 3].encode()) for i in range(500)
    )
    assert status._html_to_read(b"<html><title>Links for p</title>" + plain + b"</html>") == b""
    yanked = b'<a href="https://f/y.whl#sha256=' + DIGESTS[1].encode() + b'" data-yanked="bad &gt; build">'
    page = b"<html><title>Links for p</title>" + plain + yanked + b"y</a>" + plain + b"</html>"
    assert status._html_to_read(page) == yanked
    assert _read(page) == ({DIGESTS[1]: "bad > build"}, "active", None)
    commented = page.replace(b"<title>", b"<!-- x --><title>")
    assert status._html_to_read(commented) == commented  # parsed whole, as html.parser must
