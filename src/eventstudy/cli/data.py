"""Commands for the local price store: ``eventstudy fetch`` and ``eventstudy cache ...``.

``fetch TICKERS... --start --end`` fills the store from Yahoo (what is stored already is not fetched
again) and prints what the store now holds for each ticker. ``cache list|import|export|clear``
inspect it, load price files from elsewhere (long, wide, yfinance exports, share counts), write it
out as a long CSV, and empty it. Registered on the main group in :mod:`eventstudy.cli`.

Tests hand a fake Yahoo session to ``fetch`` through the click context object:
``CliRunner().invoke(fetch, args, obj={"session": session})``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventstudy.cli.common import user_errors
from eventstudy.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

# numpy and pandas are imported inside the commands that use them: `eventstudy --help` and the
# other commands start without them.

_DATE = click.DateTime(["%Y-%m-%d"])


def _cache_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="EVENTSTUDY_CACHE_DIR",
        help="Local price store folder (default: the platform cache dir; env "
        "EVENTSTUDY_CACHE_DIR).",
    )(func)


def _split_tickers(values: tuple[str, ...]) -> list[str]:
    """Tickers given as separate arguments or comma-separated, in order, without repeats."""
    names = [t.strip() for v in values for t in v.split(",")]
    return list(dict.fromkeys(t for t in names if t))


def _table(rows: list[dict[str, Any]]) -> str:
    """Records as a text table: a header, every column right-aligned (as pandas prints one),
    without needing pandas."""
    if not rows:
        return ""
    names = list(rows[0])
    cells = [names, *([str(row[n]) for n in names] for row in rows)]
    widths = [max(len(line[j]) for line in cells) for j in range(len(names))]
    return "\n".join(
        " ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    )


# -- fetch -----------------------------------------------------------------------------------------


@click.command("fetch")
@click.argument("tickers", nargs=-1, required=True)
@click.option("--start", type=_DATE, required=True, help="First date, YYYY-MM-DD.")
@click.option("--end", type=_DATE, help="Last date, YYYY-MM-DD (default: today).")
@_cache_dir_option
@click.option("--offline", is_flag=True, help="Fetch nothing: report what the store lacks.")
@click.option("--refresh", is_flag=True, help="Refetch the range even where it is stored.")
@click.option("--strict", is_flag=True, help="Any ticker that cannot be fetched is an error.")
@click.option(
    "--shares/--no-shares", default=True, help="Also fetch share-count histories (default: yes)."
)
@click.option("--workers", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Overall seconds.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@click.pass_context
@user_errors
def fetch(
    ctx: click.Context,
    tickers: tuple[str, ...],
    start: Any,
    end: Any,
    cache_dir: Path | None,
    offline: bool,
    refresh: bool,
    strict: bool,
    shares: bool,
    workers: int,
    timeout: float | None,
    progress: bool | None,
) -> None:
    """Fill the local price store with Yahoo prices of TICKERS (and their share counts).

    Only what the store does not hold yet is fetched. Tickers Yahoo cannot deliver are reported
    with the reason and the others are stored (--strict: exit with an error instead)."""
    import pandas as pd

    from eventstudy.data.cached import CachedSource
    from eventstudy.data.sources.yahoo import YahooSource
    from eventstudy.data.store import PriceStore

    names = _split_tickers(tickers)
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    first = pd.Timestamp(start)
    last = pd.Timestamp(end).normalize() if end is not None else today
    if first > last:
        raise DataError(f"--start {first:%Y-%m-%d} is after --end {last:%Y-%m-%d}")
    session = ctx.obj.get("session") if isinstance(ctx.obj, dict) else None
    store = PriceStore(cache_dir)
    upstream = YahooSource(session=session, workers=workers, total_timeout=timeout)
    cached = CachedSource(
        store, upstream, offline=offline, refresh=refresh, strict=strict, progress=progress
    )
    prices = cached.prices(names, first, last)
    if shares:
        # Share counts only matter for dollar effects; a failure here does not undo the prices.
        try:
            # Histories fetched before --end are fetched again, unless fetched since yesterday.
            as_of = min(last, today - pd.Timedelta(days=1))
            cached.shares([t for t in names if t not in cached.failures], as_of=as_of)
        except DataError as exc:
            click.echo(f"eventstudy: warning: share counts: {exc}", err=True)
    share_counts = store.get_shares(names).groupby("ticker").size()

    rows = []
    stats = prices.groupby("ticker")["date"].agg(["count", "min", "max"])
    for ticker in names:
        if ticker in cached.failures:
            status = f"failed: {cached.failures[ticker]}"
        elif ticker in cached.fetched:
            status = "fetched"
        else:
            status = "stored already"
        have = ticker in stats.index
        rows.append(
            {
                "ticker": ticker,
                "rows": int(stats.loc[ticker, "count"]) if have else 0,
                "first": f"{stats.loc[ticker, 'min']:%Y-%m-%d}" if have else "-",
                "last": f"{stats.loc[ticker, 'max']:%Y-%m-%d}" if have else "-",
                "shares": int(share_counts.get(ticker, 0)),
                "status": status,
            }
        )
    click.echo(_table(rows))
    n_failed = sum(t in cached.failures for t in names)
    click.echo(
        f"\n{len(names)} ticker(s) from {first:%Y-%m-%d} to {last:%Y-%m-%d}: "
        f"{len(cached.fetched & set(names))} fetched, {n_failed} failed; "
        f"{cached.upstream_calls} request batch(es); store: {store.path}"
    )
    if n_failed:
        failed = ", ".join(t for t in names if t in cached.failures)
        click.echo(f"eventstudy: warning: could not fetch {failed}", err=True)


# -- cache -----------------------------------------------------------------------------------------


@click.group("cache")
def cache() -> None:
    """Inspect and manage the local price store."""


@cache.command("list")
@_cache_dir_option
@user_errors
def cache_list(cache_dir: Path | None) -> None:
    """List the tickers in the store: dates, rows, sources and share counts."""
    from eventstudy.data.store_file import StoreFile  # no numpy or pandas: starts at once

    store = StoreFile(cache_dir)
    listing = store.listing()
    click.echo(f"Store: {store.path}")
    if not listing:
        click.echo("(empty)")
        return
    rows = [
        {
            "ticker": ticker,
            "first": first or "-",
            "last": last or "-",
            "rows": n,
            "shares": counts,
            "shares_as_of": as_of or "-",
            "sources": sources or "-",
        }
        for ticker, first, last, n, sources, counts, as_of in listing
    ]
    click.echo(_table(rows))
    with_prices = sum(1 for row in listing if row[3])
    click.echo(f"\n{with_prices} ticker(s), {sum(row[3] for row in listing)} price rows")


@cache.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "layout",
    type=click.Choice(["auto", "long", "wide", "yahoo", "shares"]),
    default="auto",
    show_default=True,
    help="File layout (auto: from the header).",
)
@click.option(
    "--column",
    type=click.Choice(["adj_close", "close"]),
    help="Which price a wide file holds (required for wide files).",
)
@click.option("--ticker", help="Ticker of a single-ticker yfinance file (default: file name).")
@_cache_dir_option
@user_errors
def cache_import(
    file: Path, layout: str, column: str | None, ticker: str | None, cache_dir: Path | None
) -> None:
    """Import FILE into the store: a long price CSV, a wide CSV (dates x tickers), a yfinance CSV
    export, or share counts. The file is checked completely first and imported in one
    transaction: a malformed file imports nothing."""
    import numpy as np

    from eventstudy.data.ingest import ingest_price_file
    from eventstudy.data.sources.imports import file_layout, read_import_file
    from eventstudy.data.store import PriceStore

    store = PriceStore(cache_dir)
    source = f"file:{file.name}"
    if (layout if layout != "auto" else file_layout(file)) == "long":
        # Read and stored chunk by chunk: a file of any size in bounded memory.
        got = ingest_price_file(file, store, source)
        click.echo(
            f"Imported {got.rows} price rows for {got.tickers} ticker(s) from {file} (long) "
            f"into {store.path}"
        )
        if got.nonpositive:
            click.echo(
                f"eventstudy: note: {got.nonpositive} non-positive price(s): a study that uses "
                "them stops with an error",
                err=True,
            )
        return
    imported = read_import_file(file, layout, column=column, ticker=ticker)
    if imported.prices is not None:
        prices = imported.prices
        n = store.put_prices(prices, source, columns=imported.columns)
        what = f"{n} price rows for {prices['ticker'].nunique()} ticker(s)"
        with np.errstate(invalid="ignore"):
            bad = int((prices[["close", "adj_close"]].to_numpy() <= 0).sum())
        if bad:
            imported.notes.append(
                f"{bad} non-positive price(s): a study that uses them stops with an error"
            )
    else:
        assert imported.shares is not None
        n = store.put_shares(imported.shares)
        what = f"{n} share counts for {imported.shares['ticker'].nunique()} ticker(s)"
    click.echo(f"Imported {what} from {file} ({imported.format}) into {store.path}")
    for note in imported.notes:
        click.echo(f"eventstudy: note: {note}", err=True)


def _export_text(frame: pd.DataFrame, integral: list[str]) -> str:
    """CSV text; floats keep every bit (shortest round-trip repr), whole numbers in ``integral``
    columns are written without ``.0``, missing values as blanks, dates as YYYY-MM-DD."""
    import numpy as np
    frame = frame.copy()
    for column in integral:
        values = frame[column].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if len(finite) and np.all(finite == np.round(finite)) and np.abs(finite).max() < 2**53:
            frame[column] = frame[column].astype("Int64")
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, date_format="%Y-%m-%d", lineterminator="\n")
    return buffer.getvalue()


@cache.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tickers", "-t", multiple=True, help="Only these tickers (repeat or comma-list).")
@click.option("--start", type=_DATE, help="First date, YYYY-MM-DD.")
@click.option("--end", type=_DATE, help="Last date, YYYY-MM-DD.")
@click.option(
    "--shares",
    "shares_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the share counts to this file (ticker,shares_outstanding,as_of,source).",
)
@_cache_dir_option
@user_errors
def cache_export(
    file: Path,
    tickers: tuple[str, ...],
    start: Any,
    end: Any,
    shares_file: Path | None,
    cache_dir: Path | None,
) -> None:
    """Write the stored prices to FILE as a long CSV (ticker,date,close,adj_close,volume), the
    layout `cache import` and `run --prices` read back unchanged."""
    from eventstudy.data.store import PriceStore
    from eventstudy.output.files import atomic_write_text

    store = PriceStore(cache_dir)
    names = _split_tickers(tickers) or store.tickers()["ticker"].tolist()
    prices = store.get_prices(names, start, end)
    atomic_write_text(file, _export_text(prices, ["volume"]))
    click.echo(
        f"Exported {len(prices)} price rows for {prices['ticker'].nunique()} ticker(s) to {file}"
    )
    if shares_file is not None:
        share_names = _split_tickers(tickers) or store.shares_summary()["ticker"].tolist()
        shares = store.get_shares(share_names)
        atomic_write_text(shares_file, _export_text(shares, ["shares_outstanding"]))
        click.echo(f"Exported {len(shares)} share counts to {shares_file}")


@cache.command("clear")
@click.argument("tickers", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before clearing the whole store.")
@_cache_dir_option
@user_errors
def cache_clear(tickers: tuple[str, ...], yes: bool, cache_dir: Path | None) -> None:
    """Delete the stored prices, coverage and share counts of TICKERS (all tickers if none)."""
    from eventstudy.data.store import PriceStore

    store = PriceStore(cache_dir)
    names = _split_tickers(tickers)
    if not names:
        if not yes and not click.confirm(f"Clear everything in {store.path}?", err=True):
            click.echo("Nothing cleared.", err=True)
            sys.exit(1)
        deleted = store.clear()
        click.echo(f"Cleared {deleted} price rows from {store.path}")
        return
    deleted = sum(store.clear(t) for t in names)
    click.echo(f"Cleared {deleted} price rows of {', '.join(names)} from {store.path}")
