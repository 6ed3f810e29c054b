"""The committed book builds without a warning and passes the reader checks (tables, images, titles, words)."""

import shutil
import subprocess
import sys
from pathlib import Path

from ilola_lib.pipeline.book_check import check_book

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_book_builds_cleanly_and_reads_well(tmp_path):
    book = tmp_path / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build"))
    built = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(book), "--warningiserror",
                            "--quiet"], capture_output=True, text=True)
    assert built.returncode == 0, f"jupyter-book build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    problems, pages = check_book(book / "_build" / "html")
    assert pages > 20 and problems == []
