"""The README stays true: its Python examples run, and its two commands are where .ci/run looks for them."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def fenced_block(marker: str) -> str:
    section = re.search(rf"<!-- {marker} -->\n```\n(.*?)\n```\n<!-- /{marker} -->", README, re.S)
    assert section, f"README.md has no command between <!-- {marker} --> markers"
    return section.group(1)


def test_python_examples_run():
    first, *others = re.findall(r"```python\n(.*?)```", README, re.S)
    namespace = {}
    exec(compile(first, "README.md", "exec"), namespace)
    assert namespace["logits"].shape == (2, 6)
    assert namespace["logits_larger"].shape == (1, 6)
    for example in others:  # later examples build on the first one's imports
        exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["net"].rotary_positions.mode == "physical" and namespace["logits"].shape == (2, 6)
    assert type(namespace["train"]).__name__ == "Compose"


def test_commands_install_the_cpu_torch_build_first():
    for marker in ("main-command", "test-command"):
        command = fenced_block(marker)
        assert command.index("pip install torch==2.13.0") < command.index("pip install -e")
    assert "pytest" in fenced_block("test-command")
