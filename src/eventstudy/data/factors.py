"""Fama-French and momentum factors: parsing Ken French's CSV files, and fetching them.

Ken French publishes daily factors in percent, in CSV files with a free-text preamble, a header row
whose first cell is blank, dates as ``YYYYMMDD`` (``YYYY-MM-DD`` from the 2026 vintages on), and a
copyright line (and sometimes an annual table) after the data. :func:`parse_french_csv` reads that
layout; :func:`read_factors` also reads a tidy CSV with a ``date`` column (as in
``../shared/data/ff_factors_daily.csv``). Values are converted from percent to fractions.

pandas-datareader's own parser only recognises ``YYYYMMDD`` dates, so the network path uses its
reader for the download only (session, retries and pause injectable) and this module's parser.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.errors import DataError, argument

#: Ken French datasets the factor models use, and the columns each contributes.
FRENCH_DATASETS = {
    "F-F_Research_Data_Factors_daily": ("Mkt-RF", "SMB", "HML", "RF"),
    "F-F_Research_Data_5_Factors_2x3_daily": ("SMB_5F", "RMW", "CMA"),
    "F-F_Momentum_Factor_daily": ("Mom",),
}



def _region(prefix: str) -> dict[str, tuple[str, ...]]:
    return {
        f"{prefix}_3_Factors_Daily": ("Mkt-RF", "SMB", "HML", "RF"),
        f"{prefix}_5_Factors_Daily": ("SMB_5F", "RMW", "CMA"),
        f"{prefix}_Mom_Factor_Daily": ("Mom",),
    }


#: Ken French's daily factor sets by region (study key ``factor_region``, docs/global.md): the
#: US files above, and the international ones (built from Bloomberg data, in US dollars, each
#: region's market minus the US one-month T-bill rate). Emerging markets have no 3-factor file:
#: their 5-factor file's SMB serves the three-factor model too.
FRENCH_REGIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "us": FRENCH_DATASETS,
    "developed": _region("Developed"),
    "north_america": _region("North_America"),
    "europe": _region("Europe"),
    "japan": _region("Japan"),
    "asia_pacific_ex_japan": _region("Asia_Pacific_ex_Japan"),
    "emerging": {
        "Emerging_5_Factors_Daily": ("Mkt-RF", "SMB_5F", "HML", "RMW", "CMA", "RF"),
        "Emerging_MOM_Factor_Daily": ("Mom",),
    },
}

#: Regressors of each factor model; all explain the excess return ``R - RF``.
FACTOR_MODELS: dict[str, tuple[str, ...]] = {
    "ff3": ("Mkt-RF", "SMB", "HML"),
    "carhart": ("Mkt-RF", "SMB", "HML", "Mom"),
    "ff5": ("Mkt-RF", "SMB_5F", "HML", "RMW", "CMA"),
}

_KNOWN = {"MKT-RF", "SMB", "HML", "RF", "RMW", "CMA", "MOM", "WML", "UMD", "SMB_5F"}
_DATE = re.compile(r"^\s*(\d{8}|\d{4}-\d{2}-\d{2})\s*$")
_RELEASE = re.compile(r"using the (\d{6}) (?:CRSP|Bloomberg) database", re.I)
# French's missing-value codes.
_MISSING = (-99.99, -999.0)


@dataclass
class FactorData:
    """Daily factors as fractions (dates x columns) and where they came from."""

    frame: pd.DataFrame
    sources: list[str] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)
    digest: str = ""

    def describe(self) -> dict[str, Any]:
        """What the outputs record about the factor data in use."""
        idx = self.frame.index
        return {
            "factors_source": ", ".join(self.sources),
            "factors_release": ", ".join(self.releases) or "unknown",
            "factors_sha256": self.digest,
            "factors_start": f"{idx[0]:%Y-%m-%d}" if len(idx) else None,
            "factors_end": f"{idx[-1]:%Y-%m-%d}" if len(idx) else None,
            "factors_columns": list(self.frame.columns),
        }

    def columns_for(self, names: Sequence[str], model: str) -> pd.DataFrame:
        """The named columns, or an error naming what the factor data lack for ``model``."""
        frame = self.frame
        if "SMB_5F" in names and "SMB_5F" not in frame and "RMW" in frame:
            frame = frame.rename(columns={"SMB": "SMB_5F"})
        if "SMB" in names and "SMB" not in frame and "SMB_5F" in frame:
            # Emerging markets: only a 5-factor file, whose SMB serves the 3-factor model.
            frame = frame.assign(SMB=frame["SMB_5F"])
        missing = [n for n in (*names, "RF") if n not in frame.columns]
        if missing:
            raise DataError(
                f"model {model!r} needs factor column(s) {', '.join(missing)}, which "
                f"{', '.join(self.sources) or 'the factor data'} do not have "
                f"(have: {', '.join(frame.columns)})"
            )
        return frame[[*names, "RF"]]


def _normalise_column(name: str) -> str:
    name = name.strip()
    upper = name.upper()
    if upper in {"MOM", "WML", "UMD"}:
        return "Mom"
    if upper == "MKT-RF":
        return "Mkt-RF"
    return name


def parse_french_csv(text: str, source: str = "<factors>") -> tuple[pd.DataFrame, str | None]:
    """Parse one Ken French CSV (the daily table only). Returns (factors in percent, release)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header_at = None
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.split(",")]
        if (
            len(cells) > 1
            and any(c.upper() in _KNOWN for c in cells[1:])
            and not _DATE.match(cells[0])
        ):
            header_at = i
            break
    if header_at is None:
        raise DataError(f"{source}: no factor header row (e.g. ',Mkt-RF,SMB,HML,RF') found")
    columns = [_normalise_column(c) for c in lines[header_at].split(",")[1:]]
    dates: list[str] = []
    rows: list[list[float]] = []
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        cells = line.split(",")
        if not _DATE.match(cells[0]):
            if dates:
                break  # end of the daily table: a blank line, copyright or an annual table
            continue
        if len(cells) - 1 != len(columns):
            raise DataError(
                f"{source}, line {number}: {len(cells) - 1} values for {len(columns)} columns"
            )
        try:
            rows.append([float(c) for c in cells[1:]])
        except ValueError:
            raise DataError(f"{source}, line {number}: non-numeric factor value") from None
        dates.append(cells[0].strip())
    if not dates:
        raise DataError(f"{source}: no daily factor rows after the header")
    fmt = "%Y%m%d" if "-" not in dates[0] else "%Y-%m-%d"
    index = pd.DatetimeIndex(pd.to_datetime(dates, format=fmt), name="date")
    frame = pd.DataFrame(rows, index=index, columns=columns)
    if "RMW" in frame.columns and "SMB" in frame.columns:
        # The 5-factor file's SMB is built differently from the 3-factor file's.
        frame = frame.rename(columns={"SMB": "SMB_5F"})
    release = _RELEASE.search("\n".join(lines[:header_at]))
    return frame, release.group(1) if release else None


def _parse_tidy(text: str, source: str) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(text))
    first = frame.columns[0]
    dates = pd.to_datetime(frame[first].astype(str), errors="coerce", format="mixed")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(f"{source}, line {row + 2}: bad date {frame[first].iloc[row]!r}")
    frame = frame.drop(columns=first).set_index(pd.DatetimeIndex(dates, name="date"))
    frame.columns = [_normalise_column(c) for c in frame.columns]
    try:
        return frame.astype(float)
    except ValueError:
        raise DataError(f"{source}: non-numeric factor values") from None


def factors_from_texts(texts: Iterable[tuple[str, str]]) -> FactorData:
    """Merge factor files given as (source name, text); values become fractions."""
    frames, sources, releases = [], [], []
    digest = hashlib.sha256()
    for source, text in texts:
        digest.update(text.encode())
        head = text.lstrip().split("\n", 1)[0].lower()
        if head.startswith("date,") or head.startswith("date;"):
            frame, release = _parse_tidy(text, source), None
        else:
            frame, release = parse_french_csv(text, source)
        if frame.index.has_duplicates:
            raise DataError(f"{source}: duplicate date {frame.index[frame.index.duplicated()][0]}")
        frames.append(frame)
        sources.append(source)
        if release and release not in releases:
            releases.append(release)
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.join(frame[[c for c in frame.columns if c not in merged]], how="outer")
    merged = merged.sort_index().mask(merged.isin(_MISSING)) / 100.0
    return FactorData(
        frame=merged, sources=sources, releases=releases, digest=digest.hexdigest()[:16]
    )


def read_factors(paths: Sequence[str | Path]) -> FactorData:
    """Read one or more factor CSV files (Ken French layout or tidy ``date,...``)."""
    texts = []
    for path in map(Path, paths):
        try:
            texts.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
        except FileNotFoundError:
            raise DataError(f"{path}: factor file not found") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot read factor file ({exc.strerror})") from None
    return factors_from_texts(texts)


class FamaFrenchSource:
    """Daily factors from the Ken French Data Library through pandas-datareader's reader.

    ``session`` (a ``requests.Session``), ``retry_count`` and ``pause`` are handed to
    pandas-datareader; only its download is used (see the module docstring)."""

    def __init__(self, session: Any = None, retry_count: int = 3, pause: float = 0.5) -> None:
        self.session = session
        self.retry_count = retry_count
        self.pause = pause

    def fetch_text(self, dataset: str) -> str:
        """The CSV text of one dataset (e.g. ``F-F_Research_Data_Factors_daily``)."""
        try:
            from pandas_datareader.famafrench import FamaFrenchReader
        except ImportError:
            raise DataError(
                "fetching Fama-French factors needs pandas-datareader "
                f"(pip install 'eventstudy-kit[factors]'), or pass {argument('factors')} (files)"
            ) from None
        reader = FamaFrenchReader(
            symbols=dataset, session=self.session, retry_count=self.retry_count, pause=self.pause
        )
        url = f"{reader.url}/ftp/{dataset}_CSV.zip"
        try:
            return reader._read_zipfile(url)
        except Exception as exc:  # pandas-datareader raises bare IOError/RemoteDataError
            raise DataError(f"could not download Fama-French {dataset}: {exc}") from None
