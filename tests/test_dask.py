"""The Dask engine on a small in-process LocalCluster: the same results as the local engine, to the
last bit, from a Parquet dataset at a local path or an fsspec URL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask", reason="the Dask engine needs dask: pip install 'eventstudy-kit[dask]'")
distributed = pytest.importorskip(
    "distributed", reason="the Dask engine needs distributed: pip install 'eventstudy-kit[dask]'"
)
pytest.importorskip("pyarrow", reason="Parquet needs pyarrow: pip install 'eventstudy-kit[dask]'")

from eventstudy import DataError, EventStudy, EventStudyError  # noqa: E402
from eventstudy.engines.dask import fit_events_dask, write_prices  # noqa: E402
from eventstudy.inference.partitioned import TOLERANCE  # noqa: E402
from eventstudy.output.folder import StoredResults  # noqa: E402
from eventstudy.synthetic import SyntheticConfig, long_prices  # noqa: E402

FRAMES = ("params_frame", "ar_frame", "car_frame", "aar_frame", "caar_frame", "skipped_frame")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """Prices with gaps, thin trading and late listings; 40 events of 12 firms out of 50."""
    cfg = SyntheticConfig(
        n_firms=50, n_days=700, n_events=40, firms_per_event=12, seed=11,
        missing=0.03, thin=0.3, late_listing=0.2, abnormal={0: 0.02, 1: -0.01},
    )  # fmt: skip
    returns, events = cfg.generate()
    prices = long_prices(returns)
    path = tmp_path_factory.mktemp("dask") / "prices.parquet"
    write_prices(prices, path, row_group_size=4096)
    return prices, events, path


def _assert_identical(local, remote) -> None:
    for name in FRAMES:
        pd.testing.assert_frame_equal(
            getattr(remote, name)(), getattr(local, name)(), check_exact=True
        )
    pd.testing.assert_frame_equal(remote.tests_frame(), local.tests_frame(), check_exact=True)


def test_dask_equals_local_engine(client, data) -> None:
    prices, events, path = data
    settings = {"market": "MKT", "car_windows": [(0, 0), (-1, 1), (-5, 5), (0, 3)]}
    local = EventStudy.from_prices(prices, **settings).fit(events)
    remote = fit_events_dask(path, events, scheduler=client, partitions=3, **settings)
    assert len(remote.batches) == len(local.batches) == 1
    assert remote.meta["engine"] == "dask (3 partitions)"
    _assert_identical(local, remote)
    # The merged panel holds every study ticker's returns as the local one does.
    for ticker in ("MKT", *events["ticker"].unique()[:5]):
        np.testing.assert_array_equal(remote.panel.series(ticker), local.panel.series(ticker))


def _mixed_items(events: pd.DataFrame) -> list[dict]:
    """The first 12 events as study items, three with their own model or windows."""
    groups = list(events.groupby("event", sort=False))
    items: list[dict] = [
        {"name": name, "date": g["date"].iloc[0].date(), "tickers": list(g["ticker"])}
        for name, g in groups[:12]
    ]
    items[1]["model"] = "constant-mean"
    items[4]["event_window"] = [-3, 3]
    items[4]["car_windows"] = [[0, 0], [-3, 3]]
    items[7]["model"] = "market-adjusted"
    return items


def test_several_configurations_and_a_scheduler_address(client, data) -> None:
    """Per-event overrides make several batches; firms of one event span partitions."""
    prices, events, path = data
    items = _mixed_items(events)
    local = EventStudy.from_prices(prices, market="MKT").fit(items)
    remote = fit_events_dask(
        path, items, market="MKT", scheduler=client.scheduler.address, partitions=4
    )
    assert len(remote.batches) == len(local.batches) == 4
    _assert_identical(local, remote)


def test_fsspec_url(client, data) -> None:
    """Any fsspec URL: here fsspec's in-memory filesystem, shared by the in-process workers."""
    fsspec = pytest.importorskip("fsspec")
    prices, events, path = data
    with fsspec.open("memory://eventstudy-test/prices.parquet", "wb") as fh:
        fh.write(path.read_bytes())
    few = events[events["event"].isin(events["event"].unique()[:5])]
    local = EventStudy.from_prices(prices, market="MKT").fit(few)
    remote = fit_events_dask(
        "memory://eventstudy-test/prices.parquet", few, market="MKT", scheduler=client
    )
    _assert_identical(local, remote)


def test_unknown_ticker_is_left_out_with_the_reason(client, data) -> None:
    """As in the local engine: a firm without prices is skipped, the others are fitted."""
    _, events, path = data
    bad = pd.concat([events.head(3), events.head(1).assign(ticker="NOPE")], ignore_index=True)
    with pytest.warns(UserWarning, match="left out without returns: NOPE"):
        res = fit_events_dask(path, bad, market="MKT", scheduler=client)
    skipped = res.skipped_frame().query("ticker == 'NOPE'")["reason"].tolist()
    assert skipped == ["no returns for ticker NOPE"]
    fitted = set(res.car_frame()["ticker"])
    assert fitted and "NOPE" not in fitted


def _read_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table of a Parquet results folder, a folder of parts read as one table."""
    import pyarrow.parquet as pq

    tables = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet" or path.is_dir():
            tables[path.stem] = pq.read_table(path).to_pandas()
    return tables


def _assert_tests_close(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """The tests frame of the Dask engine's pass on the workers: the local engine's rows, notes,
    ``n`` and ``df``; statistics and p-values the partitions' sums added in another order, so
    equal within ``partitioned.TOLERANCE``: relative 1e-12 (docs/performance.md)."""
    numbers = ["statistic", "p_value"]
    pd.testing.assert_frame_equal(
        got.drop(columns=numbers), want.drop(columns=numbers), check_exact=True
    )
    for column in numbers:
        np.testing.assert_allclose(got[column], want[column], **TOLERANCE, err_msg=column)


def _in_study_order(frame: pd.DataFrame, events) -> pd.DataFrame:
    """Rows by firm-event in study order, then event-window day (parts follow partitions)."""
    pairs = zip(events["event"], events["ticker"], strict=True)
    place = {(e, t): i for i, (e, t) in enumerate(pairs)}
    key = frame["event"].combine(frame["ticker"], lambda e, t: place[(e, t)]) * 100_000
    key += frame["rel_day"] - frame["rel_day"].min()
    assert key.is_unique
    return frame.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


@pytest.mark.parametrize("measures", [("return",), ("return", "volatility")])
def test_out_writes_the_local_engine_tables_from_the_workers(
    client, data, tmp_path, measures
) -> None:
    """``out=``: the workers write the AR (and abnormal-volatility) tables as Parquet parts, the
    client the rest; every table equals the local engine's Parquet table to the last bit."""
    prices, events, path = data
    settings = {
        "market": "MKT",
        "car_windows": [(0, 0), (-1, 1), (-5, 5)],
        "bhar_windows": [(0, 5)],
        "measures": list(measures),
    }
    local = EventStudy.from_prices(prices, **settings).fit(events)
    local.save(tmp_path / "local", format="parquet", figures=False)
    out = fit_events_dask(
        path, events, scheduler=client, partitions=3, out=tmp_path / "dask", **settings
    )
    assert out == tmp_path / "dask"
    parts = sorted(p.name for p in (out / "abnormal_returns").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    want, got = _read_folder(tmp_path / "local"), _read_folder(out)
    assert set(got) == set(want)
    split = {"abnormal_returns", "abnormal_volatility"}
    assert ("abnormal_volatility" in got) == ("volatility" in measures)
    for name, frame in want.items():
        mine = got[name]
        if name in split:  # parts in partition order: put in study order to compare
            assert not mine.equals(frame)  # (so the sort below is what makes them equal)
            mine = _in_study_order(mine, events)
        if name == "tests" and "volatility" not in measures:  # the pass ran on the workers
            _assert_tests_close(mine, frame)
        else:
            pd.testing.assert_frame_equal(mine, frame, check_exact=True, obj=name)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["engine"] == "dask (3 partitions)"
    assert summary["meta"]["engine_bytes_to_client"] > 0
    # The folder reads back as a results folder (the report reads it so).
    stored = StoredResults.load(out)
    local_ar = StoredResults.load(tmp_path / "local").ar_frame()
    pd.testing.assert_frame_equal(_in_study_order(stored.ar_frame(), events), local_ar)


def test_out_sends_less_to_the_client(client, data, tmp_path) -> None:
    """Without BHARs the client gets neither the firms' returns and closes nor the event-window
    returns: fewer bytes than the gathering engine's results."""
    _, events, path = data
    kept = fit_events_dask(path, events, market="MKT", scheduler=client, partitions=3)
    fit_events_dask(path, events, market="MKT", scheduler=client, partitions=3, out=tmp_path)
    sent = json.loads((tmp_path / "summary.json").read_text())["meta"]["engine_bytes_to_client"]
    assert sent < 0.9 * kept.meta["engine_bytes_to_client"]


@pytest.mark.parametrize("missing", [0.0, 0.02])
def test_out_keeps_the_residuals_on_the_workers(client, tmp_path, missing) -> None:
    """``out=``: the battery's residual pass runs on the workers (events of many firms in each
    partition) and the residuals do not reach the client: it gets less than their bytes alone
    (complete data; with gaps the groups' exact pairwise correlations read their rows). With one
    partition the workers' half of the pass is the local engine's pass over the same firm-events,
    so every table is the local engine's to the last bit, ``tests`` included; with two the
    tests are within 1e-12."""
    from eventstudy.engines import dask_output
    from eventstudy.inference.sample import HeldResiduals

    cfg = SyntheticConfig(
        n_firms=60, n_days=600, n_events=4, firms_per_event=60, seed=5, missing=missing,
        abnormal={0: 0.02},
    )  # fmt: skip
    returns, events = cfg.generate()
    prices = long_prices(returns)
    path = tmp_path / "prices.parquet"
    write_prices(prices, path)
    settings = {"market": "MKT", "event_window": (-2, 2), "car_windows": [(-1, 1)]}
    local = EventStudy.from_prices(prices, **settings).fit(events)
    local.save(tmp_path / "local", format="parquet", figures=False)
    resid_bytes = sum(np.asarray(b.fit.resid).nbytes for b in local.batches)
    passes = []
    real_pass = dask_output.WorkerHost.run_pass

    def counted(self, requests):
        passes.append(sum(len(r.labels[0]) for r in requests.values()))
        return real_pass(self, requests)

    for partitions in (1, 2):
        out = tmp_path / f"dask{partitions}"
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(dask_output.WorkerHost, "run_pass", counted)
            fit_events_dask(
                path, events, scheduler=client, partitions=partitions, out=out, **settings
            )
        assert passes[-1] == len(events)  # every firm-event's sums made on a worker
        want, got = _read_folder(tmp_path / "local"), _read_folder(out)
        for name in ("car", "params", "valuation", "data_quality", "aar", "caar"):
            pd.testing.assert_frame_equal(got[name], want[name], check_exact=True, obj=name)
        if partitions == 1:
            pd.testing.assert_frame_equal(got["tests"], want["tests"], check_exact=True)
        else:
            _assert_tests_close(got["tests"], want["tests"])
        sent = json.loads((out / "summary.json").read_text())["meta"]["engine_bytes_to_client"]
        if not missing:
            assert 0 < sent < resid_bytes
    # What the client merged holds no residuals: they are fetched when read.
    seen = []
    real_finish = dask_output.finish

    def spy(results, *args, **kwargs):
        seen.extend(isinstance(b.fit.resid, HeldResiduals) for b in results.batches)
        return real_finish(results, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dask_output, "finish", spy)
        fit_events_dask(
            path, events, scheduler=client, partitions=2, out=tmp_path / "s", **settings
        )
    assert seen and all(seen)


def test_out_several_configurations(client, data, tmp_path) -> None:
    """Several batches, per-event windows (a partition may lack the widest), firms of an event
    in several partitions, thin trading (groups with ragged days: their exact pairwise
    correlations read residual rows from the workers): the local engine's tables, the tests
    within 1e-12."""
    prices, events, path = data
    items = _mixed_items(events)
    items[4]["estimation_window"] = [-200, -11]
    local = EventStudy.from_prices(prices, market="MKT").fit(items)
    local.save(tmp_path / "local", format="parquet", figures=False)
    fit_events_dask(path, items, market="MKT", scheduler=client, partitions=4, out=tmp_path / "d")
    want, got = _read_folder(tmp_path / "local"), _read_folder(tmp_path / "d")
    for name in ("car", "params", "skipped", "aar", "caar"):
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True, obj=name)
    _assert_tests_close(got["tests"], want["tests"])


def test_out_is_written_whole_or_not_at_all(client, data, tmp_path, monkeypatch) -> None:
    """A run that fails after the workers wrote their parts leaves the earlier folder as it was
    and no staging folder; a later run replaces a table written whole by its parts."""
    from eventstudy.engines import dask_output

    prices, events, path = data
    out = tmp_path / "res"
    EventStudy.from_prices(prices, market="MKT").fit(events).save(
        out, format="parquet", figures=False
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dask_output, "write_tables", broken)
    with pytest.raises(EventStudyError, match="No space left on device"):
        fit_events_dask(path, events, market="MKT", scheduler=client, partitions=2, out=out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["res"]  # no staging folder left

    monkeypatch.undo()
    fit_events_dask(path, events, market="MKT", scheduler=client, partitions=2, out=out)
    assert (out / "abnormal_returns").is_dir()
    assert not (out / "abnormal_returns.parquet").exists()  # the earlier run's, replaced
    # And the other way round: a run writing the table whole removes the parts.
    EventStudy.from_prices(prices, market="MKT").fit(events).save(
        out, format="parquet", figures=False
    )
    assert (out / "abnormal_returns.parquet").is_file()
    assert not (out / "abnormal_returns").exists()


#: The command-line tests' study file (``engine`` and ``tickers`` filled in).
_CLI_STUDY = """study: Dask check
market: ^GSPC
engine: {engine}
car_windows: [[0, 0], [-1, 1]]
events:
  - name: R1
    date: 2025-01-27
    tickers: [{tickers}]
"""
_CLI_TICKERS = "NVDA, AVGO, TSM, MU, AAPL"


def test_engine_dask_from_a_study_file_matches_the_local_run(
    sample_prices, sample_dir, tmp_path, client
) -> None:
    """`engine: dask` in the study file + `--scheduler`: the CLI's tables equal the local run's."""
    from click.testing import CliRunner

    from eventstudy.cli import main

    parquet = tmp_path / "prices.parquet"
    write_prices(sample_prices, parquet)
    tables = {}
    for engine, prices in (("local", sample_dir / "prices.csv"), ("dask", parquet)):
        path = tmp_path / f"{engine}.yaml"
        path.write_text(_CLI_STUDY.format(engine=engine, tickers=_CLI_TICKERS))
        args = [
            "run",
            str(path),
            "--prices",
            str(prices),
            "--offline",
            "--no-figures",
            "-q",
            "--out",
            str(tmp_path / engine),
        ]
        if engine == "dask":
            args += ["--scheduler", client.scheduler.address]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        tables[engine] = {
            name: pd.read_csv(tmp_path / engine / name)
            for name in ("car.csv", "abnormal_returns.csv", "tests.csv")
        }
    for name, frame in tables["local"].items():
        pd.testing.assert_frame_equal(frame, tables["dask"][name], check_exact=False, rtol=1e-12)


def test_engine_dask_parquet_tables_only_are_written_from_the_workers(
    sample_prices, sample_dir, tmp_path, client, monkeypatch
) -> None:
    """`engine: dask` with `--format parquet --no-figures` (no report): the workers write the
    folder (`fit_resolved_dask(..., out=)`); its tables equal the local run's (the tests within
    1e-12) and the terminal summary is printed from the folder. A study where nothing can be
    fitted is the local run's one-line error and writes nothing."""
    from click.testing import CliRunner

    from eventstudy.cli import main
    from eventstudy.engines import dask as dask_engine

    parquet = tmp_path / "prices.parquet"
    write_prices(sample_prices, parquet)
    study = _CLI_STUDY
    outs = []
    real = dask_engine.fit_resolved_dask

    def spy(*args, **kwargs):
        outs.append(kwargs.get("out"))
        return real(*args, **kwargs)

    monkeypatch.setattr(dask_engine, "fit_resolved_dask", spy)
    runs = {}
    for engine, prices in (("local", sample_dir / "prices.csv"), ("dask", parquet)):
        path = tmp_path / f"{engine}.yaml"
        path.write_text(study.format(engine=engine, tickers=_CLI_TICKERS))
        args = ["run", str(path), "--prices", str(prices), "--offline", "--no-figures",
                "--format", "parquet", "--out", str(tmp_path / engine)]  # fmt: skip
        if engine == "dask":
            args += ["--scheduler", client.scheduler.address]
        runs[engine] = CliRunner().invoke(main, args, catch_exceptions=False)
        assert runs[engine].exit_code == 0, runs[engine].stderr
    assert outs == [tmp_path / "dask"]
    assert "written from the Dask workers" in runs["dask"].stdout
    assert "R1" in runs["dask"].stdout
    want, got = _read_folder(tmp_path / "local"), _read_folder(tmp_path / "dask")
    for name in ("car", "params", "aar", "caar"):
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True, obj=name)
    _assert_tests_close(got["tests"], want["tests"])
    assert (tmp_path / "dask" / "abnormal_returns").is_dir()

    path = tmp_path / "none.yaml"
    path.write_text(study.format(engine="dask", tickers="NOPE1, NOPE2"))
    args = ["run", str(path), "--prices", str(parquet), "--offline", "--no-figures",
            "--format", "parquet", "--out", str(tmp_path / "none"),
            "--scheduler", client.scheduler.address]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "could be fitted" in result.stderr, result.stderr
    assert not (tmp_path / "none").exists()


def test_engine_dask_needs_parquet(sample_dir, tmp_path) -> None:
    from eventstudy.pipeline import DataOptions, run_study
    from eventstudy.study import parse_study

    spec = parse_study(
        {
            "study": "x",
            "engine": "dask",
            "events": [{"name": "e", "date": "2025-01-27", "tickers": ["NVDA"]}],
        }
    )
    with pytest.raises(DataError, match="reads prices from a Parquet dataset"):
        run_study(spec, DataOptions(prices=sample_dir / "prices.csv", offline=True))


def test_engine_dask_refuses_the_volume_measure(sample_dir) -> None:
    from eventstudy.pipeline import DataOptions, run_study
    from eventstudy.study import parse_study

    spec = parse_study(
        {
            "study": "x",
            "engine": "dask",
            "measures": ["volume"],
            "events": [{"name": "e", "date": "2025-01-27", "tickers": ["NVDA"]}],
        }
    )
    with pytest.raises(DataError, match="engine 'dask' measures returns and volatility only"):
        run_study(spec, DataOptions(prices=sample_dir / "prices.csv", offline=True))


def test_a_scheduler_that_does_not_answer_is_one_line_within_the_timeout(data, monkeypatch) -> None:
    """Nothing listens on the port: a DataError naming the address, within SCHEDULER_TIMEOUT."""
    import socket
    import time

    from eventstudy.engines import dask as engine

    monkeypatch.setattr(engine, "SCHEDULER_TIMEOUT", 2.0)
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    _, events, path = data
    began = time.monotonic()
    with pytest.raises(
        DataError,
        match=rf"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} "
        r"within 2 s",
    ):
        fit_events_dask(path, events.head(3), market="MKT", scheduler=f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - began < 10
