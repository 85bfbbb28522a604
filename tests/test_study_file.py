"""Study files written as JSON (which is YAML) are read by the JSON parser: the same study, the
same errors, as the YAML loader gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from eventstudy.errors import StudyFileError
from eventstudy.study import load_study

STUDY = {
    "study": "A JSON study",
    "market": "^GSPC",
    "model": "market",
    "estimation_window": [-250, -11],
    "event_window": [-5, 5],
    "car_windows": [[0, 0], [-1, 1]],
    "bootstrap": {"reps": 99, "seed": 7},
    "events": [
        {"name": "R1", "date": "2025-01-27", "tickers": ["NVDA", "AMD"], "model": "constant-mean"},
        {"name": "later", "date": "2025-02-03", "tickers": ["NVDA"], "timing": "after_close"},
    ],
}


def _both(tmp_path: Path, data: object) -> tuple[Path, Path]:
    as_json = tmp_path / "study.json.yaml"
    as_json.write_text(json.dumps(data), encoding="utf-8")
    as_yaml = tmp_path / "study.yaml"
    as_yaml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return as_json, as_yaml


def test_a_json_study_is_the_same_study(tmp_path: Path) -> None:
    as_json, as_yaml = _both(tmp_path, STUDY)
    assert load_study(as_json).model_dump() == load_study(as_yaml).model_dump()
    assert load_study(as_json).resolved()[1].timing == "after_close"


def _error(path: Path) -> str:
    with pytest.raises(StudyFileError) as caught:
        load_study(path)
    return str(caught.value).replace(str(path), "STUDY")


@pytest.mark.parametrize(
    "change",
    [
        {"min_estimation_obs": 1e2},  # JSON writes 100.0; YAML 1.1 reads "1e2" as text
        {"min_estimation_obs": float("nan")},  # NaN: text in YAML
        {"estimation_window": [-250.5, -11]},
        {"model": True},
    ],
)
def test_values_read_as_yaml_reads_them(tmp_path: Path, change: dict) -> None:
    data = {**STUDY, **change}
    as_json = tmp_path / "study.json.yaml"
    as_json.write_text(json.dumps(data).replace("100.0", "1e2"), encoding="utf-8")
    as_yaml = tmp_path / "study.yaml"
    text = yaml.safe_dump(data, sort_keys=False).replace("100.0", "1e2").replace(".nan", "NaN")
    as_yaml.write_text(text, encoding="utf-8")
    assert _error(as_json) == _error(as_yaml)


def test_a_key_twice_is_refused_in_json_too(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text('{"study": "x", "model": "market", "model": "mean", "events": []}')
    assert _error(path) == "STUDY: key 'model' is given twice in the same mapping"


def test_flow_yaml_that_is_not_json_is_read_by_yaml(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "{study: flow, market: ^GSPC, events: [{name: e, date: 2025-01-27, tickers: [NVDA]}]}"
    )
    assert load_study(path).resolved()[0].tickers == ("NVDA",)
