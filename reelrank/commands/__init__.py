"""Subcommand modules. Each registers itself with `reelrank.cli.command` on import and imports its
heavy dependencies inside its handler."""

from reelrank.commands import (  # noqa: F401
    bench,
    demo,
    emulate,
    export_cmds,
    kuairand,
    policy,
    ranker,
)
