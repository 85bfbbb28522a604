"""The synthetic library study of tests/test_parity.py (frame fast path, degraded data)."""
import sys
from pathlib import Path

from eventstudy import EventStudy
from eventstudy.output.folder import write_tables
from eventstudy.synthetic import SyntheticConfig

cfg = SyntheticConfig(n_firms=60, firms_per_event=25, n_events=8, n_days=700, missing=0.02,
                      thin=0.1, late_listing=0.1, tails=4.0, abnormal={0: 0.02, 1: -0.01}, seed=11)
returns, events = cfg.generate()
res = EventStudy(returns, market=cfg.market, car_windows=[(0, 0), (-1, 1), (-5, 5)],
                 bhar_windows=[(0, 5)], min_estimation_obs=150).fit(events)
write_tables(res, Path(sys.argv[1]))
