"""Check a built Jupyter Book (the HTML folder) for what a reader should never see.

``python -m ilola_lib.pipeline.book_check book/_build/html``

Every content page (``*.html`` under the folder, except ``genindex.html``, ``search.html``,
``py-modindex.html`` and anything under a folder starting with ``_`` or ``.``, such as ``_static/``,
``_sources/`` and ``_images/``) is checked for:

1. raw tables: a markdown table printed as text instead of rendered as a ``<table>``;
2. images: every ``<img>`` points to an existing file and has a real ``alt`` text;
3. titles: no two pages share a ``<title>``;
4. team words: the article text does not say "issue(s)" or "design §".

Each problem is printed on its own line, starting with the page; the exit status is then 1.
With no problem a one-line summary is printed and the exit status is 0; a missing folder or one
without content pages gives exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup, NavigableString
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

NOT_CONTENT = {"genindex.html", "search.html", "py-modindex.html"}
SEPARATOR_LINE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$")
HASH_LIKE = re.compile(r"^[0-9a-f]{16,}$")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
TEAM_WORDS = re.compile(r"\bissues?\b|\bdesign\s*§", re.IGNORECASE)
INVISIBLE = {"script", "style", "template", "noscript"}
LITERAL = {"pre", "code", "textarea"}


def content_pages(root: Path) -> list[Path]:
    """The content pages under ``root``: every ``*.html`` except indexes, search and ``_``/``.`` folders."""
    return sorted(
        page for page in root.rglob("*.html")
        if page.name not in NOT_CONTENT
        and not any(part.startswith(("_", ".")) for part in page.relative_to(root).parent.parts)
    )


def _texts(node, skip: set[str]) -> Iterator[NavigableString]:
    """The text nodes under ``node`` that are not inside a tag named in ``skip`` (nor comments etc.)."""
    for text in node.find_all(string=True):
        if isinstance(text, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        if any(parent.name in skip for parent in text.parents):
            continue
        yield text


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def raw_table_problems(soup: BeautifulSoup) -> list[str]:
    """Markdown tables left as text: a paragraph starting with ``|`` holding at least two more ``|``,
    or any text outside ``<pre>``/``<code>`` with a separator line such as ``|---|:--:|``."""
    problems, flagged = [], set()
    for paragraph in soup.find_all("p"):
        text = paragraph.get_text().strip()
        if text.startswith("|") and text.count("|") >= 3:
            problems.append(f"raw table: paragraph {_short(text)!r}")
            flagged.add(id(paragraph))
    for text in _texts(soup, INVISIBLE | LITERAL):
        if any(id(parent) in flagged for parent in text.parents):
            continue
        for line in text.splitlines():
            if SEPARATOR_LINE.match(line):
                problems.append(f"raw table: separator line {_short(line)!r} in text {_short(text)!r}")
                break
    return problems


def _hash_like(alt: str) -> bool:
    stem = alt.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return bool(HASH_LIKE.match(alt) or HASH_LIKE.match(stem)) or alt.lower().endswith(IMAGE_SUFFIXES)


def image_problems(soup: BeautifulSoup, page: Path, root: Path) -> list[str]:
    """Every ``<img>``: its ``src`` is an existing file (relative to the page, or to ``root`` when it starts
    with ``/``; ``data:`` and http(s) sources are not checked) and its ``alt`` is set and not a hash or file name."""
    problems = []
    for image in soup.find_all("img"):
        src = (image.get("src") or "").strip()
        url = urlsplit(src)
        if not src:
            problems.append("image: <img> without src")
        elif url.scheme in ("data", "http", "https") or src.startswith("//"):
            pass
        else:
            path = unquote(url.path)
            base = root if path.startswith("/") else page.parent
            if not (base / path.lstrip("/")).is_file():
                problems.append(f"image: {src!r} does not exist")
        alt = (image.get("alt") or "").strip()
        if not alt:
            problems.append(f"image: {src!r} has no alt text")
        elif _hash_like(alt):
            problems.append(f"image: {src!r} has a hash or file name as alt text: {_short(alt)!r}")
    return problems


def article(soup: BeautifulSoup):
    """The page's main content: ``<article>``, else ``<main>``, else the body (navigation is outside it)."""
    return soup.find("article") or soup.find("main") or soup.body or soup


def team_word_problems(soup: BeautifulSoup) -> list[str]:
    """Words meant for the team, not the reader, in the visible article text: "issue(s)", "design §"."""
    text = "".join(_texts(article(soup), INVISIBLE))
    return [
        f"team word {match.group()!r}: …{' '.join(text[max(match.start() - 30, 0): match.end() + 30].split())}…"
        for match in TEAM_WORDS.finditer(text)
    ]


def duplicate_title_problems(titles: dict[str, str]) -> list[str]:
    """Pages (name → ``<title>``) sharing a title: one problem per page, naming the other pages."""
    pages_by_title = defaultdict(list)
    for page, title in titles.items():
        if title:
            pages_by_title[title].append(page)
    return [
        f"{page}: title {title!r} is also the title of {', '.join(other for other in pages if other != page)}"
        for title, pages in pages_by_title.items() if len(pages) > 1
        for page in pages
    ]


def check_book(root: Path) -> tuple[list[str], int]:
    """All problems of the book under ``root`` (each line starting with the page) and the number of pages."""
    root = Path(root)
    problems, titles = [], {}
    pages = content_pages(root)
    for page in pages:
        name = page.relative_to(root).as_posix()
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        titles[name] = soup.title.get_text(strip=True) if soup.title else ""
        for problem in raw_table_problems(soup) + image_problems(soup, page, root) + team_word_problems(soup):
            problems.append(f"{name}: {problem}")
    return problems + duplicate_title_problems(titles), len(pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the built book, e.g. book/_build/html")
    args = parser.parse_args(argv)
    if not args.html.is_dir():
        print(f"book_check: {args.html} is not a folder", file=sys.stderr)
        return 2
    problems, count = check_book(args.html)
    if not count:
        print(f"book_check: no content page under {args.html}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"OK: {count} pages in {args.html}: no raw table, broken image, duplicate title or team word")
    return 0


if __name__ == "__main__":
    sys.exit(main())
