"""Library code leaves matplotlib's backend to the user: a notebook keeps its inline figures."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "monai_afpe"


def test_no_module_of_the_package_switches_the_matplotlib_backend():
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = node.func
                if target.attr in ("use", "switch_backend") and isinstance(target.value, ast.Name):
                    if target.value.id in ("matplotlib", "plt", "pyplot"):
                        calls.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert calls == []
