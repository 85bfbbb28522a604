"""Hostile inputs, generated class by class, through `eventstudy run` over a folder holding an
earlier run's outputs and a local price store. Each one ends with exit status 2 and exactly one
printable line naming the file, field, ticker or date; no traceback; the earlier outputs and the
store stay byte for byte, and no staging folder is left behind.

Classes of the issue tested elsewhere, because they are no error or not `run`'s:
formula-injection names are written spreadsheet-safe (tests/test_output.py, and the report's
escaping in tests/test_report.py); the market ticker among an event's firms is left out with the
reason (tests/test_estimation.py, tests/test_dask.py; here it is an error only when it leaves
nothing to fit); frames of the wrong kind passed to the library (tests/test_inputs.py); a damaged
results folder given to `eventstudy report` (tests/test_report.py); an unreachable Dask
scheduler (tests/test_dask.py).
"""

from __future__ import annotations

import bz2
import functools
import gzip
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstudy.cli import main
from eventstudy.data.store import STORE_FILENAME
from eventstudy.study import MAX_NAME_LENGTH, MAX_TICKER_LENGTH, MAX_WINDOW_DAYS

pytestmark = pytest.mark.sample

BASE = """\
study: Hostile
market: ^GSPC
model: market
estimation_window: [-250, -11]
event_window: [-5, 5]
car_windows: [[0, 0], [-1, 1]]
bhar_windows: [[0, 5]]
events:
  - name: R1
    date: 2025-01-27
    tickers: [NVDA, AVGO]
"""
LINES = BASE.splitlines(keepends=True)
MODEL_LINE = 3  # line number of "model: market"
EVENT_LINE = 9  # line number of "  - name: R1"


@dataclass(frozen=True)
class Hostile:
    """One input: the study file's bytes, and optionally a price file or store file to use."""

    study: bytes
    expected: tuple[str, ...]  # what the error line names ({study}, {prices}, {store}: paths)
    prices: bytes | None = None  # a --prices file instead of the sample's
    store: bytes | None = None  # replaces the store file; the run reads it (--offline)


def after_line(n: int, text: str) -> bytes:
    """BASE with ``text`` inserted after its line ``n``."""
    return "".join([*LINES[:n], text, *LINES[n:]]).encode()


def replaced(old: str, new: str) -> bytes:
    assert old in BASE
    return BASE.replace(old, new, 1).encode()


# -- study files -----------------------------------------------------------------------------------


def alias_bombs() -> Iterator[tuple[str, Hostile]]:
    """A "billion laughs": each level lists the one before nine times."""
    for depth in (2, 6, 12):
        levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]\n"] + [
            f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, depth)
        ]
        line = MODEL_LINE + 1
        yield f"depth {depth}", Hostile(
            after_line(MODEL_LINE, "".join(levels)),
            (f"{{study}}, line {line}: YAML anchors and aliases (&name, *name) are not allowed",),
        )
    yield "alias of an undefined anchor", Hostile(
        after_line(MODEL_LINE, "timing: *t\n"), (f"line {MODEL_LINE + 1}: YAML anchors",)
    )
    yield "anchor inside an event", Hostile(
        replaced("  - name: R1", "  - name: &n R1"), (f"line {EVENT_LINE}: YAML anchors",)
    )


def duplicate_keys() -> Iterator[tuple[str, Hostile]]:
    end = len(LINES)
    for key, value in (("model", "constant_mean"), ("event_window", "[-1, 1]"),
                       ("study", "Other")):  # fmt: skip
        yield f"top-level {key}", Hostile(
            (BASE + f"{key}: {value}\n").encode(),
            (f"{{study}}, line {end + 1}: key '{key}' is given twice in the same mapping",),
        )
    yield "events", Hostile(
        (BASE + "events:\n  - {name: B, date: 2025-01-27, tickers: [NVDA]}\n").encode(),
        (f"line {end + 1}: key 'events' is given twice",),
    )
    for key, value in (("date", "2025-01-28"), ("tickers", "[AVGO]"), ("name", "R2")):
        yield f"event {key}", Hostile(
            (BASE + f"    {key}: {value}\n").encode(),
            (f"line {end + 1}: key '{key}' is given twice",),
        )


CONTROL = {"NUL": 0x00, "BEL": 0x07, "ESC": 0x1B, "DEL": 0x7F, "NEL": 0x85,
           "line separator": 0x2028, "right-to-left override": 0x202E}  # fmt: skip


def control_characters() -> Iterator[tuple[str, Hostile]]:
    for label, code in CONTROL.items():
        escaped = f"\\u{code:04x}"  # YAML's escape: the file itself stays printable
        for field, old, new in (
            ("events[0].name", "name: R1", f'name: "R{escaped}1"'),
            ("study", "study: Hostile", f'study: "Hos{escaped}tile"'),
            ("events[0].tickers", "[NVDA, AVGO]", f'[NVDA, "AV{escaped}GO"]'),
            ("market", "market: ^GSPC", f'market: "^GS{escaped}PC"'),
        ):
            yield f"{label} in {field}", Hostile(
                replaced(old, new), (f"{field}: ", f"the control character U+{code:04X}")
            )
    for label, raw in (("NUL", b"\x00"), ("ESC", b"\x1b"), ("DEL", b"\x7f")):
        # Unescaped in the file: YAML refuses the character itself.
        yield f"raw {label} byte", Hostile(
            BASE.encode().replace(b"name: R1", b"name: R" + raw + b"1"),
            ("{study}", f"line {EVENT_LINE}"),
        )


def long_names() -> Iterator[tuple[str, Hostile]]:
    over = MAX_NAME_LENGTH + 1
    for field, old, new, limit in (
        ("events[0].name", "name: R1", "name: " + "R" * over, MAX_NAME_LENGTH),
        ("study", "study: Hostile", "study: " + "H" * 100_000, MAX_NAME_LENGTH),
        ("events[0].tickers", "[NVDA, AVGO]", f"[NVDA, {'A' * (MAX_TICKER_LENGTH + 1)}]",
         MAX_TICKER_LENGTH),
        ("market", "market: ^GSPC", "market: " + "M" * 5000, MAX_TICKER_LENGTH),
    ):  # fmt: skip
        yield field, Hostile(replaced(old, new), (f"{field}: ", f"longer than {limit} characters"))
    yield "a long bad value", Hostile(
        after_line(MODEL_LINE, "timing: " + "x" * 5000 + "\n"),
        ("timing: '" + "x" * 54 + " ...' is not",),
    )
    yield "the pooled sample's name", Hostile(
        replaced("name: R1", "name: all"), ("events[0].name: 'all' names the pooled sample",)
    )


def huge_windows() -> Iterator[tuple[str, Hostile]]:
    for value in (MAX_WINDOW_DAYS + 1, 99_999_999_999, 2**63):
        for field, old, new in (
            ("event_window", "event_window: [-5, 5]", f"event_window: [-5, {value}]"),
            ("estimation_window", "[-250, -11]", f"[-{value}, -11]"),
            ("car_windows", "[[0, 0], [-1, 1]]", f"[[0, 0], [-1, {value}]]"),
            ("bhar_windows", "[[0, 5]]", f"[[0, {value}]]"),
            ("events[0].event_window", "    date: 2025-01-27",
             f"    date: 2025-01-27\n    event_window: [-{value}, 5]"),
        ):  # fmt: skip
            yield f"{field} {value}", Hostile(
                replaced(old, new),
                (f"{field}", f"{value} is more than {MAX_WINDOW_DAYS:,} trading days from day 0"),
            )


def nothing_fittable() -> Iterator[tuple[str, Hostile]]:
    # Events early in the sample (it starts 2023-10-02): fewer returns than the minimum 100.
    for date, returns in (("2024-02-01", 73), ("2024-01-02", 52)):
        yield f"too short a history before {date}", Hostile(
            replaced("[-250, -11]", "[-150, -11]").replace(b"2025-01-27", date.encode()),
            ("no firm-event could be fitted (2 skipped): R1/NVDA: "
             f"{returns} estimation-window returns, fewer than the minimum 100; R1/AVGO:",),
        )  # fmt: skip
    yield "the market as the only firm", Hostile(
        replaced("[NVDA, AVGO]", "[^GSPC]"), ("no firm-event could be fitted", "R1/^GSPC")
    )


# -- price files and stores ------------------------------------------------------------------------


def price_files(sample: bytes) -> Iterator[tuple[str, Hostile]]:
    header, _, body = sample.partition(b"\n")
    study = BASE.encode()
    for name, twice in (("close", b",close"), ("ticker", b",ticker"), ("date", b",Date")):
        rows = b"\n".join(row + b",1" for row in body.splitlines())
        yield f"column {name} twice", Hostile(
            study, (f"{{prices}}, line 1: column {name} appears twice",),
            prices=header + twice + b"\n" + rows,
        )
    for label, head in (("long", header), ("wide", b"date,NVDA,AVGO,^GSPC")):
        yield f"{label} header without rows", Hostile(
            study, ("{prices}, line 1: a header and no rows",), prices=head + b"\n"
        )
    for label, packed in (("gzip", gzip.compress(sample)), ("bzip2", bz2.compress(sample))):
        yield f"{label} file", Hostile(
            study, (f"{{prices}}: a {label}-compressed file; decompress it first",), prices=packed
        )
    for day in ("2024-03-15", "2024-07-01", "2025-01-24"):
        kept = [row for row in body.splitlines() if not row.startswith(b"^GSPC," + day.encode())]
        assert len(kept) == len(body.splitlines()) - 1
        yield f"market session {day} missing", Hostile(
            study,
            (f"the market series ^GSPC has no price on {day}, a session XNYS held",),
            prices=header + b"\n" + b"\n".join(kept) + b"\n",
        )


def stores() -> Iterator[tuple[str, Hostile]]:
    def sqlite_file(*statements: str) -> bytes:
        with sqlite3.connect(":memory:") as conn:
            for statement in statements:
                conn.execute(statement)
            return conn.serialize()

    study = BASE.encode()
    yield "another program's database", Hostile(
        study,
        ("{store} is not an eventstudy price store (it holds the tables invoices); it was left "
         "untouched",),
        store=sqlite_file("CREATE TABLE invoices (id INTEGER)", "INSERT INTO invoices VALUES (1)"),
    )  # fmt: skip
    yield "a store's tables without its version", Hostile(
        study,
        ("{store} is not an eventstudy price store",),
        store=sqlite_file("CREATE TABLE prices (ticker TEXT)"),
    )
    yield "a store of a newer eventstudy", Hostile(
        study,
        ("price store {store} was written by a newer eventstudy (schema 99",),
        store=sqlite_file("CREATE TABLE prices (ticker TEXT)", "PRAGMA user_version = 99"),
    )
    yield "not a database", Hostile(
        study,
        ("price store {store}: file is not a database; it is damaged or not a price store",),
        store=b"not a database, " * 512,
    )


# -- the runs --------------------------------------------------------------------------------------


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    """A good run's outputs and the store it filled (``out/``, ``cache/``)."""
    base = tmp_path_factory.mktemp("previous")
    study = base / "study.yaml"
    study.write_text(BASE)
    result = CliRunner().invoke(main, ["run", str(study), "--sample", "deepseek",
                                       "--out", str(base / "out"), "--cache-dir",
                                       str(base / "cache"), "--report", "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = sorted(files(base / "cache"))  # the store, and the sample's prices beside it
    assert stored[0] == STORE_FILENAME and len(stored) == 2
    assert stored[1].startswith(f"{STORE_FILENAME}.files/") and stored[1].endswith(".parquet")
    return base


@functools.cache
def _cases(sample_dir: Path) -> dict[str, Hostile]:
    sample = (sample_dir / "prices.csv").read_bytes()
    classes = {
        "alias bomb": alias_bombs(),
        "duplicate key": duplicate_keys(),
        "control character": control_characters(),
        "long name": long_names(),
        "huge window": huge_windows(),
        "nothing fittable": nothing_fittable(),
        "price file": price_files(sample),
        "store": stores(),
    }
    return {
        f"{kind}: {case}": hostile for kind, cases in classes.items() for case, hostile in cases
    }


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        from eventstudy.datasets import sample_folder

        metafunc.parametrize("case", sorted(_cases(sample_folder("deepseek"))))


def test_a_hostile_input_is_one_line_and_changes_nothing(
    case: str, previous: Path, tmp_path: Path, sample_dir: Path
) -> None:
    hostile = _cases(sample_dir)[case]
    shutil.copytree(previous / "out", tmp_path / "out")
    shutil.copytree(previous / "cache", tmp_path / "cache")
    study = tmp_path / "study.yaml"
    study.write_bytes(hostile.study)
    prices, store = tmp_path / "prices.csv", tmp_path / "cache" / STORE_FILENAME
    args = ["run", str(study), "--out", str(tmp_path / "out"), "--cache-dir",
            str(tmp_path / "cache"), "--no-figures"]  # fmt: skip
    if hostile.store is not None:
        store.write_bytes(hostile.store)
        args.append("--offline")
    else:
        prices.write_bytes(hostile.prices or (sample_dir / "prices.csv").read_bytes())
        args += ["--prices", str(prices), "--shares", str(sample_dir / "shares.csv")]
    outputs, stored = files(tmp_path / "out"), files(tmp_path / "cache")

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("eventstudy: error: ") and line.isprintable(), line
    for expected in hostile.expected:
        assert expected.format(study=study, prices=prices, store=store) in line, line
    assert len(line) < 500, line
    assert result.stdout == "" and "Traceback" not in result.output
    assert files(tmp_path / "out") == outputs
    assert files(tmp_path / "cache") == stored
    assert not list(tmp_path.glob(".out.staging-*"))
