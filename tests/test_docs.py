"""The documentation: the site builds strictly, every code block of README.md and docs/ runs,
the README stays short and points only into the repository, and no text names a file that the
repository lacks.

Code blocks. Every fenced block of README.md and of docs/**/*.md is classified by its info
string and, where needed, by a marker line right before its fence, ``<!-- doc-test: WORDS -->``;
a block no rule below classifies (another info string, an unknown marker word, a marker with no
fence after it) fails ``test_every_block_is_classified``:

- ``python``: run in a fresh interpreter (a subprocess) in a temporary directory. A block marked
  ``continues`` continues the page's previous python block: the chain runs as one program, laid
  out at the page's own line numbers, so a traceback names the Markdown line.
- ``bash``: run by ``bash -e -o pipefail`` in a temporary directory that holds links to the
  repository's ``experiments/`` (the grids the examples name) and ``.venv`` (the environment
  this test runs in), with that environment's ``bin/`` first on PATH.
- ``toml``: parsed; a grid (a table naming its ``paper``) is loaded by the sweep's grid loader
  (``nc_jax.sweep.parse_grid``, which validates every cell) in its full mode and with each of
  its profile tables.
- ``text``: output or a listing, never run; it must not start with a command.
- The install lines, ``bash`` blocks that start ``python3 -m venv .venv && . .venv/bin/activate
  && pip install -e SPEC`` (or, the wheel form, ``&& pip wheel --no-deps -w dist . && pip
  install dist/nc_jax-*.whl``), are not rerun: a fresh environment per test would cost minutes
  (tests/test_wheel.py installs the wheel in a fresh environment).
  ``test_install_lines_are_what_ci_runs`` checks them against ``.ci/run`` instead: the README's
  test command must be exactly CI's steps (create an environment, activate it, install the
  project with CI's extras, run CI's test command ``python -m pytest``); any other install line
  may install only extras CI installs, and its commands after the install run like a bash
  block, in the environment this test runs in.
- ``slow`` in the marker: the block takes minutes and runs only under ``-m slow`` (the default
  run is ``-m 'not slow'``); words ``NAME=value`` after it are environment variables for a bash
  block (a Slurm script's array index).

Everything else here is cheap: the strict site build (a few seconds: mkdocstrings reads the
docstrings statically and imports nothing) and text scans.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
INFOS = ("python", "bash", "toml", "text")
MARKER_WORDS = ("slow", "continues")
# the wheel form of an install line: build the project's wheel, install it (tests/test_wheel.py
# does this in a fresh environment)
WHEEL_INSTALL = "pip wheel --no-deps -w dist . && pip install dist/nc_jax-*.whl"
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`\s]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*doc-test:(?P<words>.*?)-->\s*$")
INSTALL = re.compile(
    r"^python3 -m venv (?P<venv>\S+) && \. (?P=venv)/bin/activate && "
    r"(?:pip install -e (?P<spec>\S+)|(?P<wheel>" + re.escape(WHEEL_INSTALL) + r"))"
    r"(?: && (?P<rest>.+))?$"
)
COMMAND_STARTS = ("$ ", "nc-jax ", "python ", "python3 ", "pip ", "git ", "bash ", "cd ")
README_MAX_LINES = 150
TIMEOUT_S, SLOW_TIMEOUT_S = 600, 3600


@dataclass(frozen=True)
class Block:
    """One fenced block: its page (relative to the repository), the line of its opening fence
    (1-based), its info string, its code (the fence's indentation removed) and the words of its
    marker (empty without one)."""

    page: str
    line: int
    info: str
    code: str
    marker: tuple[str, ...] = ()

    @property
    def slow(self) -> bool:
        return "slow" in self.marker

    @property
    def environment(self) -> dict[str, str]:
        return dict(word.split("=", 1) for word in self.marker if "=" in word)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def parse_blocks(text: str, page: str) -> list[Block]:
    """Every fenced block of a Markdown text, in order. A marker comment must stand on the line
    right before a fence (ValueError otherwise, as for a fence that is never closed)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        marker = MARKER.match(lines[index])
        if marker is not None and (index + 1 == len(lines) or not FENCE.match(lines[index + 1])):
            raise ValueError(
                f"{page}:{index + 1}: a doc-test marker must stand right before a fence"
            )
        fence = FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        start, indent = index, fence["indent"]
        index += 1
        body = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index].removeprefix(indent))
            index += 1
        if index == len(lines):
            raise ValueError(f"{page}:{start + 1}: code fence is never closed")
        before = MARKER.match(lines[start - 1]) if start > 0 else None
        words = tuple(before["words"].split()) if before else ()
        code = "\n".join(body) + "\n"
        blocks.append(Block(page, start + 1, fence["info"], code, words))
        index += 1  # past the closing fence
    return blocks


def all_blocks() -> list[Block]:
    blocks = []
    for path in PAGES:
        blocks += parse_blocks(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return blocks


def install_match(block: Block) -> re.Match | None:
    """The parts of an install line (a one-line bash block), or None."""
    lines = [line for line in block.code.splitlines() if line.strip()]
    if block.info != "bash" or len(lines) != 1:
        return None
    return INSTALL.match(lines[0].strip())


def classification_errors(block: Block, previous_python: Block | None) -> list[str]:
    """Why a block is not classified (empty when it is)."""
    errors = []
    if block.info not in INFOS:
        errors.append(f"info string {block.info!r} is none of {INFOS}")
    for word in block.marker:
        if word not in MARKER_WORDS and not re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", word):
            errors.append(f"unknown marker word {word!r} (known: {MARKER_WORDS}, NAME=value)")
    if "continues" in block.marker and (block.info != "python" or previous_python is None):
        errors.append("'continues' needs a python block after another on the same page")
    if block.marker and block.info in ("text", "toml"):
        errors.append(f"a {block.info} block is never run, so it takes no marker")
    if block.environment and block.info != "bash":
        errors.append("environment variables are for bash blocks")
    venv = block.info == "bash" and block.code.lstrip().startswith("python3 -m venv")
    if venv and install_match(block) is None:
        errors.append(
            "an install line is one line: python3 -m venv .venv && . .venv/bin/activate && "
            f"(pip install -e SPEC | {WHEEL_INSTALL}) [&& COMMAND]"
        )
    return errors


def python_programs(blocks: list[Block]) -> list[list[Block]]:
    """The python blocks grouped into programs: a block marked 'continues' joins the program of
    the page's previous python block."""
    programs: list[list[Block]] = []
    for block in blocks:
        if block.info != "python":
            continue
        if "continues" in block.marker and programs and programs[-1][-1].page == block.page:
            programs[-1].append(block)
        else:
            programs.append([block])
    return programs


def program_source(program: list[Block]) -> str:
    """The program's code laid out at its page's line numbers (blank lines elsewhere)."""
    lines: list[str] = []
    for block in program:
        lines += [""] * (block.line - len(lines))  # up to and including the opening fence
        lines += block.code.splitlines()
    return "\n".join(lines) + "\n"


def ci_steps() -> list[tuple[str, ...]]:
    """What .ci/run does, as steps: ("venv",), ("activate",), ("install", SPEC), ("run", CMD)."""
    steps: list[tuple[str, ...]] = []
    for raw in (ROOT / ".ci" / "run").read_text().splitlines():
        line = raw.strip()
        if re.fullmatch(r"python3 -m venv \S+", line):
            steps.append(("venv",))
        elif re.fullmatch(r"\. \S+/bin/activate", line):
            steps.append(("activate",))
        elif line.startswith("python -m pip install") and " -e " in line:
            steps.append(("install", line.split(" -e ", 1)[1].strip().strip("\"'")))
        elif line.startswith("python -m pytest"):
            steps.append(("run", line))
    return steps


def install_steps(match: re.Match) -> list[tuple[str, ...]]:
    """An install line as steps (ci_steps); the wheel form installs the project ('.')."""
    spec = "." if match["wheel"] else match["spec"].strip("\"'")
    steps = [("venv",), ("activate",), ("install", spec)]
    return steps + [("run", command.strip()) for command in (match["rest"] or "").split("&&")]


def extras(spec: str) -> set[str]:
    found = re.fullmatch(r"(?P<path>[^\[]+)(?:\[(?P<extras>[^\]]*)\])?", spec)
    assert found is not None, spec
    return {e.strip() for e in (found["extras"] or "").split(",") if e.strip()}


def _work_directory(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "experiments").symlink_to(ROOT / "experiments")
    (work / ".venv").symlink_to(Path(sys.prefix))
    return work


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra, "MPLBACKEND": "Agg"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], slow: bool, where: str) -> None:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SLOW_TIMEOUT_S if slow else TIMEOUT_S,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{where}: exit status {done.returncode}\n--- stdout (end)\n{done.stdout[-4000:]}"
            f"\n--- stderr (end)\n{done.stderr[-4000:]}",
            pytrace=False,
        )


BLOCKS = all_blocks()
PROGRAMS = python_programs(BLOCKS)


def _shell_cases() -> list:
    """Bash blocks, and the commands after the install of install lines (none for CI's test
    command, which is compared with .ci/run instead)."""
    cases, seen = [], set()
    ci_test = [step for step in ci_steps() if step[0] == "run"]
    for block in BLOCKS:
        if block.info != "bash":
            continue
        match = install_match(block)
        if match is None:
            code = block.code
        else:
            rest = [step for step in install_steps(match) if step[0] == "run"]
            if not rest or rest == ci_test:
                continue
            code = "\n".join(command for _, command in rest) + "\n"
            if code in seen:  # the same main job after the same install, on another page
                continue
            seen.add(code)
        marks = [pytest.mark.slow] if block.slow else []
        cases.append(pytest.param(block, code, id=block.where, marks=marks))
    return cases


def _program_cases() -> list:
    return [
        pytest.param(
            program,
            id=program[0].where,
            marks=[pytest.mark.slow] if any(b.slow for b in program) else [],
        )
        for program in PROGRAMS
    ]


def test_every_block_is_classified():
    errors, previous = [], {}
    for block in BLOCKS:
        for error in classification_errors(block, previous.get(block.page)):
            errors.append(f"{block.where}: {error}")
        if block.info == "python":
            previous[block.page] = block
    assert not errors, "\n".join(errors)
    assert BLOCKS and PROGRAMS


@pytest.mark.parametrize("program", _program_cases())
def test_python_block_runs(program: list[Block], tmp_path):
    work = _work_directory(tmp_path)
    source = work / (Path(program[0].page).stem + ".py")
    source.write_text(program_source(program))
    _run([sys.executable, str(source)], work, _environment({}), program[0].slow, program[0].where)


@pytest.mark.parametrize(("block", "code"), _shell_cases())
def test_shell_block_runs(block: Block, code: str, tmp_path):
    work = _work_directory(tmp_path)
    script = tmp_path / "block.sh"
    script.write_text(code)
    env = _environment(block.environment)
    _run(["bash", "-e", "-o", "pipefail", str(script)], work, env, block.slow, block.where)


@pytest.mark.parametrize("block", [pytest.param(b, id=b.where) for b in BLOCKS if b.info == "toml"])
def test_toml_block_parses_and_grids_load(block: Block):
    data = tomllib.loads(block.code)
    if "paper" not in data:
        return
    from nc_jax.sweep import PROFILES, parse_grid

    parse_grid(data, source=block.where)
    for profile in PROFILES:
        if profile in data:
            parse_grid(data, profile=profile, source=block.where)


def test_text_blocks_are_output_not_commands():
    for block in BLOCKS:
        if block.info == "text":
            first = next((line for line in block.code.splitlines() if line.strip()), "")
            assert first.strip(), f"{block.where}: empty text block"
            assert not first.startswith(COMMAND_STARTS), (
                f"{block.where}: a text block starts with a command; commands go in bash blocks"
            )


def test_install_lines_are_what_ci_runs():
    ci = ci_steps()
    assert [step[0] for step in ci] == ["venv", "activate", "install", "run"], ci
    ci_extras = extras(ci[2][1])
    installs = [(block, install_match(block)) for block in BLOCKS]
    installs = [(block, match) for block, match in installs if match is not None]
    readme = [(block, match) for block, match in installs if block.page == "README.md"]
    # the README's two commands at the top: run the main job, and run the tests as CI does
    first_two = [b.line for b in BLOCKS if b.page == "README.md"][:2]
    assert [block.line for block, _ in readme][:2] == first_two, (
        "the README opens with its two install lines"
    )
    test_lines = [block for block, match in readme if install_steps(match) == ci]
    assert len(test_lines) == 1, "the README's test command must be exactly .ci/run's steps"
    for block, match in installs:
        spec = install_steps(match)[2][1]
        assert spec.split("[")[0] == ci[2][1].split("[")[0], f"{block.where}: installs {spec}"
        assert extras(spec) <= ci_extras, f"{block.where}: extras CI does not install"


def test_readme_is_short_and_points_only_into_the_repository():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    assert "://" not in text, "the README links to nothing outside the repository"
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets
    for target in targets:
        path = target.split("#", 1)[0]
        assert not path.startswith(("/", "..")), target
        assert (ROOT / path).exists(), f"README links to {target}, which does not exist"
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 1 and images[0].startswith("docs/gallery/"), images


def test_site_builds_strictly(tmp_path):
    """mkdocs build --strict: a broken link or anchor, a page left out of the navigation or a
    docstring mkdocstrings cannot render is an error; any warning fails the test too."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "add-a-paper" / "index.html").is_file()
    api = (tmp_path / "api" / "checks" / "index.html").read_text(encoding="utf-8")
    assert 'id="nc_jax.checks.Theorem"' in api, "the API pages render the docstrings"


# Paths named in text: a repository directory, then a path ending .md, .py or .toml.
NAMED_PATH = re.compile(
    r"(?<![\w./-])((?:\.ci|docs|tests|nc_jax|theorems|experiments)/[\w./-]*\.(?:md|py|toml))"
    r"(?![\w-])"
)
SCANNED = ("nc_jax", "theorems", "experiments", "docs", "tests")
SUFFIXES = (".py", ".md", ".toml")


def _scanned_files() -> list[Path]:
    files = [README, ROOT / "mkdocs.yml", ROOT / "pyproject.toml", ROOT / ".ci" / "run"]
    for directory in SCANNED:
        files += [
            path
            for path in sorted((ROOT / directory).rglob("*"))
            if path.suffix in SUFFIXES and path.is_file() and "__pycache__" not in path.parts
        ]
    return files


def test_every_named_repository_file_exists():
    """No docstring, comment, README or page names a repository file that does not exist (a
    path such as docs/theory/<paper>.md with a placeholder is not a name)."""
    missing = []
    for path in _scanned_files():
        if path.parts[len(ROOT.parts)] == "tests" and path.suffix != ".py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in NAMED_PATH.findall(line):
                if not (ROOT / name.rstrip(".")).exists():
                    missing.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    assert not missing, "named but not in the repository:\n" + "\n".join(missing)


def test_nothing_points_outside_the_repository():
    # built from pieces, so that this file does not name them itself
    forbidden = [
        "../" + "shared",
        "DESIGN" + ".md",
        "other_papers" + ".md",
        "seed_list" + "_papers.md",
    ]
    hits = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8")
        hits += [f"{path.relative_to(ROOT)}: {word}" for word in forbidden if word in text]
    assert not hits, "\n".join(hits)


def test_parser_reads_fences_markers_and_chains():
    text = "\n".join(
        [
            "# Title",
            "```bash",
            "# not a heading",
            "```",
            "<!-- doc-test: slow A=1 -->",
            "```python",
            "x = 1",
            "```",
            "  ```text",
            "  indented",
            "  ```",
            "<!-- doc-test: continues -->",
            "```python",
            "y = x",
            "```",
        ]
    )
    first, second, third, fourth = parse_blocks(text, "p.md")
    assert first == Block("p.md", 2, "bash", "# not a heading\n")
    assert second == Block("p.md", 6, "python", "x = 1\n", ("slow", "A=1"))
    assert second.slow and second.environment == {"A": "1"}
    assert third == Block("p.md", 9, "text", "indented\n")
    assert fourth.marker == ("continues",)
    (program,) = python_programs([first, second, third, fourth])
    source = program_source(program)
    assert source.splitlines()[6] == "x = 1" and source.splitlines()[13] == "y = x"
    with pytest.raises(ValueError, match="never closed"):
        parse_blocks("```python\nx = 1\n", "p.md")
    with pytest.raises(ValueError, match="right before a fence"):
        parse_blocks("<!-- doc-test: slow -->\n\n```bash\nls\n```\n", "p.md")
    assert classification_errors(Block("p.md", 1, "sh", "ls\n"), None)
    assert classification_errors(Block("p.md", 1, "bash", "ls\n", ("fast",)), None)
    install = Block(
        "p.md",
        1,
        "bash",
        "python3 -m venv .venv && . .venv/bin/activate && "
        'pip install -e ".[dev]" && python -m pytest\n',
    )
    match = install_match(install)
    assert install_steps(match) == [
        ("venv",),
        ("activate",),
        ("install", ".[dev]"),
        ("run", "python -m pytest"),
    ]
    assert extras(".[dev, bench]") == {"dev", "bench"} and extras(".") == set()


def test_the_add_a_paper_tutorial_is_a_paper_the_generic_runner_checks(tmp_path, monkeypatch):
    """The tutorial's complete code (docs/add-a-paper.md, its python blocks in order) defines a
    Setting, a run, Theorems and a Paper; the generic runner checks the paper end to end, and a
    sweep of it writes the same results directory format."""
    from nc_jax import results, sweep
    from nc_jax.checks import Paper, Theorem, check, setting_runs
    from nc_jax.checks.runner import main

    (program,) = [p for p in PROGRAMS if p[0].page == "docs/add-a-paper.md"]
    assert len(program) >= 4, "the tutorial is one program in several steps"
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("toy_paper")  # what a reader's toy_paper.py would be
    monkeypatch.setitem(sys.modules, "toy_paper", module)
    code = compile(program_source(program), "docs/add-a-paper.md", "exec", dont_inherit=True)
    exec(code, module.__dict__)
    namespace = module.__dict__
    paper = namespace["PAPER"]
    assert isinstance(paper, Paper) and paper.setting is namespace["Setting"]
    assert paper.run is namespace["run"]
    assert all(isinstance(t, Theorem) for t in paper.theorems)
    assert {t.kind for t in paper.theorems} == {"consequence", "claim"}
    assert set(paper.examples) == {t.id for t in paper.theorems} and paper.quick
    quick = paper.setting(**paper.quick)
    assert len(quick.runs()) == setting_runs(quick) == 1
    for theorem in paper.theorems:
        assert check(theorem, paper.examples[theorem.id].violated).verdict == "violated"

    assert main(paper, ["--results", "again", "--seeds", "3,4,5,6"]) == 0
    table = results.load(tmp_path / "again")
    assert sorted(set(table["seed"])) == [3, 4, 5, 6]
    assert set(table["verdict"]) == {"holds"} and len(table) == 4 * len(paper.theorems)

    monkeypatch.setattr(sweep.grid, "get_paper", lambda name: paper)
    grid = sweep.parse_grid({"paper": "toy", "grid": {"size": [10, 100]}})
    sweep.sweep(grid, tmp_path / "sweep", progress=False, echo=lambda _: None)
    swept = results.load(tmp_path / "sweep")
    claims = swept[swept["check"] == "toy.prop2.std"]
    assert set(claims[claims["size"] == 10]["verdict"]) == {"vacuous"}
    assert set(claims[claims["size"] == 100]["verdict"]) == {"holds"}
