"""One error family: each code names one class, and a server's answer rebuilds the same
class and status on the client (a remote 500 never comes back as a 400)."""

from __future__ import annotations

import pytest

from trk import exceptions
from trk.exceptions import TrkError, from_error_code
from trk.http_errors import http_error

pytestmark = pytest.mark.unit


def _classes() -> list[type[TrkError]]:
    found, todo = [], [TrkError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__ == exceptions.__name__]


@pytest.mark.parametrize("cls", _classes(), ids=lambda c: c.__name__)
def test_every_error_round_trips_to_its_status(cls):
    exc = cls("boom")
    answer = http_error(exc, "test")
    rebuilt = from_error_code(answer.error_code, answer.message, answer.status)
    assert answer.status == int(exc.status) and rebuilt.status == exc.status
    # A class with a code of its own comes back as itself; one that shares its parent's
    # code and status (it only narrows the meaning) comes back as that parent.
    assert isinstance(exc, type(rebuilt))
    if "error_code" in cls.__dict__ or "status" in cls.__dict__:
        assert type(rebuilt) is cls


def test_each_code_and_status_names_one_class():
    seen: dict[tuple[str, int], str] = {}
    for cls in _classes():
        if "error_code" in cls.__dict__ or "status" in cls.__dict__:
            key = (cls.error_code, int(cls.status))
            assert key not in seen, f"{cls.__name__} and {seen[key]} share {key}"
            seen[key] = cls.__name__


def test_a_bug_is_a_500_naming_only_its_type():
    answer = http_error(KeyError("secret-path"), "GET /x")
    assert (answer.status, answer.error_code) == (500, "INTERNAL_ERROR")
    assert "KeyError" in answer.message and "secret-path" not in answer.message
