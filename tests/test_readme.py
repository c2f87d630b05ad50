"""The README's first example runs as written."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_autograd_example_runs(capsys):
    blocks = _python_blocks()
    assert blocks, "README has no python example"
    first = blocks[0]
    assert "backward()" in first
    exec(compile(first, "README.md", "exec"), {})
    out = capsys.readouterr().out.split("\n")
    assert out[2].strip() == "True"  # the gradcheck line


def test_readme_names_both_commands():
    text = README.read_text()
    assert "bash scripts/train.sh" in text
    assert "bash scripts/test.sh" in text
