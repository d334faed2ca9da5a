"""The README states how many annotations use `Any`: adding one means saying so there."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_any_count_does_not_grow_past_the_readme():
    stated = re.search(r"`Any` appears in ([\d,]+) annotations", (ROOT / "README.md").read_text())
    assert stated, "README.md no longer states the Any count"
    spec = importlib.util.spec_from_file_location("count_any", ROOT / "scripts" / "count_any.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    total = sum(sum(kinds.values()) for kinds in module.count().values())
    assert 0 < total <= int(stated[1].replace(",", ""))
