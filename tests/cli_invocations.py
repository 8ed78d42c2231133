"""The `actbench ...` command lines of a shell script or a markdown page, checked by the
CLI's own parser: a command or option that stops existing fails the test that shows it."""

from __future__ import annotations

import re
import shlex

import typer.main

from actbench.cli import app

STOP = ("|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "<")


def all_options() -> set[str]:
    """Every option name of every actbench command and subcommand."""
    found: set[str] = set()
    for cmd in commands().values():
        for c in [cmd, *getattr(cmd, "commands", {}).values()]:
            found |= {o for p in c.params for o in p.opts + p.secondary_opts}
    return found


def commands() -> dict:
    return typer.main.get_command(app).commands  # type: ignore[attr-defined]


def invocations(script: str) -> list[list[str]]:
    """Every `actbench ...` in a shell script, each cut at a redirection, pipe or `;`.
    `${{ }}` expressions become a placeholder word; commands inside quoted strings
    (`parallel '... actbench run ...'`) are found too."""
    script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script)
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        if line.strip().startswith("#"):
            continue
        found += _in_tokens(shlex.split(line, comments=True))
    return found


def _in_tokens(tokens: list[str]) -> list[list[str]]:
    found = []
    for i, tok in enumerate(tokens):
        if tok == "actbench" or tok.endswith("/actbench"):
            cmd = []
            for t in tokens[i + 1 :]:
                if t in STOP or t.startswith((">", "2>")):
                    break
                cmd.append(t)
            found.append(cmd)
        elif " " in tok and "actbench" in tok:  # a quoted command line
            found += _in_tokens(shlex.split(tok))
    return found


def check(argv: list[str], where: str, complete: bool = True) -> str:
    """Parse argv as actbench would (nothing runs); the (sub)command's name. Not complete
    (prose quoting a fragment such as `actbench compare --format markdown`): only the
    command and the options named must exist."""
    assert argv, f"{where}: bare `actbench`"
    cmds = commands()
    name, args = argv[0], argv[1:]
    assert name in cmds, f"{where}: `actbench {name}` is not a command ({sorted(cmds)})"
    cmd = cmds[name]
    if hasattr(cmd, "commands") and args and args[0] in cmd.commands:  # a group: `datasets fetch`
        name, cmd, args = f"{name} {args[0]}", cmd.commands[args[0]], args[1:]
    if not complete:
        known = {o for p in cmd.params for o in p.opts + p.secondary_opts if o.startswith("-")}
        unknown = [a.split("=")[0] for a in args if a.startswith("-") and a.split("=")[0] not in known]
        assert not unknown, f"{where}: `actbench {name}` has no option {unknown} ({sorted(known)})"
        return name
    try:
        cmd.make_context(name, list(args))
    except Exception as e:  # typer's (vendored click's) UsageError: unknown option, missing argument
        why = e.format_message() if hasattr(e, "format_message") else repr(e)
        raise AssertionError(f"{where}: `actbench {' '.join(argv)}`: {why}") from e
    return name
