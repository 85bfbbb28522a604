"""The HTML/Markdown report of the default study (events.yaml on the real sample), checked by
content, for escaping and atomic writing, and opened in headless Chromium.

The Chromium test drives the browser over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: fds 3 and 4, NUL-separated JSON), so it needs no extra package. It
skips where Chromium is not installed, unless ``EVENTSTUDY_REQUIRE_CHROMIUM`` is set (as in
``.ci/run``, which installs it), where that is a failure. Its screenshots are left in the test's
temporary folder (``report_top.png``, ``report_full.png``; the path is printed)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from PIL import Image

from eventstudy.errors import EventStudyError
from eventstudy.event_study import Event, EventStudy
from eventstudy.output import plots as plotting
from eventstudy.output.folder import StoredResults, write_tables
from eventstudy.output.report import build_report, md_escape, report_context
from eventstudy.pipeline import DataOptions, run_study
from eventstudy.results import EventStudyResults
from eventstudy.study import load_study

pytestmark = pytest.mark.sample

REPO = Path(__file__).resolve().parents[1]
MINUS = "\u2212"
PNG = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def default(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default study (events.yaml) run in-process, its tables written and the report built
    with the in-memory results (as ``eventstudy run --report`` does)."""
    base = tmp_path_factory.mktemp("default")
    spec = load_study(REPO / "events.yaml")
    options = DataOptions(
        prices=sample_dir / "prices.csv",
        shares=sample_dir / "shares.csv",
        offline=True,
        cache_dir=base / "cache",
    )
    with pytest.warns(UserWarning, match="not a trading session"):
        results = run_study(spec, options)
    out = base / "results"
    write_tables(results, out)
    html_path, md_path = build_report(out, results=results)
    return {
        "results": results,
        "out": out,
        "html_path": html_path,
        "md_path": md_path,
        "html": html_path.read_text(encoding="utf-8"),
        "md": md_path.read_text(encoding="utf-8"),
    }


class _Page(HTMLParser):
    """Tags and attributes of an HTML page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


# ----------------------------------------------------------------------------- the files
def test_report_folder_holds_html_markdown_figures_and_tables(default: dict[str, Any]) -> None:
    report = default["out"] / "report"
    assert default["html_path"] == report / "report.html"
    assert default["md_path"] == report / "report.md"
    assert sorted(os.listdir(report)) == [
        "figures",
        "report.html",
        "report.md",
        "tables.tex",
        "tables.xlsx",
    ]  # nothing staged is left behind
    plan = plotting.chart_plan(default["results"])
    assert sorted(os.listdir(report / "figures")) == sorted(f"{s.stem}.png" for s in plan)
    # seven charts per event (five, then volume and volatility), the timeline, the CAAR comparison
    assert len(plan) == 3 * 7 + 2


def test_html_is_self_contained(default: dict[str, Any]) -> None:
    page = _parse(default["html"])
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and "iframe" not in tags and "link" not in tags
    csp = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert csp and csp[0]["content"].startswith("default-src 'none'; img-src data:")
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == len(plotting.chart_plan(default["results"]))
    for attrs in images:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(PNG)
        assert attrs["alt"].startswith("Figure ")
    for tag, attrs in page.tags:  # links only within the page, no URL anywhere
        if tag == "a":
            assert attrs["href"].startswith("#"), attrs
        for key, value in attrs.items():
            assert not re.match(r"\s*(https?:|//|file:)", value), (tag, key, value[:60])
    assert "http://" not in default["html"] and "https://" not in default["html"]


def test_html_content(default: dict[str, Any]) -> None:
    page = _parse(default["html"])
    text = " ".join(" ".join(page.text).split())
    ids = [a.get("id") for t, a in page.tags if t == "section"]
    assert ids == [
        "summary",
        "study",
        "data",
        "overview",
        "event-r1-sell-off",
        "event-r1-release",
        "event-v3-release",
        "tests",
        "measure-volume",  # events.yaml measures volume and volatility
        "measure-volatility",
        "methods",
        "references",
    ]
    # The headline, NVDA's day-0 AR and the dollar total, as the terminal summary has them.
    assert (
        f"R1 sell-off (day 0 2025-01-27, 17 stocks): average abnormal return on day 0 "
        f"{MINUS}7.56% (t = {MINUS}3.72, p = 0.002, N = 17)" in text
    )
    assert f"NVDA {MINUS}16.97% {MINUS}3.76% {MINUS}13.21% *** 2.62%" in text
    assert f"Total {MINUS}$1.0T {MINUS}$551.6B" in text
    # Data sources and the R1 release day-0 rule.
    assert "Prices ../shared/data/prices.csv" in text or "Prices" in text
    assert "2025-01-20 2025-01-21" in text
    # The battery: every test, per event and pooled, with its paper.
    for label in ("Patell Z", "Adjusted BMP", "Generalised rank (GRANK)", "Skewness-adjusted t"):
        assert text.count(label) >= 4, label  # three events and the pooled sample
    assert "Test battery: all events pooled" in text
    assert "Data-quality checks: 7 of 41 firm-events flagged (listed below)." in text
    assert "Data-quality flags (7 of 41 firm-events)" in text
    # Methods and references name the papers of what was done.
    assert "market model, an OLS regression of the stock's return on the return of ^GSPC" in text
    assert "Kolari & Pynnönen 2010" in text
    for ref in ("Patell, J. M. (1976)", "MacKinlay, A. C. (1997)", "Corrado, C. J. (1989)"):
        assert ref in text
    # Table and figure numbers run in order.
    numbers = [int(n) for n in re.findall(r"Table (\d+)\.", text)]
    assert numbers == list(range(1, len(numbers) + 1))
    figures = [int(n) for n in re.findall(r"Figure (\d+)\. ", text)]
    assert sorted(set(figures)) == list(range(1, 24))  # seven per event, two for the study


def test_markdown_has_its_figures_beside_it(default: dict[str, Any]) -> None:
    md, folder = default["md"], default["md_path"].parent
    links = re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", md)
    assert len(links) == 23
    for _alt, src in links:
        assert src.startswith("figures/") and (folder / src).read_bytes().startswith(PNG)
    # Every table row has as many cells as its header.
    for block in re.findall(r"((?:^\|.*\n)+)", md, flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block[:200]
    assert "| NVDA | −16.97% | −3.76% | −13.21%\\*\\*\\* |" in md
    assert "## Test battery" in md and "## Methods" in md


def test_latex_and_excel_tables(default: dict[str, Any]) -> None:
    report = default["out"] / "report"
    tex = (report / "tables.tex").read_text(encoding="utf-8")
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") > 10
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == tex.count(r"\begin{table}")
    assert r"NVDA & $-$16.97\% & $-$3.76\% & $-$13.21\%$^{***}$" in tex
    book = load_workbook(report / "tables.xlsx", read_only=True)
    assert book.sheetnames[:4] == ["Study", "CAAR", "AAR", "CAR"]
    assert "Tests" in book.sheetnames
    rows = list(book["CAR"].iter_rows(values_only=True))
    header, first = rows[0], rows[1]
    assert header[:5] == ("event", "ticker", "start", "end", "car")
    car = default["results"].car_frame().iloc[0]
    assert first[:4] == (car["event"], car["ticker"], car["start"], car["end"])
    assert first[4] == pytest.approx(car["car"])


# ----------------------------------------------------------------------------- from files
def test_report_from_files_reuses_fresh_figures_and_redraws_stale_ones(
    default: dict[str, Any], tmp_path: Path
) -> None:
    results_dir = tmp_path / "results"
    shutil.copytree(default["out"], results_dir, ignore=shutil.ignore_patterns("report"))
    figures = results_dir / "figures"
    shutil.copytree(default["out"] / "report" / "figures", figures)
    summary_time = (results_dir / "summary.json").stat().st_mtime
    # A stale chart (older than summary.json) is redrawn; a missing price chart is left out
    # with a note (the files hold no prices); a fresh one is used as it is.
    tiny = Image.new("RGB", (4, 3), "white")
    tiny.save(figures / "r1-sell-off_day0_ar.png")
    os.utime(figures / "r1-sell-off_day0_ar.png", (summary_time - 60, summary_time - 60))
    (figures / "v3-release_prices.png").unlink()
    tiny.save(figures / "study_caar.png")
    os.utime(figures / "study_caar.png", (summary_time + 60, summary_time + 60))

    with pytest.warns(
        UserWarning,
        match=r"the report leaves out 1 chart\(s\) it could not draw: "
        r"v3-release_prices \(drawn from the price data, which a results folder",
    ):
        html_path, md_path = build_report(results_dir)
    report = results_dir / "report" / "figures"
    assert (report / "study_caar.png").read_bytes() == (figures / "study_caar.png").read_bytes()
    redrawn = (report / "r1-sell-off_day0_ar.png").read_bytes()
    assert len(redrawn) > 50_000
    assert not (report / "v3-release_prices.png").exists()
    text = html_path.read_text(encoding="utf-8")
    assert text.count("<img ") == 22
    # No placeholder in the deliverable: the chart is left out, and the warning says why.
    assert "Chart not included" not in text and "v3-release_prices" not in text
    assert "Chart not included" not in md_path.read_text(encoding="utf-8")


def test_stored_results_read_back_the_frames(default: dict[str, Any]) -> None:
    stored = StoredResults.load(default["out"])
    res: EventStudyResults = default["results"]
    assert stored.title == res.title
    assert [e.name for e in stored.events] == [e.name for e in res.events]
    assert stored.day0_dates == res.day0_dates
    assert stored.model_labels == res.model_labels
    pd.testing.assert_frame_equal(
        stored.car_frame().drop(columns="model"),
        res.car_frame().drop(columns="model"),
        check_dtype=False,
    )
    tests = stored.tests_frame()
    assert tests is not None and len(tests) == len(res.tests_frame())
    quality = stored.quality_frame()
    assert quality is not None and len(quality) == 41
    # The minimum of estimation returns is read back from data_quality.csv.
    assert stored.min_obs_known and stored.events[0].min_estimation_obs == 100


def test_not_a_results_folder(default: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(EventStudyError, match=r"not a results folder \(no summary.json\)"):
        build_report(tmp_path)
    with pytest.raises(EventStudyError, match="not found"):
        build_report(tmp_path / "missing")
    partial = tmp_path / "partial"
    shutil.copytree(default["out"], partial, ignore=shutil.ignore_patterns("report", "car.csv"))
    with pytest.raises(EventStudyError, match=r"car.csv missing"):
        build_report(partial)
    (partial / "summary.json").write_text("{not json")
    with pytest.raises(EventStudyError, match=r"summary.json: cannot read"):
        build_report(partial)
    # Optional tables may be missing: the report says what it does not have.
    optional = tmp_path / "optional"
    shutil.copytree(
        default["out"],
        optional,
        ignore=shutil.ignore_patterns("report", "tests.csv", "data_quality.csv", "bhar.csv"),
    )
    html, _md = build_report(optional, figures=False, tables=False)
    text = html.read_text(encoding="utf-8")
    assert "The test battery is not in this results folder (no tests.csv)." in text
    assert "No data-quality checks in this results folder (no data_quality.csv)." in text


def test_unwritable_report_folder_is_one_line_and_leaves_nothing(
    default: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(EventStudyError) as info:
        build_report(default["out"], out_dir=blocker / "report", figures=False)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("cannot write the report to ")
    assert blocker.read_text() == "not a folder"


def test_failed_report_keeps_the_previous_one(
    default: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    build_report(default["out"], out_dir=out, figures=False, tables=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("eventstudy.output.report.write_xlsx", broken)
    with pytest.raises(EventStudyError, match="No space left on device"):
        build_report(default["out"], out_dir=out, figures=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_max_events_limits_the_sections(default: dict[str, Any], tmp_path: Path) -> None:
    html, _md = build_report(default["out"], out_dir=tmp_path, max_events=1, figures=False)
    text = html.read_text(encoding="utf-8")
    assert 'id="event-r1-sell-off"' in text and 'id="event-v3-release"' not in text
    assert "2 more events without a section of their own" in text
    assert "<img " not in text and "Chart not included" not in text
    assert "Test battery: V3 release" not in text and "Test battery: all events pooled" in text
    assert not (tmp_path / "figures").exists()


def test_methods_name_each_model_with_its_paper(sample_prices: pd.DataFrame) -> None:
    study = EventStudy.from_prices(sample_prices, market="^GSPC", title="Models")
    tickers = ["NVDA", "AVGO", "TSM"]
    res = study.fit(
        [
            Event(name="A", date="2025-01-27", tickers=tickers, model="market"),
            Event(name="B", date="2025-01-27", tickers=tickers, model="market-adjusted"),
            Event(
                name="C",
                date="2025-01-27",
                tickers=tickers,
                model="constant-mean",
                estimation_window=(-120, -11),
            ),
        ]
    )
    context = report_context(res, [], res.tests_frame(), None)
    methods = " ".join(context["methods"])
    assert "For “A”, normal returns come from the market model" in methods
    assert "For “B”, normal returns come from market-adjusted returns" in methods
    assert "estimated over trading days [−120, −11]" in methods
    assert "at least 100 non-missing returns" in methods
    assert "the generalised rank test of Kolari & Pynnönen (2011)" in methods
    references = " ".join(context["references"])
    assert "Brown, S. J., and J. B. Warner (1980)" in references
    assert "Kolari, J. W., and S. Pynnönen (2011)" in references
    assert "Fama" not in references  # no model or test of theirs was used


# ----------------------------------------------------------------------------- escaping
@pytest.fixture(scope="module")
def odd(
    sample_prices: pd.DataFrame,
    sample_shares: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """A study whose title, event names and tickers are hostile HTML/Markdown/LaTeX."""
    rename = {"NVDA": "../x", "AVGO": "BRK-B", "TSM": "<img src=x onerror=alert(1)>"}
    prices = sample_prices.assign(ticker=sample_prices["ticker"].replace(rename))
    shares = sample_shares.assign(ticker=sample_shares["ticker"].replace(rename))
    title = '<script>alert("t")</script> & *bold* | [link](http://x) \\emph{x} $%'
    study = EventStudy.from_prices(
        prices, market="^GSPC", shares=shares, title=title, car_windows=[(0, 0), (-1, 1)]
    )
    results = study.fit(
        [
            Event(
                name="../../<b>R1</b> & co_1 #1",
                date="2025-01-27",
                tickers=list(rename.values()),
            )
        ]
    )
    out = tmp_path_factory.mktemp("odd") / "results"
    write_tables(results, out)
    html_path, md_path = build_report(out, results=results, figures=False)
    return {"results": results, "out": out, "html": html_path, "md": md_path, "title": title}


def test_user_text_is_escaped_in_html(odd: dict[str, Any]) -> None:
    html = odd["html"].read_text(encoding="utf-8")
    page = _parse(html)
    assert all(t not in ("script", "b") for t, _ in page.tags)
    assert [a for t, a in page.tags if t == "img" and a.get("src") == "x"] == []
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt; &amp; *bold*" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "../../&lt;b&gt;R1&lt;/b&gt; &amp; co_1 #1" in html
    text = " ".join(page.text)
    assert odd["title"] in text  # shown as written
    assert "href" not in html.replace('href="#', "")  # the title's [link](...) is text


def test_user_text_is_escaped_in_markdown_and_latex(odd: dict[str, Any]) -> None:
    md = odd["md"].read_text(encoding="utf-8")
    assert md.startswith("# " + md_escape(odd["title"]) + "\n")
    assert "<script>" not in md and "<img" not in md
    assert r"\[link\](http://x)" in md  # an escaped "]" makes no link
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "| ../x |" in md and "| BRK-B |" in md
    tex = (odd["out"] / "report" / "tables.tex").read_text(encoding="utf-8")
    assert r"\textless{}img src=x onerror=alert(1)\textgreater{}" in tex
    assert r"../../\textless{}b\textgreater{}R1\textless{}/b\textgreater{} \& co\_1 \#1" in tex
    assert "<" not in tex.replace(r"\textless{}", "")


def test_odd_names_stay_inside_the_output_folder(odd: dict[str, Any]) -> None:
    out: Path = odd["out"]
    report = out / "report"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    for name in files:
        assert re.fullmatch(
            r"[a-z_.]+|report/(report\.(html|md)|tables\.(tex|xlsx))|"
            r"report/figures/[a-z0-9-]+_[a-z0-9_]+\.png",
            name,
        ), name
    stems = [spec.stem for spec in plotting.chart_plan(odd["results"])]
    assert stems[:2] == ["b-r1-b-co-1-1_car", "b-r1-b-co-1-1_day0_ar"]
    assert all(re.fullmatch(r"[a-z0-9-]+_[a-z0-9_]+", stem) for stem in stems)
    assert sorted(os.listdir(out.parent)) == ["results"]
    sheet = load_workbook(report / "tables.xlsx", read_only=True)["CAR"]
    tickers = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert list(dict.fromkeys(tickers)) == ["../x", "BRK-B", "<img src=x onerror=alert(1)>"]


# ----------------------------------------------------------------------------- Chromium
def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    message = "headless Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("EVENTSTUDY_REQUIRE_CHROMIUM"):
        pytest.fail(message + " (EVENTSTUDY_REQUIRE_CHROMIUM is set)")
    pytest.skip(message)
    raise AssertionError  # unreachable


class DevTools:
    """A headless Chromium driven over the DevTools protocol on a pipe."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--remote-debugging-pipe",
    )

    def __init__(self, executable: str, profile: Path) -> None:
        to_chrome_r, self._write = os.pipe()
        self._read, from_chrome_w = os.pipe()

        def wire() -> None:  # in the child: its fd 3 reads commands, fd 4 writes answers
            read = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)  # off 3 and 4 first: the pipe
            write = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)  # may already sit there
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.proc = subprocess.Popen(
            [executable, *self.FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=wire,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 20) -> Any:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._receive(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed the pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open_page(self) -> None:
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError, EOFError):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._write)
        os.close(self._read)


def test_report_in_headless_chromium(default: dict[str, Any], tmp_path: Path) -> None:
    executable = _chromium()
    browser = DevTools(executable, Path(tempfile.mkdtemp(dir=tmp_path, prefix="profile-")))
    try:
        browser.open_page()
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        browser.send("Page.navigate", {"url": default["html_path"].as_uri()})
        browser.wait_for("Page.loadEventFired")
        state = browser.send(
            "Runtime.evaluate",
            {
                "expression": """JSON.stringify({
                    images: [...document.images].map(i => ({
                        w: i.naturalWidth, h: i.naturalHeight, done: i.complete, alt: i.alt})),
                    title: document.title,
                    sections: [...document.querySelectorAll('section')].map(s => s.id),
                    tables: document.querySelectorAll('table').length,
                    scripts: document.scripts.length,
                    height: document.documentElement.scrollHeight,
                    width: document.documentElement.scrollWidth})""",
                "returnByValue": True,
            },
        )
        page = json.loads(state["result"]["value"])
        top = browser.send("Page.captureScreenshot", {"format": "png"})
        height = min(int(page["height"]), 30000)
        full = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 0.5},
            },
        )
    finally:
        browser.close()
    (tmp_path / "report_top.png").write_bytes(base64.b64decode(top["data"]))
    (tmp_path / "report_full.png").write_bytes(base64.b64decode(full["data"]))
    print(f"screenshots: {tmp_path / 'report_top.png'}, {tmp_path / 'report_full.png'}")

    # Every image loads, at the size it was drawn.
    assert len(page["images"]) == 23
    for image in page["images"]:
        assert image["done"] and image["w"] > 1000 and image["h"] > 500, image
    assert page["title"] == "DeepSeek R1 shock: event study report"
    assert page["scripts"] == 0 and page["tables"] > 15
    assert page["width"] <= 1280  # no horizontal overflow of the page itself
    # No console errors, no exception, no failed or blocked load, nothing but file: and data:.
    errors = [
        e
        for e in browser.events
        if e.get("method") in ("Runtime.exceptionThrown", "Network.loadingFailed")
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    urls = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls[:5]
    with Image.open(tmp_path / "report_top.png") as shot:
        assert shot.size == (1280, 900)
        pixels = np.asarray(shot.convert("L"))
        assert pixels.std() > 20  # not a blank page


# ----------------------------------------------------------------------------- command line
def _cli() -> Any:
    from eventstudy.cli import main

    if "report" not in main.commands:
        pytest.skip("`eventstudy report` is not registered in cli.py yet")
    return main


def _invoke(args: list[str]) -> tuple[int, str, str]:
    from click.testing import CliRunner

    result = CliRunner().invoke(_cli(), args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_report_from_a_results_folder(default: dict[str, Any], tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    shutil.copytree(default["out"], results_dir, ignore=shutil.ignore_patterns("report"))
    code, out, err = _invoke(["report", str(results_dir), "--no-figures", "--max-events", "1"])
    assert code == 0, err
    html = results_dir / "report" / "report.html"
    assert f"Report: {html}" in out
    text = html.read_text(encoding="utf-8")
    assert 'id="event-r1-sell-off"' in text and 'id="event-r1-release"' not in text
    assert "2 more events without a section of their own" in text


def test_cli_report_errors_are_one_line(default: dict[str, Any], tmp_path: Path) -> None:
    code, _, err = _invoke(["report", str(tmp_path / "missing")])
    assert code == 2
    assert err.strip().count("\n") == 0 and "not found" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _invoke(
        ["report", str(default["out"]), "--no-figures", "--out", str(blocker / "report")]
    )
    assert code == 2
    assert err.strip().count("\n") == 0 and err.startswith("eventstudy: error: cannot write")


def test_cli_run_report(sample_dir: Path, tmp_path: Path) -> None:
    _cli()
    out = tmp_path / "out"
    code, stdout, err = _invoke(
        [
            "run",
            str(REPO / "events.yaml"),
            "--prices",
            str(sample_dir / "prices.csv"),
            "--shares",
            str(sample_dir / "shares.csv"),
            "--offline",
            "--out",
            str(out),
            "--no-figures",
            "--report",
        ]
    )
    assert code == 0, err
    assert f"Report: {out / 'report' / 'report.html'}" in stdout
    assert sorted(os.listdir(out / "report")) == [
        "report.html",
        "report.md",
        "tables.tex",
        "tables.xlsx",
    ]


def test_a_damaged_results_folder_is_refused_naming_the_file(
    default: dict[str, Any], tmp_path: Path
) -> None:
    """A table cut short (a copy interrupted, a full disk) or replaced by another file: the
    report refuses it in one line, exit 2, instead of reporting half the results."""
    from click.testing import CliRunner

    from eventstudy.cli import main

    for name, damage in (
        ("car.csv", lambda text: text[: len(text) // 2]),
        ("aar.csv", lambda text: "a,b,c\n1,2,3\n"),
    ):
        folder = tmp_path / name
        shutil.copytree(default["out"], folder, ignore=shutil.ignore_patterns("report"))
        path = folder / name
        path.write_text(damage(path.read_text()))
        result = CliRunner().invoke(main, ["report", str(folder), "--no-figures"])
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"eventstudy: error: {path}: "), lines
        assert not (folder / "report").exists()


# ----------------------------------------------------------------------------- Parquet tables
def test_parquet_tables_hold_the_frames_and_read_back_as_the_csv_ones(
    default: dict[str, Any], tmp_path: Path
) -> None:
    """``format="parquet"``: every table is the frame as it is, types kept; read back, a
    Parquet folder gives the frames a CSV folder gives, and summary.json says which it is."""
    import pyarrow.parquet as pq

    from eventstudy.output.folder import TABLE_FILES, TABLES

    res: EventStudyResults = default["results"]
    written = write_tables(res, tmp_path / "pq", format="parquet")
    present = [t for t in TABLE_FILES if TABLES[t.name](res) is not None]  # the study's tables
    assert {p.name for p in written} == {t.file_name("parquet") for t in present} | {
        "summary.json"
    }
    for table in present:
        frame = pq.read_table(tmp_path / "pq" / table.file_name("parquet")).to_pandas()
        pd.testing.assert_frame_equal(frame, TABLES[table.name](res), check_exact=True)
    csv = StoredResults.load(default["out"])
    parquet = StoredResults.load(tmp_path / "pq")
    assert parquet.format == "parquet" and csv.format == "csv"
    assert parquet.events == csv.events and parquet.meta == csv.meta
    for method in ("ar_frame", "car_frame", "caar_frame", "valuation_frame", "params_frame",
                   "skipped_frame", "tests_frame", "quality_frame"):  # fmt: skip
        a, b = getattr(parquet, method)(), getattr(csv, method)()
        assert list(a.columns) == list(b.columns) and len(a) == len(b), method
        for column in a.columns:
            x = a[column].astype(object).where(a[column].notna(), None).tolist()
            y = b[column].astype(object).where(b[column].notna(), None).tolist()
            assert x == y, (method, column)
    summary = json.loads((tmp_path / "pq" / "summary.json").read_text())
    assert summary.pop("format") == "parquet"
    assert summary == json.loads((default["out"] / "summary.json").read_text())


def test_a_report_from_parquet_tables_is_the_report_from_csv_ones(
    default: dict[str, Any], tmp_path: Path
) -> None:
    res: EventStudyResults = default["results"]
    write_tables(res, tmp_path / "pq", format="parquet")
    shutil.copytree(default["out"], tmp_path / "csv", ignore=shutil.ignore_patterns("report"))
    for folder in ("pq", "csv"):
        code, _, err = _invoke(["report", str(tmp_path / folder), "--no-figures", "-q"])
        assert code == 0, err
    for name in ("tables.tex", "report.md"):
        a = (tmp_path / "pq" / "report" / name).read_text(encoding="utf-8")
        assert a == (tmp_path / "csv" / "report" / name).read_text(encoding="utf-8"), name


def test_a_run_in_the_other_format_replaces_the_tables(
    default: dict[str, Any], tmp_path: Path
) -> None:
    """Saved as Parquet into a folder of CSV tables (and back), a folder holds one set."""
    res: EventStudyResults = default["results"]
    out = tmp_path / "out"
    res.save(out, figures=False)
    assert (out / "car.csv").is_file()
    tables = len([p for p in out.iterdir() if p.suffix == ".csv"])
    res.save(out, figures=False, format="parquet")
    assert sorted(p.suffix for p in out.iterdir()) == [".json"] + [".parquet"] * tables
    assert StoredResults.load(out).format == "parquet"
    res.save(out, figures=False)
    assert sorted(p.suffix for p in out.iterdir()) == [".csv"] * tables + [".json"]
    with pytest.raises(ValueError, match="format must be one of csv, parquet"):
        write_tables(res, tmp_path / "x", format="xlsx")


def test_cli_run_writes_parquet_tables(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = _invoke(
        ["run", str(REPO / "events.yaml"), "--prices", str(sample_dir / "prices.csv"),
         "--offline", "--out", str(out), "--no-figures", "-q", "--format", "parquet"]
    )  # fmt: skip
    assert code == 0, err
    assert (out / "abnormal_returns.parquet").is_file() and not (out / "car.csv").exists()
    car = pd.read_parquet(out / "car.parquet")
    assert len(car) == len(StoredResults.load(out).car_frame()) > 0
    assert car["car"].notna().all()
