"""Password hashing with argon2id (argon2-cffi).

Why argon2-cffi: Argon2id won the Password Hashing Competition and is OWASP's first choice;
it is memory-hard, so guessing on GPUs costs memory as well as time, unlike MLflow's PBKDF2
through werkzeug. argon2-cffi is the maintained binding (hynek), with safe defaults, an
encoded hash that carries its own parameters and salt, and `check_needs_rehash` for raising
the cost later without a migration.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; False for a wrong password or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
