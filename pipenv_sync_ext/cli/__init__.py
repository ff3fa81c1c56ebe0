"""The command line on top of everything: argument parsing, subcommands, reports, terminal progress."""
