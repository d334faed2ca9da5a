"""Count `Any` in src/trk's annotations, by kind: the README's figure comes from here.

    .venv/bin/python scripts/count_any.py        # a table
    .venv/bin/python scripts/count_any.py --total  # the one number the README states

Kinds: `json` is an `Any` inside a container (`dict[str, Any]`, `list[Any]`: JSON bodies,
MLmodel and YAML documents, third-party payloads); `bare` is a parameter, attribute or return
typed `Any` outright (a third-party object: a numpy array, a model, a boto3 client, or a
value not yet given a type).
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "trk"


def _annotations(tree: ast.AST) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            found.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
    return found


def _count(annotation: ast.expr, kinds: Counter[str]) -> None:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body  # a quoted annotation
    inside = {
        id(n)
        for s in ast.walk(annotation)
        if isinstance(s, ast.Subscript)
        for n in ast.walk(s.slice)
    }
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id == "Any":
            kinds["json" if id(node) in inside else "bare"] += 1


def count() -> dict[str, Counter[str]]:
    """Package (the first part under trk/) -> kind -> how many."""
    out: dict[str, Counter[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        package = path.relative_to(ROOT).parts[0].removesuffix(".py")
        kinds = out.setdefault(package, Counter())
        for annotation in _annotations(ast.parse(path.read_text())):
            _count(annotation, kinds)
    return out


def main() -> None:
    counts = count()
    total = sum(sum(k.values()) for k in counts.values())
    if sys.argv[1:] == ["--total"]:
        print(total)
        return
    print(f"{'package':<14}{'json':>6}{'bare':>6}")
    for package, kinds in sorted(counts.items(), key=lambda kv: -sum(kv[1].values())):
        if kinds:
            print(f"{package:<14}{kinds['json']:>6}{kinds['bare']:>6}")
    json_n = sum(k["json"] for k in counts.values())
    print(f"{'total':<14}{json_n:>6}{total - json_n:>6}")


if __name__ == "__main__":
    main()
