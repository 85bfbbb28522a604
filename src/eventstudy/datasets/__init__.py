"""Bundled real data: the DeepSeek R1 sample, the project's reference case, so that the demo,
the examples and the tests run offline on any machine.

>>> from eventstudy.datasets import load_deepseek
>>> sample = load_deepseek()
>>> sorted(sample.prices["ticker"].unique())[:3], len(sample.prices)
(['AAPL', 'AMD', 'AMZN'], 9000)

The files (``prices.csv``, ``shares.csv``, ``ff_factors_daily.csv``) are byte-for-byte the
project's source sample; ``PROVENANCE.md`` beside them records where every series came from and how
it was checked. :func:`sample_folder` gives their folder, for the command line
(``eventstudy run events.yaml --sample deepseek``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from eventstudy.data.factors import FactorData, read_factors
from eventstudy.data.sources.csv import read_prices_csv, read_shares_csv
from eventstudy.errors import DataError

__all__ = ["SAMPLES", "Sample", "load_deepseek", "load_sample", "sample_folder"]

#: Bundled samples, by name.
SAMPLES = ("deepseek",)
#: The files of a sample folder.
PRICES, SHARES, FACTORS, PROVENANCE = (
    "prices.csv",
    "shares.csv",
    "ff_factors_daily.csv",
    "PROVENANCE.md",
)


@dataclass(frozen=True)
class Sample:
    """A bundled sample as pandas frames, with where it came from.

    ``prices``: long, ``ticker, date, close, adj_close, volume`` (``close`` split-adjusted,
    ``adj_close`` split- and dividend-adjusted); ``shares``: ``ticker, as_of,
    shares_outstanding, source``; ``factors``: daily Fama-French factors as fractions (pass it
    as ``factor_data=``); ``provenance``: the provenance notes (Markdown)."""

    name: str
    folder: Path
    prices: pd.DataFrame = field(repr=False)
    shares: pd.DataFrame = field(repr=False)
    factors: FactorData = field(repr=False)
    provenance: str = field(repr=False)

    def __repr__(self) -> str:
        first, last = self.prices["date"].min(), self.prices["date"].max()
        return (
            f"Sample({self.name!r}: {self.prices['ticker'].nunique()} series, "
            f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}, {len(self.shares)} share counts, "
            f"factors {', '.join(self.factors.frame.columns)})"
        )


def sample_folder(name: str = "deepseek") -> Path:
    """The folder holding the files of the bundled sample ``name``."""
    if name not in SAMPLES:
        raise DataError(f"unknown sample {name!r} (bundled: {', '.join(SAMPLES)})")
    return Path(str(resources.files(__name__) / name))


def load_sample(name: str = "deepseek") -> Sample:
    """The bundled sample ``name`` as frames."""
    folder = sample_folder(name)
    return Sample(
        name=name,
        folder=folder,
        prices=read_prices_csv(folder / PRICES),
        shares=read_shares_csv(folder / SHARES),
        factors=read_factors([folder / FACTORS]),
        provenance=(folder / PROVENANCE).read_text(encoding="utf-8"),
    )


def load_deepseek() -> Sample:
    """The DeepSeek R1 sample: 24 real daily series (17 stocks, 4 ETFs, ^GSPC, ^IXIC, ^SOX) over
    2023-10-02 .. 2025-03-31, SEC share counts for 10 firms, Ken French's daily factors."""
    return load_sample("deepseek")
