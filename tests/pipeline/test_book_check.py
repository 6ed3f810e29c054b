"""The built-book checker (ilola_lib.pipeline.book_check) on tiny synthetic HTML folders: each check flags
its bad case and passes the good one, and the command line returns 1 with problems and 0 without."""

from pathlib import Path

from bs4 import BeautifulSoup

from ilola_lib.pipeline.book_check import (
    content_pages,
    duplicate_title_problems,
    image_problems,
    main,
    raw_table_problems,
    team_word_problems,
)

GOOD_TABLE = "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
PNG = b"\x89PNG\r\n\x1a\n"


def page(body: str, title: str = "A page", nav: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
            f"<nav>{nav}</nav><main><article>{body}</article></main></body></html>")


def soup(body: str, **kwargs) -> BeautifulSoup:
    return BeautifulSoup(page(body, **kwargs), "html.parser")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_raw_pipe_table_paragraph_is_flagged():
    problems = raw_table_problems(soup("<p>| a | b |\n| 1 | 2 |</p>"))
    assert len(problems) == 1 and "raw table" in problems[0]


def test_a_separator_line_outside_pre_is_flagged():
    problems = raw_table_problems(soup("<div>a | b\n|---|---|\n1 | 2</div>"))
    assert len(problems) == 1 and "|---|---|" in problems[0]
    assert raw_table_problems(soup("<div>x\n:--- | ---:\n</div>"))


def test_a_raw_table_paragraph_is_reported_once():
    assert len(raw_table_problems(soup("<p>| a | b |\n|---|---|\n| 1 | 2 |</p>"))) == 1


def test_real_tables_and_pipes_in_pre_or_code_pass():
    body = (GOOD_TABLE + "<pre>| a | b |\n|---|---|\n| 1 | 2 |</pre>"
            "<p>Use <code>|---|---|</code> for a rule; a | b is fine, and so is a horizontal rule:</p><hr/>"
            "<p>---</p>")
    assert raw_table_problems(soup(body)) == []


def test_a_missing_image_file_is_flagged(tmp_path):
    html = write(tmp_path / "sub" / "p.html", "")
    problems = image_problems(soup('<img src="../_images/missing.png" alt="A plot"/>'), html, tmp_path)
    assert len(problems) == 1 and "missing.png" in problems[0] and "does not exist" in problems[0]


def test_hash_file_name_and_empty_alt_texts_are_flagged(tmp_path):
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "f.png").write_bytes(PNG)
    html = tmp_path / "p.html"
    digest = "ed4ad67abf8d5f2d4f44b6816349493b0ac810df4747ac166e428fb7c8b5569a"
    for alt in (digest, f"_images/{digest}.png", "plot.png", "", "  "):
        problems = image_problems(soup(f'<img src="_images/f.png" alt="{alt}"/>'), html, tmp_path)
        assert len(problems) == 1 and "alt" in problems[0], alt
    assert image_problems(soup('<img src="_images/f.png"/>'), html, tmp_path)


def test_existing_images_with_alt_and_remote_or_inline_sources_pass(tmp_path):
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "f.png").write_bytes(PNG)
    html = write(tmp_path / "t1" / "p.html", "")
    body = ('<img src="../_images/f.png" alt="Returns of the learners per update"/>'
            '<img src="/_images/f.png" alt="The same plot"/>'
            '<img src="data:image/png;base64,AAAA" alt="Inline plot"/>'
            '<img src="https://example.org/x.png" alt="Remote logo"/>')
    assert image_problems(soup(body), html, tmp_path) == []


def test_duplicate_titles_name_both_pages():
    problems = duplicate_title_problems({"a.html": "Seed", "b.html": "Seed", "c.html": "Summary"})
    assert len(problems) == 2
    assert problems[0].startswith("a.html:") and "b.html" in problems[0]
    assert problems[1].startswith("b.html:") and "a.html" in problems[1]
    assert duplicate_title_problems({"a.html": "One", "b.html": "Two"}) == []


def test_team_words_in_the_article_are_flagged():
    for body in ("<p>The Issue asks for 0.8.</p>", "<p>See the open issues.</p>",
                 "<p>the issue’s budget</p>", "<h3>MA-LfL (design <strong>§5.1</strong>)</h3>"):
        assert len(team_word_problems(soup(body))) == 1, body


def test_team_words_only_count_as_whole_words_in_the_article():
    body = "<p>Tissues, issued and reissue are other words; the design is simple.</p><script>issue</script>"
    assert team_word_problems(soup(body, nav="<a>Open issues</a>")) == []


def test_content_pages_skip_indexes_search_and_underscore_folders(tmp_path):
    for name in ("index.html", "t1/seed_0.html", "genindex.html", "search.html",
                 "_static/x.html", "_sources/y.html", "_images/z.html"):
        write(tmp_path / name, page(""))
    assert [p.relative_to(tmp_path).as_posix() for p in content_pages(tmp_path)] == ["index.html", "t1/seed_0.html"]


def good_book(root: Path) -> Path:
    (root / "_images").mkdir(parents=True)
    (root / "_images" / "f.png").write_bytes(PNG)
    write(root / "index.html", page(GOOD_TABLE + '<img src="_images/f.png" alt="A plot"/>', title="Home"))
    write(root / "t1" / "seed_0.html", page("<pre>|---|---|</pre>", title="T1, seed 0"))
    write(root / "genindex.html", page("<p>| a | b | c |</p>", title="Home"))
    return root


def test_main_returns_0_and_prints_one_ok_line_for_a_good_book(tmp_path, capsys):
    assert main([str(good_book(tmp_path))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("OK: 2 pages")


def test_main_returns_1_and_prints_one_line_per_problem_naming_the_page(tmp_path, capsys):
    root = good_book(tmp_path)
    write(root / "t1" / "seed_1.html", page("<p>| a | b |\n| 1 | 2 |</p><p>the issue</p>"
                                            '<img src="../_images/gone.png" alt="gone.png"/>', title="T1, seed 0"))
    assert main([str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6
    assert sum(line.startswith("t1/seed_1.html: ") for line in out) == 5
    assert sum(line.startswith("t1/seed_0.html: ") for line in out) == 1


def test_main_returns_2_for_a_missing_folder(tmp_path):
    assert main([str(tmp_path / "nope")]) == 2

