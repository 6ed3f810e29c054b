"""The executed notebooks are dressed for the book: code collapsed, parameter cells removed, seed in the title."""

import copy

import pytest

from ilola_lib.pipeline.notebook_runner import present


def notebook(title="# T2, one seed: inversion"):
    return {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": f"{title}\n\nSome text."},
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "seed = 0", "outputs": []},
        {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "seed = 3", "outputs": []},
        {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": []},
        {"cell_type": "code", "metadata": {"tags": ["remove-input"]}, "source": "glue()", "outputs": []},
        {"cell_type": "markdown", "metadata": {}, "source": "# Not the title"},
    ]}


def tags(nb):
    return [cell["metadata"].get("tags") for cell in nb["cells"]]


def test_parameter_cells_are_removed_and_code_collapsed_unless_the_author_chose():
    presented = present(notebook(), {"seed": 3})
    assert tags(presented) == [None, ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"],
                               ["hide-input"], ["remove-input"], None]


@pytest.mark.parametrize("title, expected", [("# T2, one seed: inversion", "# T2, seed 3: inversion"),
                                             ("# T1 learners", "# T1 learners (seed 3)")])
def test_the_title_names_the_seed(title, expected):
    presented = present(notebook(title), {"seed": 3})
    assert presented["cells"][0]["source"].split("\n")[0] == expected
    assert presented["cells"][-1]["source"] == "# Not the title"


def test_the_title_names_a_variant_section_and_its_seed():
    presented = present(notebook("# T3 inversion"), {"section": "t3_mc", "seed": 2})
    assert presented["cells"][0]["source"].split("\n")[0] == "# T3 inversion (seed 2) (t3_mc)"
    assert present(copy.deepcopy(presented), {"section": "t3_mc", "seed": 2}) == presented


def test_presenting_twice_changes_nothing_and_no_seed_leaves_the_title():
    once = present(notebook("# T1 learners"), {"seed": 3})
    assert present(copy.deepcopy(once), {"seed": 3}) == once
    assert present(notebook(), {})["cells"][0]["source"].startswith("# T2, one seed")


def test_a_seeded_notebook_without_a_title_is_refused():
    untitled = notebook()
    untitled["cells"][0]["source"] = "no heading"
    untitled["cells"].pop()
    with pytest.raises(ValueError, match="title"):
        present(untitled, {"seed": 1})


def test_a_source_stored_as_lines_stays_lines():
    lined = notebook()
    lined["cells"][0]["source"] = ["# T2, one seed: inversion\n", "\n", "Some text."]
    assert present(lined, {"seed": 0})["cells"][0]["source"] == ["# T2, seed 0: inversion\n", "\n", "Some text."]
