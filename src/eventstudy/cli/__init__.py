"""Command line: ``eventstudy run STUDY.yaml`` and the other commands. Each command parses its
arguments, calls the library and prints; :mod:`eventstudy.cli.common` turns the library's errors
into one line and exit status 2."""

from __future__ import annotations

import click

from eventstudy import __version__
from eventstudy.cli.data import cache, fetch
from eventstudy.cli.run import report, run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eventstudy")
def main() -> None:
    """Measure how markets react to dated events."""


for command in (run, fetch, cache, report):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
