"""The package's layers by audience: imports go downwards only.

_checks, data  <-  engine  <-  functional  <-  reference, gradcheck  <-  nn  <-  teach
(the engine takes a validated Geometry and imports nothing above it; nothing
in functional imports nn or teach; the kernels never import the teaching aids)."""
import ast
import pathlib

import cnnlab

ROOT = pathlib.Path(cnnlab.__file__).parent
ORDER = ["_checks", "data", "engine", "functional", "reference", "gradcheck", "nn", "teach", "__main__"]


def imported_parts(path):
    """The first cnnlab sub-package or module each import in `path` refers to."""
    package = path.relative_to(ROOT).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            target = [*base, *(node.module.split(".") if node.module else [])]
            names = [a.name for a in node.names]
            yield from ([target[0]] if target else names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if module and module.split(".")[0] == "cnnlab" and len(module.split(".")) > 1:
                yield module.split(".")[1]


def layer_of(path):
    part = path.relative_to(ROOT).parts[0].removesuffix(".py")
    return part if part in ORDER else None


def test_imports_only_go_down():
    bad = []
    for path in ROOT.rglob("*.py"):
        me = layer_of(path)
        if me is None:
            continue
        for part in imported_parts(path):
            if part in ORDER and ORDER.index(part) > ORDER.index(me):
                bad.append(f"{path.relative_to(ROOT)} imports {part}")
    assert not bad, bad


def test_the_static_site_builder_is_not_installed():
    assert not (ROOT / "site.py").exists()  # it needs nbformat/nbconvert: it lives in tools/
