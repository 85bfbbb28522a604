"""Fama-French factors over HTTP: pandas-datareader's reader with a fake session serving zipped
Ken French files, cached in the local store so a second run makes no request."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from requests.adapters import BaseAdapter

from eventstudy import StudyFileError
from eventstudy.data.factors import FRENCH_DATASETS, FamaFrenchSource
from eventstudy.errors import OfflineError
from eventstudy.pipeline import DataOptions, load_factors
from eventstudy.study import parse_study

from .test_models import FRENCH_CLASSIC, FRENCH_NEW, MOMENTUM

pytest.importorskip("pandas_datareader")

FILES = dict(zip(FRENCH_DATASETS, [FRENCH_CLASSIC, FRENCH_NEW, MOMENTUM], strict=True))


class FrenchLibrary(BaseAdapter):
    """Answers GET .../ftp/<dataset>_CSV.zip with a zip holding the dataset's CSV."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        self.urls.append(request.url)
        response = requests.Response()
        response.url = request.url
        response.request = request
        name = request.url.rsplit("/", 1)[-1].removesuffix("_CSV.zip")
        if "ken.french" not in request.url or name not in FILES:
            response.status_code = 404
            response._content = b"not found"
            return response
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr(f"{name}.CSV", FILES[name].replace("\n", "\r\n"))
        response.status_code = 200
        response._content = buffer.getvalue()
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def session():
    s = requests.Session()
    adapter = FrenchLibrary()
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.adapter = adapter
    return s


def _spec(model: str = "ff3"):
    return parse_study(
        {"study": "x", "model": model, "events": [{"name": "e", "date": "2025-01-27",
                                                    "tickers": ["NVDA"]}]}
    )


def test_fetch_text_through_pandas_datareader(session) -> None:
    text = FamaFrenchSource(session=session, pause=0).fetch_text("F-F_Research_Data_Factors_daily")
    assert "202503 CRSP" in text and "20250127" in text
    assert session.adapter.urls[0].endswith("/ftp/F-F_Research_Data_Factors_daily_CSV.zip")


def test_factors_are_fetched_once_then_read_from_the_store(session, tmp_path) -> None:
    options = DataOptions(cache_dir=tmp_path, session=session)
    first = load_factors(_spec("carhart"), options)
    assert len(session.adapter.urls) == 3
    assert first.frame.loc["2025-01-27", "Mom"] == pytest.approx(-0.0328)
    assert first.describe()["factors_release"] == "202503, 202604"
    second = load_factors(_spec("carhart"), DataOptions(cache_dir=tmp_path, offline=True))
    assert len(session.adapter.urls) == 3  # no new request: the store answered
    assert second.frame.equals(first.frame)


def test_offline_without_stored_factors_says_so(tmp_path) -> None:
    with pytest.raises(OfflineError, match=r"need Fama-French factors.*pass `factors` or run"):
        load_factors(_spec(), DataOptions(cache_dir=tmp_path, offline=True))


def test_download_failure_is_a_data_error(tmp_path) -> None:
    s = requests.Session()
    s.mount("http://", FrenchLibrary())
    s.mount("https://", FrenchLibrary())
    with pytest.raises(Exception, match="could not download Fama-French NOPE"):
        FamaFrenchSource(session=s, retry_count=1, pause=0).fetch_text("NOPE")


def test_no_factors_needed_for_market_model(tmp_path) -> None:
    assert load_factors(_spec("market"), DataOptions(cache_dir=tmp_path, offline=True)) is None


def test_factor_model_needs_factor_tickers() -> None:
    with pytest.raises(StudyFileError, match="model 'factor' needs 'factors"):
        parse_study({"study": "x", "model": "factor", "events": [
            {"name": "e", "date": "2025-01-27", "tickers": ["NVDA"]}]})
