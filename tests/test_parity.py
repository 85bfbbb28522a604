"""Every number the program writes equals, to the last digit, what it wrote before the package was
laid out as the pipeline (issue "One concept, one place").

The reference outputs in ``tests/reference/parity/`` were written by main at commit 6f5d87b
(the flat package) from the real sample in ``../shared/data``, with these commands:

* ``events``, ``models``, ``logclose``, ``wide``: ``eventstudy run STUDY --prices prices.csv
  --shares shares.csv --factors ff_factors_daily.csv --offline --no-figures`` for ``events.yaml``,
  ``examples/models.yaml`` and the two study files beside the references (every model, both
  timings, log returns from unadjusted closes, BHAR windows, per-event overrides);
* ``events/tables.tex``: ``eventstudy report`` of the ``events`` folder (``--no-figures``);
* ``synthetic``: ``synthetic_study.py`` beside the references (the library's events-frame path on
  degraded synthetic data: missing returns, thin trading, late listings, fat tails, skipped firms).

Files are compared byte for byte; the only rewrite is the price/shares/factor file paths that
``summary.json`` records, which name where the sample was when the references were written.

Deliberate changes since, checked as such: ``caar.csv`` gained the pooled rows
(``event == "all"``) after the per-event rows, for studies of more than one event; ``tables.tex``
wraps each tabular in an ``adjustbox`` (wide tables shrink to the text width) and says so in its
header comment, which is left out of the comparison; ``summary.json`` no longer holds
per-firm-event records (issue #16: 197 MB at 100k firm-events; README, "Outputs"), so its
references alone were written again, by the same commands, when that changed.
"""

from __future__ import annotations

import gzip
import runpy
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstudy.cli import main

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).with_name("reference") / "parity"
STUDIES = {
    "events": REPO / "events.yaml",
    "models": REPO / "examples" / "models.yaml",
    "logclose": REFERENCE / "logclose.yaml",
    "wide": REFERENCE / "wide.yaml",
}
#: Tables that gained rows after the reference rows since the references were written: the start
#: of every added line.
ADDED_ROWS = {"caar.csv": "all,"}
#: How the references name the sample folder in summary.json.
REFERENCE_SAMPLE = "../shared/data"


def _reference(study: str) -> dict[str, bytes]:
    return {
        p.name[: -len(".gz")]: gzip.decompress(p.read_bytes())
        for p in (REFERENCE / study).glob("*.gz")
    }


def _assert_same_files(
    got_dir: Path, study: str, sample: Path, names: set[str] | None = None
) -> None:
    expected = _reference(study)
    if names is not None:
        expected = {k: v for k, v in expected.items() if k in names}
    got = {p.name: p.read_bytes() for p in got_dir.iterdir() if p.is_file()}
    assert set(expected) <= set(got), f"{study}: missing {sorted(set(expected) - set(got))}"
    for name, want in expected.items():
        have = got[name].replace(str(sample).encode(), REFERENCE_SAMPLE.encode())
        if name == "tables.tex":
            have, want = _without_wrapping(have), _without_wrapping(want)
        if name in ADDED_ROWS and have.startswith(want) and have != want:
            added = have[len(want) :].decode().splitlines()
            assert all(line.startswith(ADDED_ROWS[name]) for line in added), added[:3]
            have = want
        if have != want:
            lines = zip(have.decode().splitlines(), want.decode().splitlines(), strict=False)
            first = next(((i, a, b) for i, (a, b) in enumerate(lines, 1) if a != b), None)
            pytest.fail(f"{study}/{name} differs from the reference; first differing line: {first}")


def _without_wrapping(tex: bytes) -> bytes:
    """LaTeX without the adjustbox lines and the header comment (the deliberate change)."""
    lines = tex.decode().splitlines()
    keep = [
        line
        for line in lines
        if not line.startswith(("\\begin{adjustbox}", "\\end{adjustbox}", "% Needs", "\\input"))
    ]
    return "\n".join(keep).encode()


def _run(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.sample
@pytest.mark.parametrize("study", sorted(STUDIES))
def test_study_tables_equal_the_reference(study: str, sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / study
    _run(
        [
            "run",
            str(STUDIES[study]),
            "--prices",
            str(sample_dir / "prices.csv"),
            "--shares",
            str(sample_dir / "shares.csv"),
            "--factors",
            str(sample_dir / "ff_factors_daily.csv"),
            "--offline",
            "--no-figures",
            "--out",
            str(out),
            "-q",
        ]
    )
    _assert_same_files(
        out, study, sample_dir, names={n for n in _reference(study) if n != "tables.tex"}
    )
    if study == "events":
        report = tmp_path / "report"
        _run(["report", str(out), "--no-figures", "--out", str(report), "-q"])
        _assert_same_files(report, study, sample_dir, names={"tables.tex"})


def test_synthetic_library_study_equals_the_reference(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["synthetic_study.py", str(tmp_path)])
    runpy.run_path(str(REFERENCE / "synthetic_study.py"), run_name="__main__")
    _assert_same_files(tmp_path, "synthetic", Path("/nonexistent"))
