"""``eventstudy fetch`` and ``eventstudy cache list|import|export|clear`` (``eventstudy.cli.data``),
through click's runner; Yahoo is the fake session (no network)."""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
import requests
from click.testing import CliRunner, Result
from requests.adapters import HTTPAdapter

from eventstudy.cli import main
from eventstudy.cli.data import cache, fetch
from eventstudy.data.sources.csv import read_prices_csv, read_shares_csv
from eventstudy.data.store import PriceStore
from tests.fakeyahoo import FakeYahooSession, isolated_yfinance, make_fake_session

pytestmark = pytest.mark.sample


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("real network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with isolated_yfinance(tmp_path / "yfinance"):
        yield


def invoke(command, args: list[str], session: FakeYahooSession | None = None) -> Result:
    return CliRunner().invoke(command, args, obj={"session": session}, catch_exceptions=False)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eventstudy: error: "), result.stderr
    return lines[0]


# -- fetch -----------------------------------------------------------------------------------------


def test_fetch_stores_the_rest_and_reports_the_failed_ticker(
    sample_prices: pd.DataFrame, sample_shares: pd.DataFrame, store_dir: Path
) -> None:
    session = make_fake_session(sample_prices, sample_shares)
    args = ["NVDA,ZZZZ", "^GSPC", "--start", "2024-12-01", "--end", "2025-02-28"]
    result = invoke(fetch, [*args, "--cache-dir", str(store_dir)], session)

    assert result.exit_code == 0, result.output
    table = {line.split()[0]: line for line in result.stdout.splitlines()[1:4]}
    assert table["NVDA"].split()[:6] == ["NVDA", "60", "2024-12-02", "2025-02-28", "3", "fetched"]
    assert "failed: Yahoo answered HTTP 404" in table["ZZZZ"]
    assert table["^GSPC"].split()[4:] == ["0", "fetched"]  # an index has no share counts
    assert "3 ticker(s) from 2024-12-01 to 2025-02-28: 2 fetched, 1 failed" in result.stdout
    assert result.stderr.strip() == "eventstudy: warning: could not fetch ZZZZ"
    assert set(PriceStore(store_dir).tickers()["ticker"]) == {"NVDA", "^GSPC"}

    # Again: everything is stored, nothing goes over the wire.
    calls = len(session.calls)
    again = invoke(fetch, ["NVDA", "^GSPC", *args[2:], "--cache-dir", str(store_dir)], session)
    assert again.exit_code == 0 and "stored already" in again.stdout
    assert len(session.calls) == calls


def test_fetch_strict_and_offline_are_one_line_errors(
    sample_prices: pd.DataFrame, store_dir: Path
) -> None:
    session = make_fake_session(sample_prices)
    window = ["--start", "2024-12-01", "--end", "2025-02-28", "--cache-dir", str(store_dir)]
    strict = invoke(fetch, ["NVDA", "ZZZZ", *window, "--strict", "--no-shares"], session)
    assert "could not fetch prices for ZZZZ" in one_line_error(strict)

    offline = invoke(fetch, ["AMD", *window, "--offline"], session)
    assert "offline: no stored prices for AMD" in one_line_error(offline)
    assert session.server.chart_calls("AMD") == []

    backwards = invoke(fetch, ["AMD", "--start", "2025-01-02", "--end", "2024-01-02"], session)
    assert "is after --end" in one_line_error(backwards)


class NoNetwork(HTTPAdapter):
    """A transport without any network: every request fails its name lookup, in the words of
    requests (urllib3's NameResolutionError inside a ConnectionError)."""

    def send(self, request, **kwargs):  # type: ignore[override]
        host = urlsplit(request.url).hostname
        raise requests.ConnectionError(
            f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: / "
            f"(Caused by NameResolutionError(\"Failed to resolve '{host}' ([Errno -3] Temporary "
            "failure in name resolution)\"))",
            request=request,
        )


def _global_state() -> tuple[object, ...]:
    import yfinance

    yfinance.utils.get_yf_logger()  # yfinance sets up its logger on first use: not our doing
    logger = logging.getLogger("yfinance")
    return (
        logger.disabled,
        logger.level,
        list(logger.handlers),
        list(logger.filters),
        yfinance.config.debug.hide_exceptions,
        list(warnings.filters),
    )


@pytest.mark.parametrize("command", ["fetch", "run"])
def test_no_network_is_one_line_and_nothing_from_yfinance(
    command: str, store_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """yfinance logs its failed cookie and crumb requests ("Cookie fetch from fc.yahoo.com
    failed ...") on its own logger, which the command line would print (Python's last-resort
    handler; under pytest, caplog collects them instead): while we fetch it is silenced, and
    afterwards everything global is as it was."""
    session = requests.Session()
    session.mount("https://", NoNetwork())
    session.mount("http://", NoNetwork())
    if command == "fetch":
        args = ["fetch", "NVDA", "AAPL", "--start", "2024-12-01", "--end", "2025-01-31"]
    else:
        study = tmp_path / "study.yaml"
        study.write_text(
            "study: s\nevents:\n  - {name: A, date: 2025-01-27, tickers: [NVDA, AAPL]}\n"
        )
        args = ["run", str(study), "--out", str(tmp_path / "out"), "--no-figures"]
    before = _global_state()
    result = CliRunner().invoke(
        main, [*args, "--cache-dir", str(store_dir)], obj={"session": session},
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "eventstudy: error: cannot reach Yahoo Finance: the host name could not be resolved "
        "(no network?)"
    ]
    assert result.stdout == ""
    assert [r.getMessage() for r in caplog.records if r.name.startswith("yfinance")] == []
    assert _global_state() == before
    assert not (tmp_path / "out").exists()


# -- import / export -------------------------------------------------------------------------------


def test_import_export_round_trips_the_sample_losslessly(sample_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for name in ("prices.csv", "shares.csv"):
        result = invoke(cache, ["import", str(sample_dir / name), "--cache-dir", str(first)])
        assert result.exit_code == 0, result.output
    assert "Imported 9000 price rows for 24 ticker(s)" in invoke(
        cache, ["import", str(sample_dir / "prices.csv"), "--cache-dir", str(second)]
    ).stdout.replace(str(second), "")

    exported, shares = tmp_path / "export.csv", tmp_path / "shares.csv"
    result = invoke(
        cache, ["export", str(exported), "--shares", str(shares), "--cache-dir", str(first)]
    )
    assert result.exit_code == 0, result.output
    assert "Exported 9000 price rows for 24 ticker(s)" in result.stdout
    assert exported.read_text().splitlines()[:2] == [
        "ticker,date,close,adj_close,volume",
        "AAPL,2023-10-02,173.75,171.737289,52164500",
    ]

    # Bit for bit: every float, every blank volume, every date, every share count and source.
    pd.testing.assert_frame_equal(
        read_prices_csv(exported), read_prices_csv(sample_dir / "prices.csv"), check_exact=True
    )
    pd.testing.assert_frame_equal(
        read_shares_csv(shares), read_shares_csv(sample_dir / "shares.csv"), check_exact=True
    )
    # And back in: a store filled from the export holds what the first one held.
    invoke(cache, ["import", str(exported), "--cache-dir", str(tmp_path / "three")])
    everything = PriceStore(first).tickers()["ticker"]
    pd.testing.assert_frame_equal(
        PriceStore(tmp_path / "three").get_prices(everything),
        PriceStore(first).get_prices(everything),
        check_exact=True,
    )


def test_a_malformed_file_imports_nothing(sample_dir: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    invoke(cache, ["import", str(sample_dir / "prices.csv"), "--cache-dir", str(store_dir)])
    before = PriceStore(store_dir).get_prices(["NVDA"])

    lines = (sample_dir / "prices.csv").read_text().splitlines()
    # Every NVDA close changed, and the very last line (far below NVDA's) broken.
    changed = [
        ",".join([*line.split(",")[:2], "1.0", *line.split(",")[3:]])
        if line.startswith("NVDA,")
        else line
        for line in lines
    ]
    changed[-1] = "^SOX,2025-03-31,not-a-price,1,"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(changed) + "\n")
    broken_line = len(changed)

    result = invoke(cache, ["import", str(bad), "--cache-dir", str(store_dir)])
    message = one_line_error(result)
    assert f"bad.csv, line {broken_line}: bad close 'not-a-price'" in message
    pd.testing.assert_frame_equal(PriceStore(store_dir).get_prices(["NVDA"]), before)

    wide = tmp_path / "wide.csv"
    wide.write_text("date,NVDA\n2025-01-02,1\n")
    assert "--column adj_close" in one_line_error(
        invoke(cache, ["import", str(wide), "--cache-dir", str(store_dir)])
    )


def test_import_of_yfinance_export_keeps_stored_closes(tmp_path: Path, sample_dir: Path) -> None:
    store_dir = tmp_path / "store"
    invoke(cache, ["import", str(sample_dir / "prices.csv"), "--cache-dir", str(store_dir)])
    auto = tmp_path / "auto.csv"
    auto.write_text(
        "Price,Close,Volume\nTicker,NVDA,NVDA\nDate,,\n2025-01-27,118.0,1\n2025-04-01,110.0,2\n"
    )
    result = invoke(cache, ["import", str(auto), "--cache-dir", str(store_dir)])
    assert result.exit_code == 0 and "Imported 2 price rows for 1 ticker(s)" in result.stdout
    assert "eventstudy: note: Close read as adj_close" in result.stderr
    got = PriceStore(store_dir).get_prices(["NVDA"], "2025-01-27", "2025-04-01").set_index("date")
    assert got.loc["2025-01-27", "close"] == 118.42  # the stored close is kept
    assert got.loc["2025-01-27", "adj_close"] == 118.0
    assert pd.isna(got.loc["2025-04-01", "close"]) and got.loc["2025-04-01", "adj_close"] == 110.0


# -- list / clear ----------------------------------------------------------------------------------


def test_list_and_clear(sample_dir: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    empty = invoke(cache, ["list", "--cache-dir", str(store_dir)])
    assert empty.exit_code == 0 and "(empty)" in empty.stdout
    for name in ("prices.csv", "shares.csv"):
        invoke(cache, ["import", str(sample_dir / name), "--cache-dir", str(store_dir)])

    listed = invoke(cache, ["list", "--cache-dir", str(store_dir)]).stdout
    nvda = next(line for line in listed.splitlines() if line.split()[:1] == ["NVDA"])
    assert nvda.split()[:6] == ["NVDA", "2023-10-02", "2025-03-31", "375", "3", "2025-02-21"]
    assert "24 ticker(s), 9000 price rows" in listed

    cleared = invoke(cache, ["clear", "NVDA,AMD", "--cache-dir", str(store_dir)])
    assert "Cleared 750 price rows of NVDA, AMD" in cleared.stdout
    assert not PriceStore(store_dir).has_shares("NVDA")

    declined = CliRunner().invoke(cache, ["clear", "--cache-dir", str(store_dir)], input="n\n")
    assert declined.exit_code == 1 and len(PriceStore(store_dir).tickers()) == 22
    invoke(cache, ["clear", "--yes", "--cache-dir", str(store_dir)])
    assert PriceStore(store_dir).tickers().empty


def test_a_damaged_store_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.sqlite"
    path.write_bytes(b"not a database" * 200)
    message = one_line_error(invoke(cache, ["list", "--cache-dir", str(tmp_path)]))
    assert "delete it to start a new one" in message
