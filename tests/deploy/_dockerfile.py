"""A small Dockerfile reader for the deploy tests: stages, instructions, ARG defaults."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON-array form of ENTRYPOINT/CMD (shell form is refused: signals need exec)."""
        return json.loads(self.args)


@dataclass
class Stage:
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction of this kind, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def args(self) -> dict[str, str]:
        """ARG defaults declared in this stage."""
        out = {}
        for ins in self.all("ARG"):
            name, _, default = ins.args.partition("=")
            out[name] = default
        return out

    def env(self) -> dict[str, str]:
        """ENV values (the `K=V K2=V2` form)."""
        out: dict[str, str] = {}
        for ins in self.all("ENV"):
            for pair in ins.args.split():
                key, _, value = pair.partition("=")
                out[key] = value.strip('"')
        return out


def logical_lines(text: str) -> list[str]:
    """Join backslash continuations, drop comments and blank lines."""
    lines, current = [], ""
    for raw in text.splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    return [re.sub(r"\s+", " ", line).strip() for line in lines]


def parse(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, in order (instructions before the first FROM dropped)."""
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)$", args, re.IGNORECASE)
            stages.append(Stage(match.group(1) if match else str(len(stages))))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args))
    return stages


def stage(stages: list[Stage], name: str) -> Stage:
    """The stage called `name`."""
    return next(s for s in stages if s.name == name)
