"""Subcommand modules. Each registers itself with `reelrank.cli.command` on import and imports its
heavy dependencies inside its handler."""

from reelrank.commands import bench, demo, export_cmds, kuairand, ranker  # noqa: F401
