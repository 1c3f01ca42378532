"""The README's input reference is generated from the data dictionary and must not drift."""

from pathlib import Path

from planner.output.docs import END, START, input_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_input_reference_is_current():
    text = README.read_text()
    section = text.split(START, 1)[1].split(END, 1)[0]
    assert section.strip() == input_reference().strip(), "run: python -m planner.output.docs --update"


def test_readme_starts_with_the_two_commands():
    head = README.read_text()[:600]
    assert "pip install -e . && planner solve" in head
    assert "pip install -e '.[test]' && pytest" in head


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && pytest" in ci
