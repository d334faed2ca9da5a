"""What a loader may trust in a model directory: which files, which code, which types.

Whoever can write to the artifact store can edit a model's files, `MLmodel` included, so
nothing in the directory vouches for itself. Trust comes from outside: the registry's digest
matched every file (a `models:/NAME/...` load), or the caller opted in (`allow_pickle`).
"""

from __future__ import annotations

from pathlib import Path

from trk.exceptions import ModelError
from trk.models.mlmodel import Model

ALLOW_PICKLE_HINT = (
    "load it through a registered version whose digest matches (models:/NAME/VERSION or "
    "models:/NAME@ALIAS), or opt in for a source you trust: allow_pickle=True, "
    "trk-serve --allow-pickle, or TRK_ALLOW_PICKLE=1"
)

# skops loads these module trees; anything else needs to be the model's own recorded code.
SKOPS_TRUSTED_ROOTS = ("numpy", "scipy", "sklearn")
# Never trusted, whatever a model records: each of these can run commands or load code.
_NEVER = (
    "builtins",
    "os",
    "posix",
    "nt",
    "subprocess",
    "sys",
    "shutil",
    "importlib",
    "pickle",
    "marshal",
    "ctypes",
    "socket",
    "runpy",
    "code",
    "pty",
    "io",
    "pathlib",
    "tempfile",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
)


def confined(model_dir: Path, rel: object, what: str) -> Path:
    """`model_dir / rel` for a file reference read from MLmodel; refuses any way out."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise ModelError(f"MLmodel in {model_dir}: {what} {rel!r} is not a file name")
    root = Path(model_dir).resolve()
    target = (root / rel).resolve()  # follows symlinks, so a link out is caught too
    if target == root or root not in target.parents or Path(rel).is_absolute():
        raise ModelError(
            f"MLmodel in {model_dir}: {what} {rel!r} points outside the model directory"
        )
    return target


def require_code_trust(mlmodel: Model, file: Path, fmt: str) -> None:
    """Refuse a file whose format runs code when loaded unless the model is trusted."""
    if not mlmodel.code_trusted:
        raise ModelError(
            f"Refusing to load {file.name} from {mlmodel.model_dir}: it is {fmt}, which runs "
            f"code when loaded, and nothing vouches for these files; {ALLOW_PICKLE_HINT}"
        )


def _under(type_name: str, roots: tuple[str, ...] | list[str]) -> bool:
    return any(type_name == r or type_name.startswith(r + ".") for r in roots)


def own_modules(types: list[str]) -> list[str]:
    """Modules of a model's types beyond numpy, scipy and scikit-learn, recorded at save."""
    modules = {t.rpartition(".")[0] for t in types if not _under(t, SKOPS_TRUSTED_ROOTS)}
    return sorted(m for m in modules if m and not _under(m, _NEVER))


def skops_trusted(found: list[str], mlmodel: Model, file: Path) -> list[str]:
    """The types of a skops file that may be loaded; raises naming the first refused one.

    numpy, scipy and scikit-learn types are trusted; the estimator modules recorded at save
    only when the files are trusted (an unverified MLmodel could name any module).
    """
    recorded = mlmodel.flavors.get("sklearn", {}).get("estimator_modules") or []
    roots = list(SKOPS_TRUSTED_ROOTS)
    if mlmodel.code_trusted and isinstance(recorded, list):
        roots += [m for m in recorded if isinstance(m, str) and m]
    for name in found:
        if _under(name, _NEVER) or not _under(name, roots):
            raise ModelError(
                f"Refusing to load {file.name} from {mlmodel.model_dir}: it holds type "
                f"{name!r}, outside numpy, scipy, scikit-learn and the model's own recorded "
                "estimator modules"
            )
    return list(found)
