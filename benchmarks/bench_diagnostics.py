"""Time the cost of diagnostics: `actbench run CONFIG` with diagnostics all on vs all off.

    .venv/bin/python benchmarks/bench_diagnostics.py [--config configs/quickstart.yaml] [--rounds 3]
        [--engine packed|sequential] [--out PATH]

Two temp configs are generated from CONFIG: "on" (gradients, dead_units, saturation, timing
all true) and "off" (all false); everything else is kept. Each round runs both as
subprocesses (the order alternates), each into a fresh output dir, wall time including
process start-up. Prints the median of each and the overhead (on/off - 1) in percent;
issue target: at most 10 %. Writes JSON and markdown (same name, .md) to --out
(default benchmarks/results/diagnostics-<date>.json).
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, actbench_cmd, loadavg, machine, median, publish, rounds_table, timed, versions  # noqa: E402

ALL = ("gradients", "dead_units", "saturation", "timing")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "quickstart.yaml")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--engine",
        choices=["packed", "sequential"],
        default=None,
        help="override training.engine (default: the config's)",
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the temp dir with outputs and logs")
    args = p.parse_args(argv)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out = args.out or ROOT / "benchmarks" / "results" / f"diagnostics-{stamp}.json"

    base = yaml.safe_load(args.config.read_text())
    base.setdefault("name", args.config.stem)
    base.pop("output", None)
    work = Path(tempfile.mkdtemp(prefix="actbench-diag-"))
    cfgs = {}
    for mode, flag in (("on", True), ("off", False)):
        cfg = dict(base)
        cfg["diagnostics"] = {**(base.get("diagnostics") or {}), **{k: flag for k in ALL}}
        if args.engine:
            cfg["training"] = {**(base.get("training") or {}), "engine": args.engine}
        path = work / f"diagnostics-{mode}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        cfgs[mode] = path
    log = open(work / "log.txt", "w")
    rounds = []
    print(
        f"config {args.config} (engine {args.engine or (base.get('training') or {}).get('engine', 'packed')}), "
        f"{args.rounds} round(s); work dir {work}",
        flush=True,
    )
    for r in range(args.rounds):
        rec = {"round": r + 1}
        for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
            rec[f"{mode}_load_before"] = loadavg()
            cmd = actbench_cmd() + ["run", str(cfgs[mode]), "--output", str(work / f"{mode}-{r + 1}"), "--overwrite"]
            rec[f"{mode}_seconds"], _ = timed(cmd, log=log)
            print(
                f"  round {r + 1} diagnostics {mode:3s}: {rec[f'{mode}_seconds']:6.1f} s "
                f"(load before {rec[f'{mode}_load_before']})",
                flush=True,
            )
        rounds.append(rec)
    log.close()
    on = median([r["on_seconds"] for r in rounds])
    off = median([r["off_seconds"] for r in rounds])
    overhead = 100 * (on / off - 1)
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([sys.executable] + sys.argv),
        "config": str(args.config),
        "engine": args.engine,
        "machine": machine(),
        "versions": versions(),
        "load_after": loadavg(),
        "median_seconds": {"on": round(on, 2), "off": round(off, 2)},
        "overhead_percent": round(overhead, 1),
        "target_percent": 10,
        "meets_target": overhead <= 10,
        "rounds": rounds,
    }
    m = result["machine"]
    header = [
        f"# actbench diagnostics overhead ({result['date']})",
        "",
        f"- machine: {m['cpu_model']}, {m['cpu_count']} CPUs, load after {result['load_after']}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}",
        f"- config: {args.config}; engine {args.engine or 'from config'}",
        f"- command: `{result['command']}`",
        "",
    ]
    body = rounds_table("diagnostics", ["on", "off"], rounds)
    body += ["", f"**overhead: {overhead:+.1f} %** (target <= 10 %: {'met' if overhead <= 10 else 'NOT met'})", ""]
    publish(args.out, result, header, body)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
