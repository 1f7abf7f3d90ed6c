"""Subcommand entry points: each module has run(cfg) for one `t2v` subcommand."""
