"""The longest functions and modules of a source tree, as Markdown tables (issue 17's measure).

    python scripts/longest.py [ROOT] [N]      # default: src 15

A function's length is its lines from `def` to its last line, nested functions counted in their
parent and listed on their own too; a module's is its line count.
"""

import ast
import sys
from pathlib import Path


def functions(tree: ast.AST, prefix: str = "") -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(((node.end_lineno or node.lineno) - node.lineno + 1, prefix + node.name))
            found += functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            found += functions(node, f"{prefix}{node.name}.")
    return found


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    funcs, modules = [], []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        modules.append((len(text.splitlines()), str(path)))
        funcs += [(n, name, str(path)) for n, name in functions(ast.parse(text))]
    funcs.sort(reverse=True)
    modules.sort(reverse=True)
    print("| lines | function | file |\n|---:|---|---|")
    for n, name, path in funcs[:top]:
        print(f"| {n} | `{name}` | {path} |")
    print("\n| lines | module |\n|---:|---|")
    for n, path in modules[:top]:
        print(f"| {n} | {path} |")
    over_50 = sum(n > 50 for n, _, _ in funcs)
    over_300 = sum(n > 300 for n, _ in modules)
    print(
        f"\nfunctions over 50 lines: {over_50}; modules over 300 lines: {over_300}; "
        f"modules: {len(modules)}"
    )


if __name__ == "__main__":
    main()
