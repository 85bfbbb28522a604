"""A price store in a folder this user cannot write: an offline run reads it and leaves it as it
was (no write-ahead log or lock file beside it); writing to it is one line naming the read-only
folder.

Tests run as root, for whom nothing is read-only, so the commands run in a subprocess without
root's power to pass over file permissions (setpriv drops CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH; the interpreter stays reachable wherever it is installed). Run by any other
user, they run as that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventstudy.data.sources.csv import read_prices_csv, read_shares_csv
from eventstudy.data.store import STORE_FILENAME, PriceStore

pytestmark = [
    pytest.mark.sample,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions"),
]

STUDY = """\
study: Read-only store
market: ^GSPC
estimation_window: [-250, -11]
event_window: [-5, 5]
events:
  - {name: R1, date: 2025-01-27, tickers: [NVDA, AVGO]}
"""


def unprivileged() -> list[str]:
    """What to put before a command so that file permissions apply to it."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv (util-linux) to drop the override of permissions")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*unprivileged(), sys.executable, *args], capture_output=True, text=True, timeout=300
    )


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def store(tmp_path: Path, sample_dir: Path) -> Iterator[Path]:
    """A store holding the sample, its file and folder made read-only."""
    folder = tmp_path / "store"
    PriceStore(folder).put_prices(read_prices_csv(sample_dir / "prices.csv"), "csv:prices.csv")
    PriceStore(folder).put_shares(read_shares_csv(sample_dir / "shares.csv"))
    (folder / STORE_FILENAME).chmod(0o444)
    folder.chmod(0o555)
    assert sorted(files(folder)) == [STORE_FILENAME]
    probe = run("-c", f"open({str(folder / STORE_FILENAME)!r}, 'r+b')")
    assert probe.returncode != 0 and "PermissionError" in probe.stderr  # read-only indeed
    yield folder
    folder.chmod(0o755)  # for pytest's clean-up


def test_an_offline_run_reads_a_read_only_store_and_leaves_it_as_it_was(
    store: Path, tmp_path: Path
) -> None:
    before = files(store)
    study = tmp_path / "study.yaml"
    study.write_text(STUDY)
    out = tmp_path / "out"
    proc = run("-m", "eventstudy.cli", "run", str(study), "--offline", "--cache-dir", str(store),
               "--out", str(out), "--no-figures")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert next(line for line in proc.stdout.splitlines() if line.startswith("NVDA"))
    assert "local store: prices.csv (" in (out / "summary.json").read_text()
    assert files(store) == before


@pytest.mark.parametrize("command", ["cache import", "run --prices"])
def test_writing_to_a_read_only_store_is_one_line_naming_the_folder(
    store: Path, tmp_path: Path, sample_dir: Path, command: str
) -> None:
    before = files(store)
    prices = str(sample_dir / "prices.csv")
    if command == "cache import":
        args = ["cache", "import", prices]
    else:
        study = tmp_path / "study.yaml"
        study.write_text(STUDY)
        args = ["run", str(study), "--prices", prices, "--out", str(tmp_path / "out"),
                "--no-figures"]  # fmt: skip
    proc = run("-m", "eventstudy.cli", *args, "--cache-dir", str(store))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"eventstudy: error: price store {store / STORE_FILENAME}: the folder {store} is "
        "read-only, so nothing can be stored in it; choose another cache folder (--cache-dir or "
        "EVENTSTUDY_CACHE_DIR)"
    ]
    assert files(store) == before
    assert not (tmp_path / "out").exists()
