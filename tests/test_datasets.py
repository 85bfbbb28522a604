"""The bundled DeepSeek sample: the frames it loads, and that it is the project's source sample
byte for byte (where ../shared/data is beside the repository; CI requires it there)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from eventstudy import EventStudy
from eventstudy.datasets import load_deepseek, sample_folder
from eventstudy.errors import DataError

SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Mkt-RF on 2025-01-27 in the published daily file, in percent.
MKT_RF_R1 = -1.49


def test_bundled_files_equal_the_source_sample() -> None:
    if not SHARED_SAMPLE.exists():
        if os.environ.get("EVENTSTUDY_REQUIRE_SAMPLE"):
            pytest.fail(f"the source sample is not at {SHARED_SAMPLE}")
        pytest.skip("the source sample ../shared/data is not beside the repository")
    for name in ("prices.csv", "shares.csv", "ff_factors_daily.csv", "PROVENANCE.md"):
        assert (sample_folder() / name).read_bytes() == (SHARED_SAMPLE / name).read_bytes(), name


def test_load_deepseek_gives_frames_with_the_reference_facts() -> None:
    sample = load_deepseek()
    prices = sample.prices.set_index(["ticker", "date"])
    assert len(prices) == 9000 and sample.prices["ticker"].nunique() == 24
    nvda = prices.loc["NVDA", "close"]
    assert nvda[pd.Timestamp("2025-01-24")] == 142.62
    assert nvda[pd.Timestamp("2025-01-27")] == 118.42
    shares = sample.shares.set_index(["ticker", "as_of"])["shares_outstanding"]
    assert shares[("NVDA", pd.Timestamp("2025-01-26"))] == 24_477_000_000
    # factors are fractions (the file is in percent)
    assert sample.factors.frame.loc["2025-01-27", "Mkt-RF"] == pytest.approx(MKT_RF_R1 / 100)
    assert "PROVENANCE" in sample.provenance
    assert repr(sample).startswith("Sample('deepseek': 24 series, 2023-10-02 .. 2025-03-31")


def test_the_sample_runs_the_reference_study() -> None:
    sample = load_deepseek()
    res = EventStudy.from_prices(
        sample.prices, market="^GSPC", price="close", shares=sample.shares
    ).fit([{"name": "R1", "date": "2025-01-27", "tickers": ["NVDA"]}])
    ar = res.ar_frame().query("rel_day == 0").iloc[0]
    assert ar["ret"] == pytest.approx(118.42 / 142.62 - 1, abs=1e-12)


def test_unknown_sample_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="unknown sample 'nope' \\(bundled: deepseek\\)"):
        sample_folder("nope")
