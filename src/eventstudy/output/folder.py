"""The results folder ``eventstudy run`` writes: its files and their columns (the table contract,
stated once here), writing them and reading them back.

:data:`TABLE_FILES` lists every table of a results folder with the frame it holds and the columns
it has when empty; :func:`write_tables` writes them with ``summary.json`` (atomically, through
:func:`~eventstudy.output.files.staged`); :class:`StoredResults` reads a folder back as a
:class:`~eventstudy.output.source.ResultSource`, so a report can be made long after the run
without refitting anything.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import methodcaller
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventstudy.errors import EventStudyError
from eventstudy.explain.groups import GROUP_MEANS_COLUMNS, GROUP_TESTS_COLUMNS
from eventstudy.explain.regression import REGRESSION_COLUMNS
from eventstudy.inference.calendar_time import CALENDAR_RETURNS_COLUMNS, CALENDAR_TIME_COLUMNS
from eventstudy.output.files import json_text, staged, unneutralise, write_csv, write_parquet
from eventstudy.output.journal import settled
from eventstudy.output.summary import summary_dict
from eventstudy.parallel import pipeline
from eventstudy.study import DEFAULT_MIN_ESTIMATION_OBS, DEFAULTS, ResolvedEvent
from eventstudy.valuation import VALUATION_COLUMNS

if TYPE_CHECKING:
    from eventstudy.output.source import ResultSource

__all__ = [
    "AAR_COLUMNS",
    "AR_COLUMNS",
    "BHAR_COLUMNS",
    "CAAR_COLUMNS",
    "CAR_COLUMNS",
    "PARAMS_COLUMNS",
    "REQUIRED_TABLES",
    "SKIPPED_COLUMNS",
    "SUMMARY_FILE",
    "TABLES",
    "TABLE_FILES",
    "TABLE_FORMATS",
    "StoredResults",
    "TableFile",
    "write_tables",
]

# ----------------------------------------------------------------------------- the tables
#: Columns of the results frames, in order (an empty table has them too); the results class
#: builds its frames with them.
AR_COLUMNS = [
    "event",
    "ticker",
    "date",
    "rel_day",
    "ret",
    "normal_ret",
    "ar",
    "ar_se",
    "ar_t",
    "ar_p",
    "car",
    "car_se",
    "model",
]
CAR_COLUMNS = [
    "event",
    "ticker",
    "start",
    "end",
    "car",
    "se",
    "t",
    "p",
    "df",
    "n_days",
    "model",
    "p_sq_lower",
    "p_sq_upper",
    "p_holm",
    "p_bh",
]
BHAR_COLUMNS = ["event", "ticker", "start", "end", "bhar", "n_days", "model"]
AAR_COLUMNS = ["event", "rel_day", "date", "aar", "n", "t", "p"]
CAAR_COLUMNS = ["event", "start", "end", "caar", "n", "t", "p"]
#: The fitted models' columns before the parameters (one column per parameter follows).
PARAMS_COLUMNS = ["event", "ticker", "model", "n_obs", "df", "sigma", "skipped"]
SKIPPED_COLUMNS = ["event", "ticker", "reason"]
#: The volume and volatility measures' tables (docs/measures.md).
VOLUME_COLUMNS = [
    "event",
    "ticker",
    "date",
    "rel_day",
    "volume",
    "log_volume",
    "normal_log_volume",
    "av",
    "model",
]
CAV_COLUMNS = ["event", "ticker", "start", "end", "cav", "se", "t", "p", "df", "n_days", "model"]
VOLATILITY_COLUMNS = [
    "event", "ticker", "date", "rel_day", "ar", "u", "model", "u_adj", "null_mean"
]
VARIANCE_RATIO_COLUMNS = [
    "event", "ticker", "start", "end", "variance_ratio", "df1", "df2", "p", "model"
]


@dataclass(frozen=True)
class TableFile:
    """A table of the results folder: its file ``name``, the
    :class:`~eventstudy.output.source.ResultSource` ``method`` whose frame it holds, the
    ``columns`` it has when empty or missing (None: they vary, and a folder without the file
    reads back as None), and whether every results folder must hold it (``required``; the others
    may be missing: older runs)."""

    name: str
    method: str
    columns: Sequence[str] | None = None
    required: bool = False
    #: The measure whose table this is (written only when a study measures it: the frame
    #: method returns None otherwise).
    measure: str | None = None
    #: Written only when the study asks for it (characteristics, regressions, groups: the
    #: frame method returns None otherwise).
    asked: bool = False
    #: The study key that asks for the table (written only when the study sets it: the frame
    #: method returns None otherwise), e.g. ``calendar_time``.
    asked_by: str | None = None

    @property
    def optional(self) -> bool:
        """Read back as None when missing (the battery, the data-quality checks, a measure's
        tables, the tables a study asks for)."""
        return (
            self.columns is None
            or self.measure is not None
            or self.asked
            or self.asked_by is not None
        )

    def file_name(self, format: str = "csv") -> str:
        """The file's name in a folder of ``format`` tables (``car.csv``, ``car.parquet``)."""
        return self.name if format == "csv" else f"{Path(self.name).stem}.{format}"


#: Every table of a results folder (see the README, "Outputs").
TABLE_FILES = (
    TableFile("abnormal_returns.csv", "ar_frame", AR_COLUMNS, required=True),
    TableFile("car.csv", "car_frame", CAR_COLUMNS, required=True),
    TableFile("bhar.csv", "bhar_frame", BHAR_COLUMNS),
    TableFile("tests.csv", "tests_frame"),
    TableFile("aar.csv", "aar_frame", AAR_COLUMNS, required=True),
    TableFile("caar.csv", "caar_frame", CAAR_COLUMNS, required=True),
    TableFile("valuation.csv", "valuation_frame", VALUATION_COLUMNS),
    TableFile("params.csv", "params_frame", PARAMS_COLUMNS),
    TableFile("skipped.csv", "skipped_frame", SKIPPED_COLUMNS),
    TableFile("data_quality.csv", "quality_frame"),
    TableFile("abnormal_volume.csv", "volume_frame", VOLUME_COLUMNS, measure="volume"),
    TableFile("cav.csv", "cav_frame", CAV_COLUMNS, measure="volume"),
    TableFile(
        "abnormal_volatility.csv", "volatility_frame", VOLATILITY_COLUMNS, measure="volatility"
    ),
    TableFile(
        "variance_ratio.csv", "variance_ratio_frame", VARIANCE_RATIO_COLUMNS, measure="volatility"
    ),
    # docs/explaining.md: with characteristics, regressions and groups.
    TableFile("characteristics.csv", "characteristics_frame", ("event", "ticker"), asked=True),
    TableFile("regressions.csv", "regressions_frame", REGRESSION_COLUMNS, asked=True),
    TableFile("group_tests.csv", "group_tests_frame", GROUP_TESTS_COLUMNS, asked=True),
    TableFile("group_means.csv", "group_means_frame", GROUP_MEANS_COLUMNS, asked=True),
    TableFile(
        "calendar_time.csv", "calendar_time_frame", CALENDAR_TIME_COLUMNS, asked_by="calendar_time"
    ),
    TableFile(
        "calendar_time_returns.csv",
        "calendar_time_returns_frame",
        CALENDAR_RETURNS_COLUMNS,
        asked_by="calendar_time",
    ),
)
#: Table file -> the results frame it holds.
TABLES: dict[str, Callable[[ResultSource], pd.DataFrame | None]] = {
    t.name: methodcaller(t.method) for t in TABLE_FILES
}
#: Tables a results folder must have.
REQUIRED_TABLES = tuple(t.name for t in TABLE_FILES if t.required)
#: The study, its events and the headline results, written last (a folder with it is complete).
SUMMARY_FILE = "summary.json"
#: Formats of the table files: ``csv`` (the default) or ``parquet`` (smaller, and read back
#: several times faster: for large studies). ``summary.json`` says which (``format``; absent:
#: csv).
TABLE_FORMATS = ("csv", "parquet")
_COLUMNS = {t.name: list(t.columns or ()) for t in TABLE_FILES}
_FILES = {t.name: t for t in TABLE_FILES}
#: Columns read as text whatever they hold (a ticker "NA", an event "2024", a note).
_TEXT_COLUMNS = {
    "event",
    "ticker",
    "model",
    "note",
    "reason",
    "skipped",
    "shares_source",
    "flags",
    "test",
    "measure",
    "volume_flags",
    "regression",
    "window",
    "term",
    "cov",
    "weights",
    "formula",
    "grouping",
    "group",
    "portfolio",
    "frequency",
    "weighting",
}
_DATE_COLUMNS = {"date", "shares_as_of"}
#: Up to this many firm-events the test battery is built beside the other tables (half a second
#: less at 100k firm-events on two cores); above, after the abnormal returns' table.
BATTERY_APART_MAX = 200_000
#: Columns appended to a table after its first release: a folder written before may lack them.
_LATER_COLUMNS = {"car.csv": {"p_sq_lower", "p_sq_upper", "p_holm", "p_bh"}}


# ----------------------------------------------------------------------------- writing
def write_tables(
    results: ResultSource,
    out_dir: Path,
    figures_dir: Path | None = None,
    *,
    final_dir: Path | None = None,
    format: str = "csv",
    skip: Collection[str] = (),
) -> list[Path]:
    """Write every table and ``summary.json`` into ``out_dir``; returns the paths written.
    ``figures_dir``: where the run's charts go, recorded in ``summary.json`` (``figures``,
    relative to the folder: ``final_dir`` when ``out_dir`` is a staging folder that will be moved
    there) so that ``eventstudy report`` finds them. ``format``: of the tables
    (:data:`TABLE_FORMATS`). ``skip``: tables (their CSV names) written by someone else into
    ``out_dir`` (the Dask engine's workers write their parts of the largest ones)."""
    if format not in TABLE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(TABLE_FORMATS)}, not {format!r}")
    write = write_csv if format == "csv" else write_parquet
    out_dir = Path(out_dir)
    with staged(out_dir, last=(SUMMARY_FILE,)) as stage:

        def build(table: TableFile) -> tuple[TableFile, pd.DataFrame | None]:
            return table, TABLES[table.name](results)

        def save(built: tuple[TableFile, pd.DataFrame | None]) -> None:
            table, frame = built
            if frame is not None:  # None: a measure or table the study did not ask for
                write(frame, stage / table.file_name(format))

        # A large study builds the next table while Arrow writes this one (it lets go of the
        # GIL): each file is still written whole by one thread. The test battery, the longest
        # to build, is built in a thread of its own beside all the other tables; above
        # BATTERY_APART_MAX firm-events, after the abnormal returns (the longest to write), the
        # two working sets being too large to hold at once. The longest to build come first:
        # what the battery has to wait for at the end is then a small table.
        firm_events = sum(len(e.tickers) for e in results.events)
        first = ["ar_frame", "car_frame", "quality_frame", "valuation_frame"]
        apart = [t for t in TABLE_FILES if t.method == "tests_frame" and t.name not in skip]
        if firm_events > BATTERY_APART_MAX:
            first.insert(1, "tests_frame")
            apart = []
        tables = sorted(
            (t for t in TABLE_FILES if t.name not in skip and t not in apart),
            key=lambda t: first.index(t.method) if t.method in first else len(first),
        )
        pipeline(build, save, tables, firm_events, apart=apart)
        summary = summary_dict(results)  # from the frames the tables cached
        if figures_dir is not None:
            base = Path(final_dir or out_dir).absolute()
            where = os.path.relpath(Path(figures_dir).absolute(), base)
            summary["figures"] = Path(where).as_posix()
        if format != "csv":
            summary["format"] = format
        text = json_text(summary)
        (stage / SUMMARY_FILE).write_text(text + "\n", encoding="utf-8")
        names = [p.name for p in stage.iterdir()]
    return [out_dir / n for n in sorted(names)]


def stale_tables(directory: Path, written: set[str]) -> list[Path]:
    """The table files in ``directory`` that a run which wrote the files ``written`` (names) did
    not write: the other format's, left by an earlier run (nothing when it wrote no table), and
    the folders of Parquet parts the Dask engine writes (``abnormal_returns/``), which a table
    written whole replaces (and the other way round)."""
    every = {t.file_name(f) for t in TABLE_FILES for f in TABLE_FORMATS}
    every |= {_part_folder(t.name) for t in TABLE_FILES}
    if not every & written:
        return []
    return [directory / n for n in sorted(every - written) if _is_table(directory / n)]


def _is_table(path: Path) -> bool:
    """A table file, or a folder of Parquet parts (a folder holding other things is not ours)."""
    return path.is_file() or (path.is_dir() and any(path.glob("part-*.parquet")))


def _part_folder(name: str) -> str:
    """The folder of Parquet parts of the table ``name`` (its CSV name): ``abnormal_returns``."""
    return Path(name).stem


# ----------------------------------------------------------------------------- reading back
@dataclass
class StoredResults:
    """A study's results read back from the folder ``eventstudy run`` wrote.

    A :class:`~eventstudy.output.source.ResultSource`: the frame methods (the tables of
    :data:`TABLE_FILES`), ``title``, ``events`` (rebuilt from ``summary.json``), ``day0_dates``,
    ``model_labels`` and ``meta``; ``panel`` is None (the returns panel is not written out), so
    the charts drawn from it cannot be drawn from these. :meth:`tests_frame` and
    :meth:`quality_frame` are None when the folder has no ``tests.csv`` / ``data_quality.csv``."""

    directory: Path
    title: str
    events: list[ResolvedEvent]
    day0_dates: list[dt.date]
    model_labels: list[str]
    meta: dict[str, Any]
    min_obs_known: bool = False
    #: Where the run drew its charts (``summary.json``'s ``figures``), if it drew any.
    figures_dir: Path | None = None
    #: The tables read, by their CSV file name (:attr:`TableFile.name`).
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    #: The calendar-time regression's settings (``summary.json``'s ``calendar_time``), if any.
    calendar_time_info: dict[str, Any] | None = None
    panel: None = None
    _measure_tables: dict[str, pd.DataFrame | None] = field(
        default_factory=dict, init=False, repr=False
    )
    #: The tables' format (:data:`TABLE_FORMATS`).
    format: str = "csv"

    @classmethod
    def load(cls, directory: Path | str) -> StoredResults:
        """Read ``summary.json`` and the tables; a one-line :class:`EventStudyError` when the
        folder is not a results folder or a file is unreadable."""
        directory = Path(directory)
        # A commit a killed run left half done is finished first, and none runs while we read.
        with settled(directory):
            return cls._load(directory)

    @classmethod
    def _load(cls, directory: Path) -> StoredResults:
        summary_path = directory / SUMMARY_FILE
        if not directory.is_dir():
            raise EventStudyError(f"results folder {directory} not found")
        if not summary_path.is_file():
            raise EventStudyError(
                f"{directory} is not a results folder (no summary.json): run `eventstudy run` first"
            )
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EventStudyError(f"{summary_path}: cannot read ({exc})") from None
        table_format = summary.get("format", "csv") if isinstance(summary, dict) else "csv"
        if table_format not in TABLE_FORMATS:
            raise EventStudyError(f"{summary_path}: unexpected content (format {table_format!r})")
        frames = {
            t.name: _read(directory, t.name, table_format) for t in TABLE_FILES if not t.optional
        }
        missing = [
            _FILES[name].file_name(table_format) for name in REQUIRED_TABLES if frames[name] is None
        ]
        if missing:
            raise EventStudyError(
                f"{directory}: {', '.join(missing)} missing (not a complete `eventstudy run` "
                "output)"
            )
        bhar = frames["bhar.csv"]
        quality = _read(directory, "data_quality.csv", table_format)
        min_obs_of: dict[str, int] = {}
        if quality is not None and {"event", "min_obs"} <= set(quality.columns):
            for event, value in zip(quality["event"], quality["min_obs"], strict=True):
                if pd.notna(value):
                    min_obs_of.setdefault(str(event), int(value))
        events, day0s, labels = [], [], []
        min_known = True
        try:
            for entry in summary["events"]:
                name = str(entry["name"])
                bhar_windows: tuple[tuple[int, int], ...] = ()
                if bhar is not None and len(bhar):
                    mine = bhar[bhar["event"] == name]
                    bhar_windows = tuple(
                        dict.fromkeys(
                            (int(a), int(b))
                            for a, b in zip(mine["start"], mine["end"], strict=True)
                        )
                    )
                min_obs = entry.get("min_estimation_obs", min_obs_of.get(name))
                min_known = min_known and min_obs is not None
                events.append(
                    ResolvedEvent(
                        name=name,
                        date=dt.date.fromisoformat(entry["date"]),
                        tickers=tuple(str(t) for t in entry["tickers"]),
                        market=str(entry["market"]),
                        model=str(entry["model"]),
                        factors=tuple(entry.get("factors") or ()),
                        dimson_lags=int(entry.get("dimson_lags") or 1),
                        estimation_window=tuple(entry["estimation_window"]),
                        event_window=tuple(entry["event_window"]),
                        car_windows=tuple(tuple(w) for w in entry["car_windows"]),
                        bhar_windows=tuple(entry.get("bhar_windows") or bhar_windows),
                        timing=entry.get("timing", "close"),
                        min_estimation_obs=int(min_obs or DEFAULT_MIN_ESTIMATION_OBS),
                        measures=tuple(entry.get("measures") or DEFAULTS.measures),
                        volume_model=entry.get("volume_model") or DEFAULTS.volume_model,
                        volatility_model=(
                            entry.get("volatility_model") or DEFAULTS.volatility_model
                        ),
                        bhar_benchmark=entry.get("bhar_benchmark") or DEFAULTS.bhar_benchmark,
                        reference_portfolio=tuple(entry.get("reference_portfolio") or ()),
                        bhar_resamples=int(entry.get("bhar_resamples") or 0),
                        multiple_testing=(
                            entry.get("multiple_testing") or DEFAULTS.multiple_testing
                        ),
                    )
                )
                day0s.append(dt.date.fromisoformat(entry["day0_date"]))
                labels.append(str(entry.get("model_label") or entry["model"]))
            title = str(summary["study"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EventStudyError(f"{summary_path}: unexpected content ({exc})") from None
        return cls(
            directory=directory,
            title=title,
            events=events,
            day0_dates=day0s,
            model_labels=labels,
            meta=dict(summary.get("meta") or {}),
            min_obs_known=min_known,
            figures_dir=(directory / summary["figures"]) if summary.get("figures") else None,
            frames={k: v for k, v in frames.items() if v is not None},
            calendar_time_info=summary.get("calendar_time"),
            format=table_format,
        )

    def _frame(self, name: str) -> pd.DataFrame:
        """The table ``name`` as read; a missing or empty file gives an empty frame with the
        table's columns (so code can still select them)."""
        frame = self.frames.get(name)
        if frame is None or (frame.empty and not len(frame.columns)):
            return pd.DataFrame(columns=_COLUMNS[name])
        return frame.copy()

    def ar_frame(self) -> pd.DataFrame:
        return self._frame("abnormal_returns.csv")

    def car_frame(self) -> pd.DataFrame:
        return self._frame("car.csv")

    def bhar_frame(self) -> pd.DataFrame:
        return self._frame("bhar.csv")

    def aar_frame(self) -> pd.DataFrame:
        return self._frame("aar.csv")

    def caar_frame(self) -> pd.DataFrame:
        return self._frame("caar.csv")

    def valuation_frame(self) -> pd.DataFrame:
        return self._frame("valuation.csv")

    def params_frame(self) -> pd.DataFrame:
        return self._frame("params.csv")

    def skipped_frame(self) -> pd.DataFrame:
        return self._frame("skipped.csv")

    def _measure_table(self, name: str) -> pd.DataFrame | None:
        """A measure's table, read once (the charts and tables ask per event), or None."""
        if name not in self._measure_tables:
            frame = _read(self.directory, name, self.format)
            if frame is not None and frame.empty and not len(frame.columns):
                frame = pd.DataFrame(columns=_COLUMNS[name])
            self._measure_tables[name] = frame
        frame = self._measure_tables[name]
        return None if frame is None else frame.copy()

    def volume_frame(self) -> pd.DataFrame | None:
        """``abnormal_volume.csv``, or None when the study did not measure volume."""
        return self._measure_table("abnormal_volume.csv")

    def cav_frame(self) -> pd.DataFrame | None:
        return self._measure_table("cav.csv")

    def volatility_frame(self) -> pd.DataFrame | None:
        """``abnormal_volatility.csv``, or None when the study did not measure volatility."""
        return self._measure_table("abnormal_volatility.csv")

    def variance_ratio_frame(self) -> pd.DataFrame | None:
        return self._measure_table("variance_ratio.csv")

    def regressions_frame(self) -> pd.DataFrame | None:
        """``regressions.csv``, or None when the study fitted no regression."""
        return self._measure_table("regressions.csv")

    def group_tests_frame(self) -> pd.DataFrame | None:
        """``group_tests.csv``, or None when the study compared no groups."""
        return self._measure_table("group_tests.csv")

    def group_means_frame(self) -> pd.DataFrame | None:
        return self._measure_table("group_means.csv")

    def characteristics_frame(self) -> pd.DataFrame | None:
        """``characteristics.csv`` typed as the study read it (a column of numbers numeric,
        others text), or None when the study had no characteristics."""
        from eventstudy.explain.characteristics import characteristics_table

        path = self.directory / _FILES["characteristics.csv"].file_name(self.format)
        if not path.is_file():
            return None
        if self.format == "csv":
            _check_complete(path)
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
                raise EventStudyError(f"{path}: cannot read ({exc})") from None
            for column in frame.columns:
                frame[column] = unneutralise(frame[column])
        else:  # as text, as the CSV reads (the table parses numbers itself)
            read = _read_parquet(path)
            assert read is not None
            frame = read.astype(object).where(read.notna(), "").map(str)
        try:
            return characteristics_table(frame, str(path))
        except EventStudyError as exc:
            raise EventStudyError(f"{exc} (not the table eventstudy writes)") from None

    def calendar_time_frame(self) -> pd.DataFrame | None:
        """``calendar_time.csv``, or None when the study asked for no calendar-time portfolio."""
        return self._measure_table("calendar_time.csv")

    def calendar_time_returns_frame(self) -> pd.DataFrame | None:
        return self._measure_table("calendar_time_returns.csv")

    @cached_property
    def _tests(self) -> pd.DataFrame | None:
        return _read(self.directory, "tests.csv", self.format)

    def tests_frame(self) -> pd.DataFrame | None:
        """The test battery (``tests.csv``), or None when the run did not write it."""
        return None if self._tests is None else self._tests.copy()

    @cached_property
    def _quality(self) -> pd.DataFrame | None:
        return _read(self.directory, "data_quality.csv", self.format)

    def quality_frame(self) -> pd.DataFrame | None:
        """The data-quality checks (``data_quality.csv``), or None."""
        return None if self._quality is None else self._quality.copy()


def _check_complete(path: Path) -> None:
    """A table :func:`write_tables` wrote ends with a line break and has the header of its
    :class:`TableFile`: anything else is a damaged or foreign file, refused naming it (a report
    from half a table would pass off partial results as complete)."""
    try:
        with path.open("rb") as fh:
            first = fh.readline().decode("utf-8", "replace").rstrip("\r\n")
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(size - 1, 0))
            last = fh.read(1)
    except OSError as exc:
        raise EventStudyError(f"{path}: cannot read ({exc.strerror})") from None
    if size and last != b"\n":
        raise EventStudyError(
            f"{path}: the file is cut short (its last line is incomplete); run the study again"
        )
    expected = _COLUMNS.get(path.name)
    if path.name == "params.csv":  # the model's parameters stand between sigma and skipped
        expected = PARAMS_COLUMNS[:-1]
    if expected and path.name in _LATER_COLUMNS:  # folders written before they were added
        expected = [c for c in expected if c not in _LATER_COLUMNS[path.name]]
    if expected and first.split(",")[: len(expected)] != expected:
        raise EventStudyError(f"{path}: not the table eventstudy writes (its header differs)")


def _read(directory: Path, name: str, table_format: str) -> pd.DataFrame | None:
    """The table ``name`` (its CSV name) of a folder of ``table_format`` tables, or None; a
    Parquet table may be a folder of parts (the Dask engine's workers write them), read as one
    table in the parts' order."""
    path = directory / _FILES[name].file_name(table_format)
    parts = directory / _part_folder(name)
    if table_format == "parquet" and not path.exists() and parts.is_dir():
        path = parts
    return _read_table(path) if table_format == "csv" else _read_parquet(path)


def _read_parquet(path: Path) -> pd.DataFrame | None:
    """A results table in Parquet, as written (types kept); None when the file does not exist.
    ``path`` may be a folder of parts (read in the order of their names)."""
    if not path.exists():
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise EventStudyError(f"{path}: cannot read ({exc})") from None
    expected = _COLUMNS.get(f"{path.stem}.csv")
    if path.stem == "params":  # the model's parameters stand between sigma and skipped
        expected = PARAMS_COLUMNS[:-1]
    if expected and list(frame.columns[: len(expected)]) != expected:
        raise EventStudyError(f"{path}: not the table eventstudy writes (its columns differ)")
    # As a CSV table reads back: dates as dates, an empty text as missing.
    for column in frame.columns:
        if column in _DATE_COLUMNS and not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
        elif column in _TEXT_COLUMNS and (frame[column] == "").any():
            frame[column] = frame[column].where(frame[column] != "")
    return frame


def _read_table(path: Path) -> pd.DataFrame | None:
    """A results CSV with text columns kept as text (a ticker ``NA`` stays ``NA``); None when the
    file does not exist."""
    if not path.is_file():
        return None
    _check_complete(path)
    try:
        header = pd.read_csv(path, nrows=0).columns
        frame = pd.read_csv(
            path,
            dtype={c: str for c in header if c in _TEXT_COLUMNS},
            keep_default_na=False,
            na_values=[""],
        )
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise EventStudyError(f"{path}: cannot read ({exc})") from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    for column in frame.columns:
        if column in _DATE_COLUMNS:
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
        elif column in _TEXT_COLUMNS:
            frame[column] = unneutralise(frame[column])
    return frame
