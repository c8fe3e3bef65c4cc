"""`conductor-bot status NET` from a cold start vs op-conductor-ops' `status`.

Run: `python -m bench.bench_cli_start` (`--runs`, `--hang-cap`, `--work-dir`).

Both tools run as fresh processes (what an operator types when Slack is down) against one simulated
3-node network served by `conductor-bot sim` in another process, interleaved run by run so both see the
same machine load:

(a) healthy cluster: median and best wall time of each, the ratio (issue 13's target: ≤ 1.2×), and the
    CPU time (user + system) each process used: on a busy machine wall times stretch with the load,
    CPU time much less;
(b) one node hung (both endpoints accept and never answer): conductor-bot returns after about one RPC
    timeout; op-conductor-ops has no timeout and is killed at `--hang-cap` seconds;
(c) the import cost the lazy CLI saves: importing what `status` needs vs every verb's module.

op-conductor-ops is not a dependency and none of its code is in this repository. The bench looks for
it, in order: `$OP_CONDUCTOR_OPS` (a command, run as is); `op-conductor-ops` on PATH;
`$OP_CONDUCTOR_OPS_SRC`, either its source directory (holding `op_conductor_ops/`) or a git
repository of ethereum-optimism/infra (bare or not), from which `op-conductor-ops/` is extracted. From
source it creates a virtualenv under `--work-dir` and installs the dependencies its pyproject.toml
names. When none of these is found, or the install fails, it says why and skips the comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

NETWORK = "sim-1"


@dataclass(frozen=True)
class Tool:
    """A command line to time, with the environment it needs."""

    name: str
    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float  # user + system seconds of the process
    exit_code: int | None  # None: killed at the cap


def conductor_bot(config_dir: Path) -> Tool:
    script = Path(sys.executable).parent / "conductor-bot"
    argv = [str(script)] if script.exists() else [sys.executable, "-c", "from bot.cli import main; main()"]
    env = {**os.environ, "CONDUCTOR_BOT_RPC_TIMEOUT": "2.0", "COLUMNS": "200"}
    return Tool(
        "conductor-bot", [*argv, "status", NETWORK, "--clusters", str(config_dir / "clusters.yml")], env
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_run(tool: Tool, cap: float) -> Run:
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(tool.argv, env=tool.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        code: int | None = proc.wait(timeout=cap)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = None
    return Run(time.perf_counter() - start, _children_cpu() - cpu, code)


@contextmanager
def simulator(work: Path) -> Iterator[tuple[Path, str]]:
    """`conductor-bot sim` (1 network of 3 nodes, real time) in its own process: (config dir, control URL)."""
    config = work / "sim"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "sim", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if "sim ready" in line:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start within 60 s")
        else:
            raise RuntimeError("the simulator exited before it was ready")
        time.sleep(4)  # a few blocks, so heads are fresh and the verdict is healthy
        yield config, (config / "control_url").read_text().strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def control(url: str, method: str, *params: object) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")


# --- finding op-conductor-ops ---------------------------------------------------------------------


def find_ops_tool(work: Path, config_dir: Path) -> tuple[Tool | None, str]:
    """op-conductor-ops' `status` command, or None and why not."""
    config_args = ["-c", str(config_dir / "config.toml"), "status", NETWORK]
    if command := os.environ.get("OP_CONDUCTOR_OPS"):
        return Tool(
            "op-conductor-ops", [*command.split(), *config_args], dict(os.environ)
        ), f"$OP_CONDUCTOR_OPS={command}"
    if found := shutil.which("op-conductor-ops"):
        return Tool("op-conductor-ops", [found, *config_args], dict(os.environ)), found
    src = os.environ.get("OP_CONDUCTOR_OPS_SRC")
    if not src:
        return None, (
            "not found: set OP_CONDUCTOR_OPS to its command, or OP_CONDUCTOR_OPS_SRC to its source directory "
            "or a git repository of ethereum-optimism/infra"
        )
    try:
        source = _source_dir(Path(src), work)
        python = _venv_with_deps(source, work)
    except (OSError, RuntimeError, subprocess.CalledProcessError, tomllib.TOMLDecodeError, KeyError) as exc:
        return None, f"cannot set it up from {src}: {exc}"
    env = {**os.environ, "PYTHONPATH": str(source)}
    argv = [str(python), "-c", "from op_conductor_ops.cli import app; app()", *config_args]
    return Tool("op-conductor-ops", argv, env), f"{source} (virtualenv {python.parent.parent})"


def _source_dir(src: Path, work: Path) -> Path:
    for candidate in (src, src / "op-conductor-ops"):
        if (candidate / "op_conductor_ops").is_dir():
            return candidate
    # A git repository (a bare mirror has no work tree): take op-conductor-ops/ out of HEAD.
    archive = subprocess.run(
        ["git", f"--git-dir={_git_dir(src)}", "archive", "--format=tar", "HEAD", "op-conductor-ops"],
        check=True,
        capture_output=True,
    ).stdout
    target = work / "op-conductor-ops-src"
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "op-conductor-ops"


def _git_dir(src: Path) -> Path:
    return src / ".git" if (src / ".git").exists() else src


def _venv_with_deps(source: Path, work: Path) -> Path:
    """A virtualenv with op-conductor-ops' runtime dependencies (reused while they are the same).

    The versions its poetry.lock pins for the main group when there is one (its typer needs the click
    of its time), else the ranges its pyproject.toml names.
    """
    wanted = _locked(source) or _declared(source)
    venv = work / "op-conductor-ops-venv"
    stamp = venv / "requirements.txt"
    python = venv / "bin" / "python"
    if stamp.exists() and stamp.read_text() == "\n".join(wanted):
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *wanted], capture_output=True, text=True
    )
    if install.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(wanted)} failed: {install.stderr.strip()[-300:]}")
    stamp.write_text("\n".join(wanted))
    return python


def _locked(source: Path) -> list[str]:
    lock = source / "poetry.lock"
    if not lock.exists():
        return []
    packages = tomllib.loads(lock.read_text()).get("package", [])
    return sorted(
        f"{p['name']}=={p['version']}"
        for p in packages
        if "main" in p.get("groups", [p.get("category", "main")]) and "Windows" not in p.get("markers", "")
    )


def _declared(source: Path) -> list[str]:
    deps = tomllib.loads((source / "pyproject.toml").read_text())["tool"]["poetry"]["dependencies"]
    return sorted(_requirement(name, spec) for name, spec in deps.items() if name != "python")


def _requirement(name: str, spec: str | dict[str, str]) -> str:
    """A poetry constraint as pip's: `^1.2.3` is >=1.2.3,<2 (and `^0.12.3` is >=0.12.3,<0.13)."""
    version = spec if isinstance(spec, str) else spec["version"]
    if not version.startswith("^"):
        return f"{name}{version}" if version[0] in "<>=!~" else f"{name}=={version}"
    parts = [int(p) for p in version[1:].split(".")]
    first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
    upper = [*parts[:first], parts[first] + 1]
    return f"{name}>={version[1:]},<{'.'.join(map(str, upper))}"


# --- the figures ------------------------------------------------------------------------------------


def compare(tools: list[Tool], runs: int, cap: float) -> dict[str, list[Run]]:
    results: dict[str, list[Run]] = {t.name: [] for t in tools}
    for tool in tools:
        time_run(tool, cap)  # warm the file cache; not counted
    for _ in range(runs):
        for tool in tools:
            results[tool.name].append(time_run(tool, cap))
    return results


def report_healthy(results: dict[str, list[Run]]) -> None:
    print(f"(a) healthy 3-node cluster, `status {NETWORK}`, {len(next(iter(results.values())))} runs each")
    medians, cpus = {}, {}
    for name, runs in results.items():
        times = [r.seconds for r in runs]
        medians[name] = statistics.median(times)
        cpus[name] = statistics.median(r.cpu for r in runs)
        codes = sorted({r.exit_code for r in runs}, key=str)
        print(
            f"    {name:17} wall median {medians[name]:6.3f} s  best {min(times):6.3f} s"
            f"   CPU median {cpus[name]:6.3f} s   exit codes {codes}"
        )
    if len(medians) == 2:
        ratio = medians["conductor-bot"] / medians["op-conductor-ops"]
        cpu_ratio = cpus["conductor-bot"] / cpus["op-conductor-ops"]
        verdict = "within" if ratio <= 1.2 else "ABOVE"
        print(
            f"    ratio conductor-bot / op-conductor-ops: wall {ratio:.2f}x ({verdict} the 1.2x target),"
            f" CPU {cpu_ratio:.2f}x"
        )


def report_hung(tools: list[Tool], cap: float, timeout: float) -> None:
    print(f"(b) one node hung (conductor and op-node accept, never answer); rpc timeout {timeout:g} s")
    for tool in tools:
        run = time_run(tool, cap)
        shown = (
            f"exit {run.exit_code}" if run.exit_code is not None else f"killed: no answer within {cap:g} s"
        )
        print(f"    {tool.name:17} {run.seconds:6.3f} s   {shown}")


IMPORTS = {
    "python alone": "pass",
    "the libraries status needs": (
        "import asyncio, httpx, pydantic_settings, rich.table, typer._adapters, yaml"
    ),
    "status's modules (lazy CLI)": "import bot.cli; bot.cli.load_verb('status')",
    "every verb's module (eager)": (
        "import bot.cli, bot.main, bot.demo, bot.audit_cli, bot.status_cli, bot.check_env_cli, sim.cli"
    ),
}


def report_imports(runs: int) -> None:
    print(f"(c) python start + imports, median of {runs}: wall, CPU")
    for label, code in IMPORTS.items():
        tool = Tool(label, [sys.executable, "-c", code], dict(os.environ))
        measured = [time_run(tool, 60) for _ in range(runs)]
        wall = statistics.median(r.seconds for r in measured)
        cpu = statistics.median(r.cpu for r in measured)
        print(f"    {label:30} {wall:6.3f} s  {cpu:6.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--hang-cap", type=float, default=20.0, help="seconds before a hung tool is killed")
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "conductor-bot-bench-cli-start"
    )
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    with simulator(args.work_dir) as (config_dir, control_url):
        ours = conductor_bot(config_dir)
        theirs, why = find_ops_tool(args.work_dir, config_dir)
        print(f"op-conductor-ops: {why}" + ("" if theirs else " — comparison skipped"))
        tools = [ours] if theirs is None else [ours, theirs]
        report_healthy(compare(tools, args.runs, args.hang_cap))
        control(control_url, "sim_hang", NETWORK, "seq-2", "conductor")
        control(control_url, "sim_hang", NETWORK, "seq-2", "node")
        report_hung(tools, args.hang_cap, float(ours.env["CONDUCTOR_BOT_RPC_TIMEOUT"]))
    report_imports(max(3, args.runs // 2))


if __name__ == "__main__":
    main()
