"""The public API's snapshot: `arportal.__all__` and every hook's signature, as last recorded
in tests/api_snapshot.json. tests/core/test_public_api.py compares it with the code.

Adding a name or a hook (or a hook argument: implementations take any subset) never breaks a
plugin, so it never fails the check; record it with

    python -m tools.api_snapshot --update

Removing a name or a hook, or changing a hook (an argument removed or retyped, its answer's
type, firstresult), breaks plugins: it passes only with a version note, i.e. a new
`arportal.__version__` whose section in CHANGELOG.md names it in backticks. `--update`
refuses to drop it from the snapshot otherwise.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "api_snapshot.json"
CHANGELOG = ROOT / "CHANGELOG.md"
REFRESH = "python -m tools.api_snapshot --update"


def hook_signatures() -> dict[str, dict[str, Any]]:
    """Every hook of `arportal.hookspecs`: its arguments with their annotations (as written),
    the annotation of its answer, and whether the first answer wins."""
    from arportal import hookspecs

    hooks = {}
    for name, function in vars(hookspecs).items():
        opts = getattr(function, f"{hookspecs.PROJECT}_spec", None)
        if not name.startswith("arportal_") or opts is None:
            continue
        signature = inspect.signature(function)
        hooks[name] = {
            "args": {p.name: str(p.annotation) for p in signature.parameters.values()},
            "returns": str(signature.return_annotation),
            "firstresult": bool(opts.get("firstresult")),
        }
    return hooks


def current() -> dict[str, Any]:
    import arportal

    return {
        "version": arportal.__version__,
        "exports": sorted(arportal.__all__),
        "hooks": hook_signatures(),
    }


def breaking_changes(recorded: dict[str, Any], now: dict[str, Any]) -> dict[str, str]:
    """What plugins written against `recorded` could no longer do: `{name: what changed}`."""
    changes = {
        name: "removed from arportal's exports"
        for name in recorded["exports"] if name not in now["exports"]
    }
    for name, old in recorded["hooks"].items():
        new = now["hooks"].get(name)
        if new is None:
            changes[name] = "hook removed"
            continue
        what = [
            f"argument {arg!r} " + ("removed" if arg not in new["args"] else
                                    f"retyped {annotation} -> {new['args'][arg]}")
            for arg, annotation in old["args"].items()
            if new["args"].get(arg) != annotation
        ]
        if new["returns"] != old["returns"]:
            what.append(f"answer retyped {old['returns']} -> {new['returns']}")
        if new["firstresult"] != old["firstresult"]:
            what.append(f"firstresult {old['firstresult']} -> {new['firstresult']}")
        if what:
            changes[name] = "hook changed: " + "; ".join(what)
    return changes


def changelog_section(changelog: str, version: str) -> str:
    """The text under `## <version>` (up to the next `## ` heading), or ""."""
    match = re.search(
        rf"^## +v?{re.escape(version)}\b.*?$(.*?)(?=^## |\Z)", changelog, re.M | re.S
    )
    return match.group(1) if match else ""


def unexplained(
    recorded: dict[str, Any], now: dict[str, Any], changelog: str
) -> list[str]:
    """The breaking changes without a version note, each as a message that says what to do."""
    changes = breaking_changes(recorded, now)
    newer = Version(now["version"]) > Version(recorded["version"])
    notes = changelog_section(changelog, now["version"]) if newer else ""
    return [
        f"arportal.{name}: {what} since {recorded['version']} without a version note. That "
        f"breaks plugins: undo it, or raise arportal.__version__ above {recorded['version']} "
        f"and name `{name}` in its section of CHANGELOG.md, then run `{REFRESH}`."
        for name, what in sorted(changes.items())
        if f"`{name}`" not in notes
    ]


def additions(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Names and hooks the snapshot does not record yet (never a failure)."""
    return sorted(
        {name for name in now["exports"] if name not in recorded["exports"]}
        | {name for name, hook in now["hooks"].items() if recorded["hooks"].get(name) != hook}
    )


def dumps(snapshot: dict[str, Any]) -> str:
    """One name per line, sorted, so parallel additions merge without conflicts."""
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def load(path: Path | None = None) -> dict[str, Any]:
    return json.loads((path or SNAPSHOT).read_text())  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.api_snapshot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="record the current API")
    args = parser.parse_args(argv)
    now = current()
    recorded = load() if SNAPSHOT.exists() else None
    changelog = CHANGELOG.read_text() if CHANGELOG.exists() else ""
    problems = unexplained(recorded, now, changelog) if recorded else []
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    added = additions(recorded, now) if recorded else sorted(now["exports"])
    if not args.update:
        print("the public API keeps everything the snapshot records"
              + (f"; not recorded yet: {', '.join(added)}" if added else ""))
        return 0
    SNAPSHOT.write_text(dumps(now))
    print(f"recorded {SNAPSHOT}" + (f": {', '.join(added)}" if added else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
