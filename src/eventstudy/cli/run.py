"""The study commands: ``eventstudy run STUDY.yaml`` and ``eventstudy report RESULTS_DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from eventstudy.cli.common import cli_text, user_errors

if TYPE_CHECKING:
    from eventstudy.pipeline import DataOptions
    from eventstudy.study import StudySpec


@click.command()
@click.argument("study", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--prices",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Long price CSV (ticker,date,close,adj_close,volume) to use instead of Yahoo.",
)
@click.option(
    "--shares",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Shares outstanding CSV (ticker,shares_outstanding,as_of[,source]).",
)
@click.option(
    "--factors",
    "factors",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fama-French factor CSV (Ken French layout or tidy date,Mkt-RF,...); repeatable.",
)
@click.option(
    "--sample",
    type=click.Choice(["deepseek"]),
    help="Use a sample bundled with the package (prices, shares, factors), offline.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder for tables (default results/<study-slug>/).",
)
@click.option(
    "--figures",
    "figures_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for charts (default figures/<study-slug>/, or <out>/figures with --out).",
)
@click.option(
    "--format",
    "table_format",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="Table files: CSV, or Parquet (smaller and faster to read back: for large studies).",
)
@click.option("--no-figures", is_flag=True, help="Do not draw charts.")
@click.option(
    "--max-event-figures",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Per-event charts for the first N events only (the study charts cover every event).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Processes drawing the charts (default: one per CPU; 1: draw them in this process).",
)
@click.option(
    "--report",
    "make_report",
    is_flag=True,
    help="Also write report.html, report.md, tables.tex and tables.xlsx to <out>/report/.",
)
@click.option("--offline", is_flag=True, help="Never touch the network; missing data is an error.")
@click.option("--refresh", is_flag=True, help="Refetch prices even when the local store has them.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="EVENTSTUDY_CACHE_DIR",
    help="Local price store folder (default: the platform cache dir; env EVENTSTUDY_CACHE_DIR).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="A ticker that cannot be fetched is an error (default: left out, with a warning).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars while fetching and drawing charts (default: when stderr is a terminal).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Tickers fetched at once.",
)
@click.option(
    "--fetch-timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Overall limit on fetching, in seconds.",
)
@click.option(
    "--scheduler",
    help="Dask scheduler address (host:port): run with the Dask engine (prices from Parquet).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and warnings.")
@click.pass_context
@user_errors
def run(
    ctx: click.Context,
    study: Path,
    prices: Path | None,
    shares: Path | None,
    factors: tuple[Path, ...],
    sample: str | None,
    out: Path | None,
    figures_dir: Path | None,
    table_format: str,
    no_figures: bool,
    max_event_figures: int,
    jobs: int | None,
    make_report: bool,
    offline: bool,
    refresh: bool,
    cache_dir: Path | None,
    strict: bool,
    progress: bool | None,
    workers: int,
    fetch_timeout: float | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Run the event study described in STUDY (a YAML study file)."""
    from eventstudy.output.chart_process import ChartProcess

    # Forked first, while this process is small and has no threads: it loads the chart modules
    # while the study is computed, then draws the charts while the tables are written.
    chart_process = None if no_figures else ChartProcess.start(jobs)
    if chart_process is not None:
        ctx.with_resource(chart_process)
    from eventstudy.output.journal import finish_interrupted
    from eventstudy.output.transaction import run_transaction, write_stage
    from eventstudy.pipeline import (
        DataOptions,
        default_figures_dir,
        default_out_dir,
        run_study,
        uses_dask,
    )
    from eventstudy.study import load_study

    spec = load_study(study)
    out_dir = out or default_out_dir(spec)
    # First of all: outputs a killed run left half moved into place are finished (its journal).
    finish_interrupted(out_dir)
    if sample is not None:  # the bundled files, where no flag names others; never the network
        from eventstudy import datasets

        folder = datasets.sample_folder(sample)
        prices = prices or folder / datasets.PRICES
        shares = shares or folder / datasets.SHARES
        factors = factors or (folder / datasets.FACTORS,)
        offline = True
    options = DataOptions(
        prices=prices,
        shares=shares,
        factors=factors,
        cache_dir=cache_dir,
        offline=offline,
        refresh=refresh,
        strict=strict,
        progress=progress,
        workers=workers,
        fetch_timeout=fetch_timeout,
        scheduler=scheduler,
        # tests hand a fake Yahoo session through the click context, as to `fetch`
        session=ctx.obj.get("session") if isinstance(ctx.obj, dict) else None,
    )
    if (
        uses_dask(spec, options)
        and table_format == "parquet"
        and no_figures
        and not make_report
        and spec.characteristics_path is None
        and not (spec.regressions or spec.groups)
    ):
        # Tables only: the workers write the folder, the client never holds the residuals.
        _run_on_workers(spec, options, out_dir, quiet)
        return
    results = run_study(spec, options)
    if figures_dir is None:
        figures_dir = out_dir / "figures" if out is not None else default_figures_dir(spec)
    charts = None if no_figures else figures_dir
    figures: list[Path] = []
    report_path = None
    # One transaction: nothing of the previous outputs changes until all of these are written.
    with run_transaction(out_dir, charts) as stage:
        written, figures = write_stage(
            stage,
            results,
            charts,
            final_dir=out_dir,
            format=table_format,
            max_event_figures=max_event_figures,
            progress=progress,
            jobs=jobs,
            chart_process=chart_process,
        )
        if make_report:
            from eventstudy.output.report import build_report

            build_report(stage.tables, stage.figures, results=results, figures=not no_figures)
            report_path = out_dir / "report" / "report.html"
    written = [out_dir / p.name for p in written]
    figures = [figures_dir / p.name for p in figures]
    if not quiet:
        from eventstudy.estimation.quality import quality_summary

        click.echo(cli_text(str(results.summary())))
        click.echo("")
        click.echo(quality_summary(results.quality_frame()))
        click.echo("")
        click.echo(f"Tables: {len(written)} files in {out_dir}/")
        if figures:
            hidden = len(results.events) - max_event_figures
            note = (
                f" (per-event charts for the first {max_event_figures:,} of "
                f"{len(results.events):,} events; --max-event-figures for more)"
                if hidden > 0
                else ""
            )
            click.echo(f"Figures: {len(figures)} files in {figures_dir}/{note}")
        if report_path is not None:
            click.echo(f"Report: {report_path}")


def _run_on_workers(
    spec: StudySpec, options: DataOptions, out_dir: Path, quiet: bool
) -> None:
    """``engine: dask`` with Parquet tables only (no charts, report or characteristics): the
    results folder written from the workers (:func:`eventstudy.pipeline.run_study_to_folder`),
    the terminal summary read back from it."""
    from eventstudy.estimation.quality import quality_summary
    from eventstudy.output.folder import StoredResults
    from eventstudy.output.summary import summarize
    from eventstudy.pipeline import run_study_to_folder

    run_study_to_folder(spec, options, out_dir)
    if quiet:
        return
    stored = StoredResults.load(out_dir)
    click.echo(cli_text(str(summarize(stored))))
    click.echo("")
    quality = stored.quality_frame()
    if quality is not None:
        click.echo(quality_summary(quality))
        click.echo("")
    tables = [p for p in out_dir.iterdir() if p.suffix == ".parquet" or p.is_dir()]
    click.echo(f"Tables: {len(tables)} files in {out_dir}/ (written from the Dask workers)")


@click.command()
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--figures",
    "figures_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The run's charts (default RESULTS_DIR/figures); missing or outdated ones are drawn.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (default RESULTS_DIR/report).",
)
@click.option(
    "--max-events",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Events with a section (tables and charts) of their own.",
)
@click.option("--no-figures", is_flag=True, help="Leave the charts out.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and warnings.")
@user_errors
def report(
    results_dir: Path,
    figures_dir: Path | None,
    out: Path | None,
    max_events: int,
    no_figures: bool,
    quiet: bool,
) -> None:
    """Write a report of RESULTS_DIR (a folder written by `eventstudy run`): report.html (one
    self-contained file), report.md with its figures, tables.tex (booktabs) and tables.xlsx."""
    from eventstudy.output.report import build_report

    html, md = build_report(
        results_dir,
        figures_dir,
        out_dir=out,
        max_events=max_events,
        figures=not no_figures,
    )
    if not quiet:
        click.echo(f"Report: {html}")
        click.echo(f"Markdown: {md} (figures in {md.parent / 'figures'}/)")
        click.echo(f"Tables: {md.parent / 'tables.xlsx'}, {md.parent / 'tables.tex'}")
