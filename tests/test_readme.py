"""The README's library example runs as written (from the repository root) and prints NVDA's AR."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import matplotlib

from .conftest import REPO


def test_readme_library_example_runs(sample_dir: Path) -> None:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    matplotlib.use("Agg")
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        with contextlib.redirect_stdout(out):
            namespace: dict = {}
            exec(compile(blocks[0], "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert "NVDA day-0 AR -13.21% (t = -5.05)" in out.getvalue()
    assert namespace["fig"].axes
