"""Measure model load time from the local store and the predict fast path (a benchmark).

Run: .venv/bin/python loadtest/bench_models.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def _best_us(fn, n: int = 2000, rounds: int = 5) -> float:
    for _ in range(200):
        fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t) / n * 1e6)
    return min(times)


def _median_ms(fn, n: int = 10) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    import torch
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    import trk
    import trk.onnx
    import trk.pyfunc
    import trk.sklearn
    import trk.torch

    root = Path(tempfile.mkdtemp())
    trk.set_tracking_uri(f"sqlite:///{root / 'trk.db'}")
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.rand(150, 4), columns=["sl", "sw", "pl", "pw"])
    y = (X.sl > 0.5).astype(int) + (X.pw > 0.7)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    x32 = X.to_numpy(dtype=np.float32)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with trk.start_run():
        trk.sklearn.log_model(clf, "sk", "bench-sklearn", input_example=X.head(2))
        trk.torch.log_model(net, "pt", "bench-torch", input_example=x32[:2])
        trk.onnx.log_model(to_onnx(clf, x32[:1]), "ox", "bench-onnx", input_example=x32[:2])
    for flavor in ("sklearn", "torch", "onnx"):
        uri = f"models:/bench-{flavor}/1"
        trk.pyfunc.load_model(uri)  # first load also imports the framework
        print(f"load {uri}: {_median_ms(lambda u=uri: trk.pyfunc.load_model(u)):.1f} ms median")
    model = trk.pyfunc.load_model("models:/bench-sklearn/1")
    row, arr = X.head(1), X.head(1).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain_arr = _best_us(lambda: clf.predict(arr))
    print(
        f"LogisticRegression 1 row: sklearn predict(DataFrame) {_best_us(lambda: clf.predict(row)):.0f} us, "
        f"sklearn predict(ndarray) {plain_arr:.0f} us, "
        f"PyFuncModel.predict(DataFrame) {_best_us(lambda: model.predict(row)):.0f} us, "
        f"PyFuncModel.predict_array {_best_us(lambda: model.predict_array(arr)):.0f} us"
    )


if __name__ == "__main__":
    main()
