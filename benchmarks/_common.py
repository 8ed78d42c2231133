"""Shared helpers of the benchmark scripts (stdlib only; nothing here imports Keras)."""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_exe() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def actbench_cmd() -> list[str]:
    exe = Path(python_exe()).with_name("actbench")
    return [str(exe)] if exe.exists() else [python_exe(), "-m", "actbench.cli"]


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def timed(cmd: list[str], env: dict | None = None, log=None) -> tuple[float, subprocess.CompletedProcess]:
    """Run cmd; wall seconds including process start-up. Raises on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if log is not None:
        log.write(f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}\n")
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return seconds, proc


def machine() -> dict:
    model = platform.processor() or ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except FileNotFoundError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "cpu_model": model,
        "platform": platform.platform(),
        "host": platform.node(),
    }


def versions() -> dict:
    code = (
        "import importlib.metadata as m, json, platform\n"
        "out = {'python': platform.python_version()}\n"
        "for p in ['actbench', 'keras', 'tensorflow', 'jax', 'torch', 'numpy']:\n"
        "    try: out[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    out = subprocess.run([python_exe(), "-c", code], capture_output=True, text=True).stdout
    return json.loads(out or "{}")


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def read_runs_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def rounds_table(label: str, sides: list[str], rounds: list[dict]) -> list[str]:
    """Markdown rows: per side, its `<side>_seconds` in each round and the median."""
    lines = [
        f"| {label} | " + " | ".join(f"round {r['round']}" for r in rounds) + " | median |",
        "|---|" + "---|" * (len(rounds) + 1),
    ]
    for side in sides:
        seconds = [r[f"{side}_seconds"] for r in rounds]
        lines.append(f"| {side} | " + " | ".join(f"{x:.1f} s" for x in seconds) + f" | **{median(seconds):.1f} s** |")
    return lines


def publish(out: Path, result: dict, header: list[str], body: list[str]) -> None:
    """Write the JSON and the markdown (header + body); print the body and where both went."""
    json_path, md_path = write_outputs(out, result, "\n".join(header + body))
    print("\n".join(body))
    print(f"written: {json_path}, {md_path}")


def write_outputs(out: Path, result: dict, markdown: str) -> tuple[Path, Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    md = out.with_suffix(".md")
    md.write_text(markdown)
    return out, md
