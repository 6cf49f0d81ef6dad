"""The reference parts of docs/plugins.md, generated from the code so they cannot drift:

- the hooks, from `arportal.hookspecs` (group, signature, docstring, answer), each with an
  implementation taken from tests/example_plugin or, failing that, a built-in plugin;
- the public API, from `arportal.__all__` (each name's kind, signature and summary).

    python -m tools.plugin_docs          # rewrite the generated parts of docs/plugins.md
    python -m tools.plugin_docs --check  # exit 1 when they are stale

The hand-written text around the `<!-- generated:... -->` markers is kept as it is.
tests/test_docs.py fails while the committed file is stale.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
CORE = ROOT / "core"
EXAMPLE_SOURCES = [ROOT / "tests" / "example_plugin" / "arportal_example" / "plugin.py"]
BUILTIN_PLUGINS = ROOT / "plugins"
GROUP = re.compile(r"^# --- (?P<title>.+?) -+$")
REGEN = "python -m tools.plugin_docs"

ARGUMENTS = {
    "ctx": "the `TenantContext` of the tenant concerned: on portal pages a `PortalContext`, "
    "with `customer`, `locale` and `url()`",
    "invoice": "an invoice row (a dict: `id`, `external_id`, `number`, `issue_date`, "
    "`due_date`, `currency`, `total_minor`, `amount_due_minor`, `status`, ...)",
    "invoices": "a list of invoice rows, asked about at once",
    "customer": "the customer row (`id`, `external_id`, `name`, `email`, `locale`, ...)",
    "customers": "a list of customer rows, asked about at once",
    "previous": "the invoice row before the change, or None for a new invoice",
    "payment": "the payment row",
    "name": "the event's name (`dispute_opened`, `invoice_changed`, ...)",
    "data": "the event's data (plain JSON values)",
}


@dataclass
class Hook:
    name: str
    group: str
    signature: str
    doc: str
    args: list[tuple[str, str]]
    returns: str
    firstresult: bool


def hooks() -> list[Hook]:
    """The hooks in the order and groups of hookspecs.py."""
    from arportal import hookspecs

    source = (CORE / "hookspecs.py").read_text()
    group_at: list[tuple[int, str]] = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = GROUP.match(line)
        if match:
            group_at.append((number, match["title"]))
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("arportal_"):
            continue
        function = getattr(hookspecs, node.name)
        opts = getattr(function, f"{hookspecs.PROJECT}_spec", None)
        if opts is None:
            continue
        group = next((title for line, title in reversed(group_at) if line < node.lineno), "")
        signature = inspect.signature(function)
        args = [(p.name, str(p.annotation)) for p in signature.parameters.values()]
        shown_args = ", ".join(f"{name}: {annotation}" for name, annotation in args)
        returns = str(signature.return_annotation)
        marker = "@hookspec(firstresult=True)" if opts.get("firstresult") else "@hookspec"
        found.append(Hook(
            name=node.name,
            group=group,
            signature=f"{marker}\ndef {node.name}({shown_args}) -> {returns}",
            doc=inspect.getdoc(function) or "",
            args=args,
            returns=returns,
            firstresult=bool(opts.get("firstresult")),
        ))
    return found


# --- examples ------------------------------------------------------------------------------


def implementations(path: Path) -> dict[str, str]:
    """The `@hookimpl` functions of a module (top level or in a class), with decorators."""
    source = path.read_text()
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("arportal_"):
            continue
        if not any("hookimpl" in ast.unparse(d) for d in node.decorator_list):
            continue
        start = min(d.lineno for d in node.decorator_list)
        assert node.end_lineno is not None
        found.setdefault(node.name, textwrap.dedent("\n".join(lines[start - 1:node.end_lineno])))
    return found


def examples() -> dict[str, tuple[str, str]]:
    """`{hook: (file, code)}`: the example plugin's implementation, else the shortest one of
    the built-in plugins."""
    chosen: dict[str, tuple[str, str]] = {}
    for path in EXAMPLE_SOURCES:
        if path.exists():
            for name, code in implementations(path).items():
                chosen.setdefault(name, (str(path.relative_to(ROOT)), code))
    builtin: dict[str, tuple[str, str]] = {}
    for path in sorted(BUILTIN_PLUGINS.glob("*/*.py")):
        for name, code in implementations(path).items():
            shortest = builtin.get(name)
            if shortest is None or len(code) < len(shortest[1]):
                builtin[name] = (str(path.relative_to(ROOT)), code)
    for name, example in builtin.items():
        chosen.setdefault(name, example)
    return chosen


def render_hooks() -> str:
    out: list[str] = []
    found = examples()
    group = None
    for hook in hooks():
        if hook.group != group:
            group = hook.group
            out += [f"### {group}", ""]
        out += [f"#### `{hook.name}`", "", "```python", hook.signature, "```", "", hook.doc, ""]
        if hook.args:
            out.append("Arguments:")
            for name, annotation in hook.args:
                meaning = ARGUMENTS.get(name)
                out.append(f"- `{name}` ({annotation})" + (f": {meaning}" if meaning else ""))
        else:
            out.append("Arguments: none.")
        if hook.firstresult:
            answer = "the first answer that is not None wins; the others are not asked"
        else:
            answer = "the answers of every plugin that is asked are collected (None is left out)"
        out += ["", f"Answer: `{hook.returns}`; {answer}.", ""]
        if hook.name in found:
            file, code = found[hook.name]
            out += [f"Example, from `{file}`:", "", "```python", code, "```", ""]
    return "\n".join(out).rstrip() + "\n"


# --- the public API ------------------------------------------------------------------------


def _imported_from() -> dict[str, str]:
    """Which module `arportal/__init__.py` takes each exported name from."""
    origins = {}
    for node in ast.parse((CORE / "__init__.py").read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                origins[alias.asname or alias.name] = node.module
    return origins


def _assigned(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    if isinstance(node, ast.If):
        return any(_assigned(child, name) for child in node.body + node.orelse)
    return False


def _value_doc(module: str, name: str) -> str:
    """The string right after a module-level assignment of `name` (an attribute docstring)."""
    path = CORE.joinpath(*module.split(".")[1:]).with_suffix(".py")
    if not path.exists():
        return ""
    body = ast.parse(path.read_text()).body
    for node, following in zip(body, body[1:], strict=False):
        if (
            _assigned(node, name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            return inspect.cleandoc(following.value.value)
    return ""


def _summary(doc: str) -> str:
    return " ".join(doc.split("\n\n")[0].split())


def _parameters(obj: Any) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    bare = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(inspect.Signature(bare))


def render_api() -> str:
    import arportal

    origins = _imported_from()
    out = []
    for name in sorted(arportal.__all__, key=lambda n: (n.startswith("_"), n.lower())):
        obj = getattr(arportal, name)
        module = origins.get(name, "arportal")
        if name == "__version__":
            out.append(f"- `__version__` (str): this arportal's version, `{obj}`.")
            continue
        if inspect.isclass(obj):
            kind, doc = "class", inspect.cleandoc(vars(obj).get("__doc__") or "")
        elif inspect.isroutine(obj):
            kind = "async function" if inspect.iscoroutinefunction(obj) else "function"
            doc = inspect.cleandoc(obj.__doc__ or "")
            name = f"{name}{_parameters(obj)}"
        else:
            kind, doc = "value", _value_doc(module, name)
        if doc.startswith(f"{getattr(obj, '__name__', '')}("):
            doc = ""  # a dataclass's generated docstring: its signature, not a description
        summary = _summary(doc)
        out.append(f"- `{name}` ({kind}, from `{module}`)" + (f": {summary}" if summary else ""))
    return "\n".join(out) + "\n"


# --- the document ---------------------------------------------------------------------------


PARTS = {"hooks": render_hooks, "api": render_api}


def generate(document: str) -> str:
    """`document` with each generated part replaced by what the code says now."""
    for part, render in PARTS.items():
        begin, end = f"<!-- generated:{part} -->", f"<!-- end generated:{part} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(document):
            raise ValueError(f"{DOC}: the markers {begin} ... {end} are missing")
        note = f"<!-- Generated by `{REGEN}` from the code; edit the code, not this part. -->"
        replacement = f"{begin}\n{note}\n\n{render()}\n{end}"
        document = pattern.sub(lambda _match, text=replacement: text, document)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plugin_docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    document = DOC.read_text()
    fresh = generate(document)
    if args.check:
        if fresh != document:
            print(f"{DOC.relative_to(ROOT)} is stale: run `{REGEN}`", file=sys.stderr)
            return 1
        return 0
    if fresh != document:
        DOC.write_text(fresh)
        print(f"rewrote the generated parts of {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
