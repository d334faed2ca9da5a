"""Reference profiles: the bins of the training data, written with the model and read back
only when every field checks out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trk
import trk.pyfunc
import trk.sklearn
from trk.exceptions import IntegrityError, InvalidParameter, ModelError
from trk.models.profile import (
    PROFILE_FILE,
    CategoryBins,
    NumericBins,
    build_profile,
    load_profile,
    parse,
)

pytestmark = pytest.mark.unit


def test_numeric_bins_are_the_deciles_and_their_fractions():
    x = np.random.default_rng(1).normal(size=1001)
    profile = build_profile(pd.DataFrame({"x": x}))
    bins = profile.feature("x")
    assert isinstance(bins, NumericBins) and profile.rows == 1001
    assert np.allclose(bins.edges, np.quantile(x, np.arange(1, 10) / 10))
    # right-closed bins (e_i, e_i+1]: counted by hand
    edges = [-np.inf, *bins.edges, np.inf]
    by_hand = [
        np.sum((x > lo) & (x <= hi)) / x.size for lo, hi in zip(edges, edges[1:], strict=False)
    ]
    assert np.allclose(bins.fractions, by_hand) and abs(sum(bins.fractions) - 1) < 1e-12


def test_categorical_bins_keep_the_top_twenty_and_the_rest():
    values = [f"c{i}" for i in range(30) for _ in range(30 - i)]  # c0 most frequent
    bins = build_profile(pd.DataFrame({"c": values})).feature("c")
    assert isinstance(bins, CategoryBins)
    assert bins.values == tuple(f"c{i}" for i in range(20))
    rest = sum(30 - i for i in range(20, 30)) / len(values)
    assert bins.fractions[-1] == pytest.approx(rest) and bins.fractions[0] == 30 / len(values)
    assert list(bins.counts(np.array(["c0", "zzz", "c1"], dtype=object))[[0, 1, 20]]) == [1, 1, 1]


def test_a_2d_array_takes_the_signature_names_and_must_match_them():
    data = np.arange(20.0).reshape(10, 2)
    assert [f.name for f in build_profile(data, ["a", "b"]).features] == ["a", "b"]
    with pytest.raises(InvalidParameter, match="2 columns but the signature names 3"):
        build_profile(data, ["a", "b", "c"])
    with pytest.raises(InvalidParameter, match="2-D"):
        build_profile(np.arange(3.0))


def test_log_model_writes_the_profile_inside_the_pinned_files(tracking, iris_frame):
    from sklearn.linear_model import LogisticRegression

    X, y = iris_frame
    with trk.start_run():
        trk.sklearn.log_model(
            LogisticRegression(max_iter=300).fit(X, y),
            "model",
            registered_model_name="iris",
            input_example=X.head(2),
            reference_data=X,
        )
    files = Path(trk.Client().get_model_version_download_uri("iris", 1))
    profile = load_profile(files)
    assert [f.name for f in profile.features] == list(X.columns) and profile.rows == len(X)
    # the version's digest covers the profile: an edited one refuses to load
    doc = json.loads((files / PROFILE_FILE).read_text())
    doc["rows"] += 1
    (files / PROFILE_FILE).write_text(json.dumps(doc))
    with pytest.raises(IntegrityError):
        trk.pyfunc.load_model("models:/iris/1")


@pytest.mark.parametrize(
    "doc, problem",
    [
        ({"format": 2}, "format 1"),
        ({"format": 1, "rows": 3, "features": []}, "features"),
        ({"format": 1, "rows": True, "features": [{}]}, "rows"),
        ({"format": 1, "rows": 3, "features": [{"name": ""}]}, "name"),
        (
            {
                "format": 1,
                "rows": 3,
                "features": [
                    {"name": "x", "kind": "numeric", "edges": [1] * 9, "fractions": [0.5] * 10}
                ],
            },
            "sum to 1",
        ),
        (
            {
                "format": 1,
                "rows": 3,
                "features": [
                    {
                        "name": "x",
                        "kind": "numeric",
                        "edges": [2, 1, *[3] * 7],
                        "fractions": [0.1] * 10,
                    }
                ],
            },
            "sorted",
        ),
        (
            {
                "format": 1,
                "rows": 3,
                "features": [
                    {
                        "name": "x",
                        "kind": "numeric",
                        "edges": [float("nan")] * 9,
                        "fractions": [0.1] * 10,
                    }
                ],
            },
            "finite",
        ),
        (
            {
                "format": 1,
                "rows": 3,
                "features": [
                    {"name": "x", "kind": "categorical", "values": [1], "fractions": [0.5, 0.5]}
                ],
            },
            "strings",
        ),
        (
            {"format": 1, "rows": 3, "features": [{"name": "x", "kind": "?", "fractions": [1]}]},
            "kind",
        ),
    ],
)
def test_a_malformed_profile_names_its_problem(doc, problem, tmp_path):
    with pytest.raises(ValueError, match=problem):
        parse(doc)
    (tmp_path / PROFILE_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="not a readable reference profile"):
        load_profile(tmp_path)
