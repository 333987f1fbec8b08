"""The Dockerfile, read as text (no Docker engine runs here): multi-stage, non-root, healthcheck, command."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Instruction:
    keyword: str
    arguments: str

    def words(self) -> list[str]:
        """Exec form (a JSON array) or shell form, as a list of words."""
        if self.arguments.startswith("["):
            parsed = json.loads(self.arguments)
            assert isinstance(parsed, list)
            return [str(word) for word in parsed]
        return shlex.split(self.arguments)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped (parser directives too)."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def parse_stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for instruction in parse_instructions(text):
        if instruction.keyword == "FROM":
            words = [word for word in instruction.arguments.split() if not word.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` (top-level name) out of the context; the last match wins."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negated
    return ignored


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def final_stage() -> Stage:
    return parse_stages(dockerfile())[-1]


def test_parser_on_a_synthetic_dockerfile() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.11-slim AS build\n"
        "RUN pip install \\\n"
        "    # a comment inside\n"
        "    thing\n"
        "FROM python:3.11-slim\n"
        "USER root\n"
        'CMD ["tunebot", "serve"]\n'
    )
    build, final = parse_stages(text)
    assert (build.base, build.name) == ("python:3.11-slim", "build")
    assert build.instructions == [Instruction("RUN", "pip install thing")]
    assert final.name is None
    assert final.last("USER") == Instruction("USER", "root")
    cmd = final.last("CMD")
    assert cmd is not None and cmd.words() == ["tunebot", "serve"]


def test_multi_stage_from_python_slim() -> None:
    stages = parse_stages(dockerfile())
    assert len(stages) >= 2
    args = {
        instruction.arguments.split("=", 1)[0]: instruction.arguments.split("=", 1)[1]
        for instruction in parse_instructions(dockerfile())
        if instruction.keyword == "ARG" and "=" in instruction.arguments
    }
    bases = {re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage.base) for stage in stages}
    # One base for all stages: the copied venv points at that image's interpreter.
    assert bases == {"python:3.11-slim"}


def test_final_stage_copies_the_venv_from_the_builder() -> None:
    stages = parse_stages(dockerfile())
    builder_names = {stage.name for stage in stages[:-1]}
    copies = [c.arguments for c in final_stage().all("COPY") if c.arguments.startswith("--from=")]
    assert any(c.split()[0].removeprefix("--from=") in builder_names and "/opt/venv" in c for c in copies)
    # The runtime stage installs nothing itself: no compilers or build tools reach the image.
    assert all("pip install" not in run.arguments for run in final_stage().all("RUN"))


def test_final_stage_runs_as_a_non_root_user() -> None:
    user = final_stage().last("USER")
    assert user is not None, "the final stage sets no USER: it would run as root"
    name = user.arguments.split(":")[0]
    assert name not in ("root", "0")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without looking the name up.
    assert name.isdigit()


def test_healthcheck_asks_healthz_without_curl() -> None:
    healthcheck = final_stage().last("HEALTHCHECK")
    assert healthcheck is not None
    assert "/healthz" in healthcheck.arguments
    assert "curl" not in healthcheck.arguments and "wget" not in healthcheck.arguments
    assert "urllib" in healthcheck.arguments


def test_image_serves_on_8080() -> None:
    stage = final_stage()
    assert any("8080" in expose.arguments.split() for expose in stage.all("EXPOSE"))
    entrypoint, cmd = stage.last("ENTRYPOINT"), stage.last("CMD")
    command = (entrypoint.words() if entrypoint else []) + (cmd.words() if cmd else [])
    assert command[:2] == ["tunebot", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8080"
    # The chart passes `serve --role ...` as args, replacing CMD: the entrypoint must be `tunebot` alone.
    assert entrypoint is not None and entrypoint.words() == ["tunebot"]


def test_dockerignore_keeps_secrets_out_and_sources_in() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    for kept in ("pyproject.toml", "README.md", "bot", "services"):
        assert not dockerignored(kept, patterns), kept
    for dropped in (".env", ".venv", ".git", "tunebot.db", "tunebot-data", "tests"):
        assert dockerignored(dropped, patterns), dropped
    # Everything the builder copies from the context is in it.
    for stage in parse_stages(dockerfile()):
        for copy in stage.all("COPY"):
            if copy.arguments.startswith("--from="):
                continue
            for source in copy.words()[:-1]:
                if not source.startswith("--"):
                    assert not dockerignored(source.rstrip("/"), patterns), source
                    assert (ROOT / source).exists(), source
