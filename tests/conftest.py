"""Shared fixtures. The real market sample is the one bundled in the package
(``eventstudy.datasets``, a byte-for-byte copy of ../shared/data, checked in test_datasets.py), and
the reference results of other software are copied into tests/reference/validation with their
source, so no test skips for want of ../shared."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from eventstudy.datasets import sample_folder

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = sample_folder("deepseek")
VALIDATION = Path(__file__).with_name("reference") / "validation"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        message = f"{what} not found at {path}"
        if os.environ.get("EVENTSTUDY_REQUIRE_SAMPLE"):
            pytest.fail(message + " (EVENTSTUDY_REQUIRE_SAMPLE is set)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return _require(SAMPLE / "prices.csv", "the real market sample").parent


@pytest.fixture(scope="session")
def validation_dir() -> Path:
    return _require(VALIDATION, "the validation fixtures")


@pytest.fixture(scope="session")
def sample_prices(sample_dir: Path) -> pd.DataFrame:
    from eventstudy.data.sources.csv import read_prices_csv

    return read_prices_csv(sample_dir / "prices.csv")


@pytest.fixture(scope="session")
def sample_shares(sample_dir: Path) -> pd.DataFrame:
    from eventstudy.data.sources.csv import read_shares_csv

    return read_shares_csv(sample_dir / "shares.csv")


@pytest.fixture(autouse=True, scope="session")
def _isolated_session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the price stores of module- and session-scoped fixtures out of the user's cache
    directory too (they run before a test's own monkeypatch)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVENTSTUDY_CACHE_DIR", str(tmp_path_factory.mktemp("session-cache")))
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test's price store out of the user's cache directory."""
    monkeypatch.setenv("EVENTSTUDY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def small(sample_prices: pd.DataFrame, sample_shares: pd.DataFrame) -> Any:
    """A small study of the sample for the chart tests: two events, the second without any
    shares outstanding (so without a value chart)."""
    from eventstudy.event_study import Event, EventStudy

    study = EventStudy.from_prices(
        sample_prices, market="^GSPC", shares=sample_shares, title="Small study"
    )
    return study.fit(
        [
            Event(name="V3 release", date="2024-12-26", tickers=["NVDA", "AVGO", "TSM"]),
            Event(name="No shares: R1", date="2025-01-27", tickers=["ASML"]),
        ]
    )
