"""The command line: pick workloads and contenders, pin threads, run, write the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from . import environment, external, report, scaling
from .contenders import CONTENDERS, available, select
from .problems import WORKLOADS
from .suite import Settings, run_workload

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
FULL = Settings()
QUICK = Settings(rounds=5, block_seconds=0.015, warmup_seconds=0.02)
#: scaling sweep: (grid, rounds, seconds per block) for the full run and for --quick
SCALING_FULL = (scaling.FULL, 7, 0.03)
SCALING_QUICK = (scaling.QUICK, 3, 0.01)
OPTIONAL = ("torch", "jax", "sklearn", "numba")


def _parser() -> argparse.ArgumentParser:
    names = [*WORKLOADS, "scaling"]
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time one training step of hand numpy, tinygrad_nn and other frameworks "
        "side by side (interleaved rounds, BLAS threads pinned).",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~20 s)")
    parser.add_argument(
        "--workloads",
        nargs="+",
        choices=names,
        default=names,
        metavar="NAME",
        help=f"which workloads to run (default: all of {', '.join(names)})",
    )
    parser.add_argument(
        "--contenders",
        nargs="+",
        choices=[c.key for c in CONTENDERS],
        metavar="KEY",
        help="which contenders (default: every one available; hand numpy always runs): "
        + ", ".join(c.key for c in CONTENDERS),
    )
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--rounds", type=int, help="interleaved timing rounds")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default benchmarks/results, or benchmarks/results/quick)",
    )
    parser.add_argument("--list", action="store_true", help="list workloads and contenders")
    return parser


def _list() -> None:
    print("workloads:")
    for name, make in WORKLOADS.items():
        print(f"  {name:<12} {make().describe()}")
    print("  scaling      MLP d-d-d-10 step vs batch (width 128) and vs width (batch 64)")
    print("contenders:")
    for c in CONTENDERS:
        extra = f" (needs {c.needs})" if c.needs else ""
        print(f"  {c.key:<9} {c.label}{extra}")


def _import_frameworks(wanted: list[str] | None, threads: int) -> dict[str, Any]:
    """Import the optional frameworks (before the BLAS limits, so those cover them too)."""
    modules = {}
    for name in OPTIONAL:
        if wanted is not None and name not in wanted:
            continue
        if name == "jax":
            modules[name] = external.import_jax(threads)
        else:
            modules[name] = external.import_optional(name)
    if modules.get("torch") is not None:
        modules["torch"].set_num_threads(threads)
    return modules


def _settings(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else FULL
    fields = base.as_dict()
    if args.rounds:
        fields["rounds"] = args.rounds
    fields["memory"] = not args.no_memory
    return Settings(**fields)


def _run(args: argparse.Namespace, modules: dict[str, Any], settings: Settings) -> dict:
    """Every chosen workload (inside the thread limits), then the scaling sweep."""
    env = environment.collect(modules, args.threads)
    for line in environment.blas_summary(env["blas"]):
        _log(f"BLAS ({args.threads} thread(s) pinned): {line}")
    pool = available(modules)
    workloads = []
    for name in args.workloads:
        if name in WORKLOADS:
            problem = WORKLOADS[name]()
            chosen = select(pool, args.contenders, problem.key)
            workloads.append(run_workload(problem, chosen, settings, log=_log))
    result = {"environment": env, "workloads": workloads, "scaling": None}
    if "scaling" in args.workloads:
        keys = [k for k in ("hand", "eager", "compiled") if k in pool]
        if args.contenders:
            keys = [k for k in keys if k == "hand" or k in args.contenders]
        grid, rounds, block = SCALING_QUICK if args.quick else SCALING_FULL
        _log("[scaling] MLP d-d-d-10, hand numpy vs tinygrad_nn")
        result["scaling"] = scaling.run_scaling([pool[k] for k in keys], grid, rounds, block, _log)
    return result


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; print the Markdown report; write latest.md/.json, scaling.png."""
    args = _parser().parse_args(argv)
    if args.list:
        _list()
        return 0
    if args.threads < 1:
        _parser().error("--threads must be at least 1")
    from threadpoolctl import threadpool_limits

    modules = _import_frameworks(args.contenders, args.threads)
    settings = _settings(args)
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    started = time.time()
    with threadpool_limits(limits=args.threads):
        result = _run(args, modules, settings)
    result.update(
        created=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        mode="quick" if args.quick else "full",
        settings=settings.as_dict(),
        seconds=round(time.time() - started, 1),
    )
    text = report.markdown(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(text)
    report.write_json(result, out / "latest.json")
    if result["scaling"]:
        subtitle = f"{args.threads} BLAS thread(s); {result['environment']['machine']['cpu']}"
        scaling.plot(result["scaling"], out / "scaling.png", subtitle)
    print(text)
    _log(f"wrote {out}/latest.md, latest.json" + (", scaling.png" if result["scaling"] else ""))
    _log(f"total {result['seconds']:.0f} s")
    return 0
