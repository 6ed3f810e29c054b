"""Source notebooks are thin, parameterized and stripped (executed copies are pipeline outputs)."""

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_parameters_cell_and_no_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code"), f"{path.name} has outputs"
    longest = max(len(logic_lines(c["source"])) for c in cells if c["cell_type"] == "code")
    assert longest <= 15, f"{path.name} has a code cell of {longest} lines of logic: it belongs in ilola_lib"


def logic_lines(source) -> list[str]:
    text = source if isinstance(source, str) else "".join(source)
    return [line for line in text.splitlines()
            if line.strip() and not line.startswith(("import ", "from ")) and not line.strip().startswith("#")]


# What a markdown cell may say with digits without taking the number from the results: names (T1, KL(1a),
# simple_spread_v3, mpe2, Box2D, agent 0), the confidence level, and the held-out stride of the protocol.
# Definitional constants (the 0 and 1 of a normalisation) are written as math, which the check skips.
EXEMPT_DIGIT_PATTERNS = (
    r"\bT[123]\b", r"\b(?:KL|EF)\((?:1a|1b|0|rand)\)", r"\b95%", r"_v\d+\b", r"\bN=3\b", r"\b[Ss]tage [AB]\b",
    r"(?i)\bevery 4th\b", r"\bmpe2\b", r"\bBox2D\b", r"\b[Aa]gent [01]\b",
)


def unglued_numbers(markdown: str) -> list[str]:
    """The digit-bearing words of a markdown cell that are neither glued, nor in math or code, nor exempt."""
    text = re.sub(r"\{glue:[a-z]+\}`[^`]*`", " ", markdown)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    for pattern in EXEMPT_DIGIT_PATTERNS:
        text = re.sub(pattern, " ", text)
    return re.findall(r"\S*\d\S*", text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_numbers_in_prose_are_glued_from_the_results(path):
    cells = json.loads(path.read_text())["cells"]
    found = [word for cell in cells if cell["cell_type"] == "markdown"
             for word in unglued_numbers("".join(cell["source"]))]
    assert not found, f"{path.name}: numbers typed into markdown (glue them from the results): {found}"


def test_the_number_check_sees_typed_numbers_and_passes_glued_ones():
    assert unglued_numbers("the cosine is 0.98 over 5 seeds") == ["0.98", "5"]
    assert unglued_numbers("the cosine is {glue:text}`t2_cos:.2f` in T2, KL(1b) vs KL(0), $k \\ge 3$") == []


def displays_more_than_a_figure(source: str) -> bool:
    """A cell that prints, or displays its last expression, besides its figure (the caption would label both)."""
    statements = ast.parse(source).body
    prints = any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
                 for node in ast.walk(ast.Module(body=statements, type_ignores=[])))
    last = statements[-1] if statements else None
    shown = isinstance(last, ast.Expr) and not ast.unparse(last).startswith(("plt.", "save_figure"))
    return prints or shown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_captioned_figure_cell_displays_only_its_figure(path):
    cells = json.loads(path.read_text())["cells"]
    offending = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"
                 and "figure" in cell.get("metadata", {}).get("mystnb", {})
                 and displays_more_than_a_figure("".join(cell["source"]))]
    assert not offending, f"{path.name}: cells {offending} show a table under the figure's caption: split them"


def test_the_caption_check_sees_a_table_under_a_figure():
    assert displays_more_than_a_figure("fig = f()\nplt.show()\nMarkdown(table)")
    assert displays_more_than_a_figure("plt.show()\nprint(value)")
    assert not displays_more_than_a_figure("fig = f()\nsave_figure(fig, p)\nplt.show()\nvalue = g()")
