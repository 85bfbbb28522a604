"""Size and power of the volume and volatility tests on synthetic data (``make validate``).

Each scenario is one synthetic study (:class:`eventstudy.synthetic.SyntheticConfig`, module
docstring: market-model returns with Student-t(5) shocks; log volume with a firm level, AR(1)
persistence 0.5, a market-wide component and right-skewed shocks) of ``samples`` events of
``firms`` firms each on 1,500 sessions, fitted through the public API
(:class:`eventstudy.EventStudy` with ``measures=("volume", "volatility")``, default windows:
estimation [-250, -11], event [-5, 5]). The same data are tested in two groupings:

* *independent dates*: sample ``k`` takes member ``j`` of event ``(k - j * step) mod samples``
  (``step = samples // firms``), so its firm-events lie on ``firms`` different dates about a
  month apart (events are numbered in date order);
* *one date*: the firms of an event, which share its day 0 and so the market-wide volume shock.

Effects are injected on day 0 of every firm-event: abnormal log volume (``abnormal_volume``) and
event-day return variance (``abnormal_variance``), both in the same study (the two are drawn
independently, so neither affects the other measure's tests). The three studies of a run share
their seed: the same draws with different effects.

The tests: every test of ``tests.csv`` for ``measure = volume`` (volume models ``mean`` and
``market``), the tests for ``measure = volatility`` (``constant`` model; ``garch`` with
``--garch N``, N >= firms samples of the no-effect and large-effect studies: one GARCH(1,1) fit
per firm-event is slow), each through
:func:`eventstudy.inference.battery.group_tests` on the measure's fits with the sample labels,
and the per-firm-event variance-ratio F test (``res.variance_ratio_frame()``: its rejection rate
over firm-events, the same in both groupings).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eventstudy import EventStudy
from eventstudy.inference.battery import group_tests
from eventstudy.inference.registry import tests_for
from eventstudy.inference.sample import sample_from_fits
from eventstudy.synthetic import SyntheticConfig

WINDOWS = ((0, 0), (-1, 1))
T_DF = 5.0
N_DAYS = 1500
#: The per-firm-event F test of the variance ratio, as a row of the volatility table.
F_TEST = "variance_ratio_f"


@dataclass(frozen=True)
class Effect:
    name: str
    volume: float  # log points added to day-0 log volume
    variance: float  # multiple of the day-0 return variance
    garch: bool = True  # also with the (slow) GARCH volatility model, with --garch

    @property
    def volume_label(self) -> str:
        return "none" if not self.volume else f"+{self.volume:g} log"

    @property
    def variance_label(self) -> str:
        return "none" if self.variance == 1.0 else f"var x{self.variance:g}"


EFFECTS: tuple[Effect, ...] = (
    Effect("none", 0.0, 1.0),
    Effect("small", 0.1, 1.5, garch=False),
    Effect("large", 0.25, 2.0),
)
GROUPINGS = ("independent", "one date")


def _config(samples: int, firms: int, seed: int, effect: Effect) -> SyntheticConfig:
    return SyntheticConfig(
        n_firms=max(2 * firms, samples),
        n_days=N_DAYS,
        n_events=samples,
        firms_per_event=firms,
        seed=seed,
        tails=T_DF,
        abnormal_volume=effect.volume,
        abnormal_variance=effect.variance,
    )


def _labels(samples: int, firms: int) -> dict[str, np.ndarray]:
    """Sample label of each firm-event in study order (event ``i``, member ``j`` at
    ``i * firms + j``), per grouping."""
    i, j = np.divmod(np.arange(samples * firms), firms)
    step = samples // firms
    return {"independent": (i + j * step) % samples, "one date": i}


def _rates(p: np.ndarray, level: float) -> float:
    return float(np.mean(np.nan_to_num(p, nan=1.0) < level))


def _battery_rates(
    batches: Sequence[Any], measure: str, labels: np.ndarray, level: float
) -> dict[tuple[str, tuple[int, int]], float]:
    """Rejection rate of every test of ``measure`` and window over the samples ``labels``."""
    sample, groups = sample_from_fits([(b.fit, labels[b.order]) for b in batches])
    ids, results = group_tests(sample, groups, WINDOWS, tests_for(measure))
    if len(ids) != labels.max() + 1:
        raise RuntimeError(f"{measure}: {labels.max() + 1 - len(ids)} samples without a fit")
    return {key: _rates(r.p_value, level) for key, r in results.items()}


def _f_rates(res: Any, level: float) -> dict[tuple[str, tuple[int, int]], float]:
    vr = res.variance_ratio_frame()
    return {
        (F_TEST, w): _rates(vr.loc[(vr.start == w[0]) & (vr.end == w[1]), "p"].to_numpy(), level)
        for w in WINDOWS
    }


def simulate(
    samples: int, firms: int, seed: int, effect: Effect, level: float, garch: bool = False
) -> dict[tuple[str, str, str], dict[tuple[str, tuple[int, int]], float]]:
    """Rejection rates of one study: ``(measure, model, grouping) -> {(test, window): rate}``."""
    cfg = _config(samples, firms, seed, effect)
    returns, events = cfg.generate()
    volume = cfg.generate_volume()
    labels = _labels(samples, firms)
    settings: dict[str, Any] = {"market": cfg.market, "car_windows": WINDOWS, "volume": volume}
    out: dict[tuple[str, str, str], dict[tuple[str, tuple[int, int]], float]] = {}
    runs: list[tuple[tuple[str, ...], dict[str, str]]] = (
        [(("volatility",), {"volatility_model": "garch"})]
        if garch
        else [
            (("volume", "volatility"), {"volume_model": "mean"}),
            (("volume",), {"volume_model": "market"}),
        ]
    )
    for measures, models in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # firm-events left out are counted below
            res = EventStudy(returns, measures=measures, **models, **settings).fit(events)
        if "volume" in measures:
            assert res.volume_fit is not None
            for grouping, lab in labels.items():
                key = ("volume", models["volume_model"], grouping)
                out[key] = _battery_rates(res.volume_fit.batches, "volume", lab, level)
        if "volatility" in measures:
            model = models.get("volatility_model", "constant")
            batches = [v.batch for v in res.volatility_batches]
            f_rates = _f_rates(res, level)
            for grouping, lab in labels.items():
                rates = _battery_rates(batches, "volatility", lab, level)
                out[("volatility", model, grouping)] = {**rates, **f_rates}
    return out


def run(
    samples: int = 1000,
    firms: int = 50,
    seed: int = 1996,
    garch_samples: int = 0,
    level: float = 0.05,
    effects: Sequence[Effect] = EFFECTS,
) -> dict[str, pd.DataFrame]:
    """Rejection rates at ``level``: a table per measure (``volume``, ``volatility``), one row
    per (model, window, test), one column per effect and grouping."""
    got: dict[tuple[str, str, str, str], dict[tuple[str, tuple[int, int]], float]] = {}
    for effect in effects:
        parts = [(samples, False)]
        if garch_samples and effect.garch:
            parts.append((garch_samples, True))
        for n, garch in parts:
            for (measure, model, grouping), rates in simulate(
                n, firms, seed, effect, level, garch
            ).items():
                got[(measure, model, grouping, effect.name)] = rates
    tables = {}
    for measure, models in (("volume", ("mean", "market")), ("volatility", ("constant", "garch"))):
        tests = [t.name for t in tests_for(measure)] + ([F_TEST] if measure == "volatility" else [])
        rows = [
            (m, f"[{w[0]}, {w[1]}]", t)
            for m in models
            if (measure, m, GROUPINGS[0], effects[0].name) in got
            for w in WINDOWS
            for t in tests
        ]
        columns: dict[str, list[float]] = {}
        for grouping in GROUPINGS:
            for effect in effects:
                label = effect.volume_label if measure == "volume" else effect.variance_label
                name = label if grouping == "independent" else f"{label}, {grouping}"
                columns[name] = [
                    got.get((measure, m, grouping, effect.name), {}).get((t, _window(w)), np.nan)
                    for m, w, t in rows
                ]
        index = pd.MultiIndex.from_tuples(rows, names=["model", "window", "test"])
        tables[measure] = pd.DataFrame(columns, index=index)
    return tables


def _window(text: str) -> tuple[int, int]:
    a, b = text.strip("[]").split(",")
    return int(a), int(b)
