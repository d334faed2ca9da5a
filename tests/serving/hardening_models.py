"""Models for the hardening tests: a challenger that hangs on cue, a model without a signature.

`SleepyModel` answers like the toy model (row sums), except that while the file named by
`TRK_TEST_HANG_FILE` exists each predict sleeps (for up to an hour), as a challenger stuck
on a dead dependency would. The warm-up at load runs before any test creates the file.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
from serving_helpers import logging_to

HANG_ENV = "TRK_TEST_HANG_FILE"


class SleepyModel:
    def load_context(self, context: Any) -> None:
        pass

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        flag = os.environ.get(HANG_ENV, "")
        deadline = time.monotonic() + 3600.0
        while flag and os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.05)
        return np.asarray(model_input, dtype=float).sum(axis=1)


def register_hardening_models(tracking_uri: str) -> None:
    """`sleepy@challenger` (the toy's signature) and `nosig@champion` (no signature)."""
    import cloudpickle
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import trk
    import trk.pyfunc
    import trk.sklearn
    from trk.models.flavors.python_function import PythonModel

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # subprocesses cannot import tests
    with logging_to(tracking_uri) as client:
        with trk.start_run():
            info = trk.pyfunc.log_model(
                python_model=type("Sleepy", (PythonModel,), dict(vars(SleepyModel)))(),
                name="model",
                registered_model_name="sleepy",
                input_example=np.array([[1.0, 2.0]]),
            )
        client.set_registered_model_alias("sleepy", "challenger", info.registered_model_version)
        iris = load_iris()
        with trk.start_run():  # no input example: no signature, nothing checks the input
            info = trk.sklearn.log_model(
                LogisticRegression(max_iter=300).fit(iris.data, iris.target),
                name="model",
                registered_model_name="nosig",
                serialization_format="cloudpickle",
            )
        client.set_registered_model_alias("nosig", "champion", info.registered_model_version)
