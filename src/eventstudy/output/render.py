"""The Jinja2 environment of the package's templates (``output/templates``): the report and the
notebook summary render through it."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def environment() -> Any:
    """Autoescaping for ``*.html.j2``, strict undefined names, ``md`` filter for Markdown."""
    import jinja2

    from eventstudy.output.format import md_escape

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("eventstudy.output", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env
