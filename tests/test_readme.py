"""The README's library example runs as written (from the repository root) and prints NVDA's AR."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import matplotlib

from .conftest import REPO


def test_readme_library_example_runs(tmp_path: Path) -> None:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    matplotlib.use("Agg")
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)  # the example writes r1-results/ where it runs
        with contextlib.redirect_stdout(out):
            namespace: dict = {}
            exec(compile(blocks[0], "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    printed = out.getvalue()
    assert "NVDA day-0 AR -13.21% (t = -5.05)" in printed
    assert printed.startswith("<EventStudyResults 'Event study': 1 event(s), 3 firm-events fitted")
    assert "R1 sell-off: day 0 = 2025-01-27" in printed
    assert namespace["fig"].axes
    saved = {p.name for p in namespace["written"]}
    assert {"car.csv", "summary.json", "r1-sell-off_car.png"} <= saved
    assert (tmp_path / "r1-results" / "figures" / "r1-sell-off_car.png").is_file()
