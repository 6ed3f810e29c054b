"""Source notebooks are thin, parameterized and stripped (executed copies are pipeline outputs)."""

import json
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
