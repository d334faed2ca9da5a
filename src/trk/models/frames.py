"""pandas, imported only where a table is built.

Tensor models (ONNX, torch) never need pandas, and importing it costs a serving process about
half a second at start. A value can only be a DataFrame if pandas is already imported, so
type checks ask `loaded_pandas()` instead of importing it.
"""

from __future__ import annotations

import sys
from typing import Any


def loaded_pandas() -> Any:
    """The pandas module if something imported it already, else None."""
    return sys.modules.get("pandas")


def is_frame(value: Any) -> bool:
    pd = loaded_pandas()
    return pd is not None and isinstance(value, pd.DataFrame)


def is_series(value: Any) -> bool:
    pd = loaded_pandas()
    return pd is not None and isinstance(value, pd.Series)
