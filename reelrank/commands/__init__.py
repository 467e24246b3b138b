"""Subcommand modules. Each registers itself with `reelrank.cli.command` on import and imports its
heavy dependencies inside its handler."""

from reelrank.commands import demo, export_cmds, kuairand  # noqa: F401
