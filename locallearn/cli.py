"""The ``locallearn`` command: list what exists, run an experiment, redraw its plots.

    locallearn list
    locallearn run --task evidence --rule eprop --feedback random --seed 0 --out runs/x
    locallearn run --config my_run.toml --set training.lr=0.002 --set network.n_rec=200
    locallearn run --task catch --rule reward-eprop --steps 200000 --out runs/catch
    locallearn run --task catch --seeds 0-7 --out runs/catch8   # 8 lifetimes in lockstep, one process
    locallearn analyse runs/rec --method spade     # recorded windows of a lifetime (extra [analysis])
    locallearn play runs/catch --episodes 100
    locallearn plot runs/x
    locallearn report results/evidence            # markdown tables over seeds, from the files
    locallearn tune sweeps/tune/catch-reward-eprop-random.toml --workers 2   # Optuna search (extra [tune])

Exit status: 0 on success, 2 for a bad name, value or file (the message lists what is allowed),
130 when a run was interrupted (its directory is still complete and says so).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import ConfigError, UnknownNameError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def _parse_value(text: str):
    """A --set value as a TOML literal (numbers, booleans, strings, arrays), else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_set(config: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set expects section.key=value, got {assignment!r}")
    path, text = assignment.split("=", 1)
    keys = path.strip().split(".")
    node = config
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if isinstance(child, str):  # "task = 'evidence'" written as a table from here on
            child = node[key] = {"name": child}
        node = child
    node[keys[-1]] = _parse_value(text.strip())


def _read_toml(path: str, kind: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{kind} file {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def _run_config(args) -> dict:
    """The partial configuration the flags describe (to resume: what must equal the stored one)."""
    config: dict = _read_toml(args.config, "config") if args.config else {}
    if args.task:
        task = config.get("task")
        if isinstance(task, dict):
            task["name"] = args.task
        else:
            config["task"] = args.task
    if args.seed is not None:
        config["seed"] = args.seed
    rule = config.setdefault("rule", {})
    if args.rule:
        rule["name"] = args.rule
    if args.feedback:
        rule["feedback"] = args.feedback
    training = config.setdefault("training", {})
    if args.steps is not None:
        training["steps"] = args.steps
    for flag, key in (
        ("trials", "n_trials"),
        ("lr", "lr"),
        ("update", "update"),
        ("batch_size", "batch_size"),
        ("eval_every", "eval_every"),
        ("validation_trials", "validation_trials"),
        ("test_trials", "test_trials"),
        ("target", "target"),
    ):
        value = getattr(args, flag)
        if value is not None:
            training[key] = value
    for assignment in args.set or ():
        _apply_set(config, assignment)
    return {k: v for k, v in config.items() if v != {}}


def _cmd_list(args) -> int:
    from . import rules, tasks

    print("rules:          " + ", ".join(rules.available()))
    print("feedback modes: " + ", ".join(rules.feedback.available()))
    print("tasks:          " + ", ".join(tasks.available()))
    return 0


def _report_run(summary: dict, out: Path) -> int:
    """Print a finished run's outcome in one or two lines; the exit status it implies."""
    status = summary["status"]
    if summary["kind"] == "supervised":
        test, validation = summary.get("test"), summary.get("validation") or {}
        if test:
            print(
                f"{status}: test {summary['metric']} = {test['metric']:.4g} "
                f"[{test['low']:.4g}, {test['high']:.4g}] (95 % {test['interval']}) on "
                f"{test['n']} fresh trials; validation {validation.get('metric', float('nan')):.4g}"
                f" at trial {validation.get('trial')}; {summary['trials']} trials "
                f"({summary['steps']:,} steps) in {summary['wall_seconds']:.0f} s"
            )
        else:
            print(
                f"{status} after {summary['trials']} trials: no test figure "
                f"({summary.get('message', 'the run did not complete')})"
            )
    else:
        window = summary.get("training_window") or {}
        shown = "n/a" if summary["value"] is None else f"{summary['value']:.4g}"
        print(
            f"{status}: {summary['metric']} = {shown} over the last {summary['window']} of "
            f"{summary['episodes']} training episodes (n={window.get('n', 0)}); "
            f"{summary['steps']:,} steps in {summary['wall_seconds']:.0f} s "
            f"({summary['steps_per_second']:,.0f} steps/s)"
        )
        evaluation = summary.get("evaluation")
        if evaluation:
            for mode in ("greedy", "sampled"):
                e = evaluation[mode]
                print(
                    f"  frozen evaluation, {mode}: {summary['metric']} {e['metric']:.4g} ± "
                    f"{e['std']:.3g} over {e['n']} episodes on unseen seeds"
                )
    if status == "failed":
        print(f"failed: {summary.get('message', '')}")
    print(f"wrote {out}/")
    return 130 if status == "interrupted" else 0 if status == "completed" else 1


def _cmd_run(args) -> int:
    from . import runs

    progress = not args.no_progress
    if args.resume and len(args.resume) > 1:
        if args.seeds:
            raise ConfigError("--resume continues the given run directories; leave out --seeds")
        requested = _run_config(args)
        summaries = runs.execute_lockstep(
            [requested] * len(args.resume), args.resume, resume=True, progress=progress
        )
        return max(_report_run(s, Path(s["run_dir"])) for s in summaries)
    if args.resume:
        requested = _run_config(args)
        summary = runs.execute(requested, args.resume[0], resume=True, progress=progress)
        return _report_run(summary, Path(args.resume[0]))
    if args.seeds:
        return _run_seeds(args, progress)
    config = _run_config(args)
    resolved = runs.resolve(config)
    out = Path(args.out) if args.out else None
    print(f"run: {_run_line(resolved)}")
    summary = runs.execute(config, out, progress=progress, force=args.force)
    return _report_run(summary, Path(summary.get("run_dir", out or "runs")))


def _run_line(resolved: dict) -> str:
    from . import runs

    training = resolved["training"]
    if "agent" in resolved:
        budget = (
            f"{training['steps']:,} environment steps, {resolved['agent']['micro_steps']} "
            f"network steps each, encoder {resolved['agent']['encoder']}"
        )
    else:
        budget = f"{training['n_trials']} trials at most, update per {training['update']}" + (
            f" (batch {training['batch_size']})" if training["update"] == "trial" else ""
        )
    task, label = resolved["task"]["name"], runs.rule_label(resolved)
    return f"task {task}, rule {label}, seed {resolved['seed']}, {budget}"


def _run_seeds(args, progress: bool) -> int:
    """``run --seeds 0-7``: one lifetime per seed, in lockstep in this process; ``--out`` is
    the folder that holds their run directories (``<task>-<rule>-seed<s>``)."""
    from . import runs
    from .runs.directory import default_path
    from .sweep import parse_seeds

    if args.seed is not None:
        raise ConfigError("give --seed or --seeds, not both")
    seeds = parse_seeds(args.seeds)
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds repeats a seed: {args.seeds!r}")
    configs = []
    for seed in seeds:
        config = _run_config(args)
        config["seed"] = seed
        configs.append(config)
    resolved = [runs.resolve(config) for config in configs]
    if "agent" not in resolved[0]:
        raise ConfigError(
            f"--seeds runs lifetimes in lockstep; {resolved[0]['task']['name']!r} is a supervised "
            "task (use `locallearn compare --seeds` for several supervised runs)"
        )
    label = runs.rule_label(resolved[0])
    name = resolved[0]["task"]["name"]
    if args.out:
        outs = [Path(args.out) / f"{name}-{label.replace(':', '-')}-seed{seed}" for seed in seeds]
    else:
        outs = [default_path(name, label, seed) for seed in seeds]
    print(f"run, {len(seeds)} lifetimes in lockstep: {_run_line(resolved[0])} (and seeds {args.seeds})")
    summaries = runs.execute_lockstep(configs, outs, progress=progress, force=args.force)
    return max(_report_run(s, Path(s["run_dir"])) for s in summaries)


def _cmd_play(args) -> int:
    from . import runs

    result = runs.play(
        args.run_dir,
        episodes=args.episodes,
        seed=args.seed,
        greedy=not args.sample,
        task=args.task,
        strip=args.strip,
    )
    print(
        f"{result['episodes']} episodes ({'sampled' if args.sample else 'greedy'} actions, "
        f"weights frozen): return {result['mean_return']:.3f} ± {result['std_return']:.3f}, "
        f"{result['metric']} {result['mean_metric']:.3f} ± {result['std_metric']:.3f} "
        f"(sample std)"
    )
    if args.strip:
        print(f"wrote {args.strip}")
    return 0


def _dask_client(address: str):
    """A Dask client of the cluster at ``address`` (a context manager); the extra named if absent."""
    try:
        import distributed
    except ModuleNotFoundError:
        raise ConfigError("--dask needs the extra: pip install 'locallearn[dask]'") from None
    return distributed.Client(address)


def _cmd_compare(args) -> int:
    from . import sweep

    overrides: dict = {}
    if args.sweep:
        spec = _read_toml(args.sweep, "sweep")
        keys = ("rules", "tasks", "seeds", "workers", "lockstep", "out", "tuned", "tuned_rule", "config")
        unknown = sorted(set(spec) - set(keys))
        if unknown:
            raise ConfigError(f"unknown sweep file key {unknown[0]!r} (allowed: {', '.join(keys)})")
        args.rules = args.rules or ",".join(spec.get("rules", []))
        args.tasks = args.tasks or ",".join(spec.get("tasks", []))
        args.seeds = args.seeds or ",".join(str(s) for s in spec.get("seeds", [])) or None
        args.workers = args.workers or spec.get("workers")
        args.lockstep = args.lockstep or spec.get("lockstep")
        args.out = args.out or spec.get("out")
        overrides = spec.get("config", {})
        if "tuned" in spec and "tuned_rule" in spec:
            raise ConfigError("a sweep file takes 'tuned' (same task) or 'tuned_rule' (a transfer), not both")
        if "tuned" in spec:
            overrides = _tuned_config(spec["tuned"], args.rules, args.tasks, overrides)
        if "tuned_rule" in spec:
            overrides = _tuned_config(spec["tuned_rule"], args.rules, None, overrides)
    for assignment in args.set or ():
        _apply_set(overrides, assignment)
    if not args.rules or not args.tasks:
        raise ConfigError("compare needs --rules and --tasks (or a --sweep file naming them)")
    cells = sweep.cells(
        sweep.parse_rules(args.rules),
        [t.strip() for t in args.tasks.split(",") if t.strip()],
        sweep.parse_seeds(args.seeds or "0"),
        overrides,
    )
    out = Path(args.out or f"sweeps/{time.strftime('%Y%m%d-%H%M%S')}")
    lockstep = args.lockstep or 1
    shown = f", lifetimes {lockstep} at a time in lockstep" if lockstep > 1 else ""
    print(f"sweep {out}: {len(cells)} cells on {args.workers or 'all'} worker(s){shown}")
    if args.dask:
        with _dask_client(args.dask) as client:
            rows = sweep.run_sweep(cells, out, executor=client.get_executor(), lockstep=lockstep)
    else:
        rows = sweep.run_sweep(cells, out, workers=args.workers, lockstep=lockstep)
    print(sweep.results_table(rows), end="")
    failed = [r for r in rows if r["status"] != "completed"]
    for row in failed:
        print(f"failed: {row['run_dir']}: {row['message']}")
    print(f"wrote {out}/: results.csv results.md curves.png and one run directory per cell")
    return 1 if failed else 0


def _tuned_config(path: str, rules: str, tasks: str | None, config: dict) -> dict:
    """A sweep's ``tuned`` file (the ``.best.toml`` that ``locallearn tune`` wrote) as the base
    of every cell: its network, rule and agent sections, with the sweep's ``[config]`` on top.
    Its training section is left out — it holds the search's per-trial budget, not the
    evaluation's. The sweep must run that one rule on that one task. ``tasks`` None is a
    transfer (a sweep's ``tuned_rule``): the rule section alone, chosen on another task, moves
    to the sweep's tasks, whose own network and agent settings stay."""
    from .sweep import parse_rules

    tuned = _read_toml(path, "tuned configuration")
    rule = tuned.get("rule", {})
    task = tuned.get("task", {})
    task_name = task.get("name") if isinstance(task, dict) else task
    if parse_rules(rules) != [(rule.get("name"), rule.get("feedback"))]:
        label = rule.get("name", "?") + (f":{rule['feedback']}" if rule.get("feedback") else "")
        raise ConfigError(f"tuned file {path} is for rule {label}; the sweep must run that rule alone")
    if tasks is not None and [t.strip() for t in tasks.split(",") if t.strip()] != [task_name]:
        raise ConfigError(f"tuned file {path} is for task {task_name}; the sweep must run that task alone")
    sections = ("network", "rule", "agent") if tasks is not None else ("rule",)
    base = {section: dict(tuned[section]) for section in sections if section in tuned}
    for section, values in config.items():
        if isinstance(values, dict) and isinstance(base.get(section), dict):
            base[section] = {**base[section], **values}
        else:
            base[section] = values
    return base


def _cmd_tune(args) -> int:
    from . import tune

    if args.dask:
        with _dask_client(args.dask) as client:
            result = tune.tune(
                args.space, out=args.out, workers=args.workers or 1, executor=client.get_executor()
            )
    else:
        result = tune.tune(args.space, out=args.out, workers=args.workers or 1)
    if result["best"] is None:
        print(f"{result['trials']} trials, none completed")
        return 1
    best = result["best"]
    print(
        f"{result['trials']} trials; best: trial {best['number']}, value {best['value']:.6g}, "
        f"{best['params']}"
    )
    print(f"wrote {result['best_config']}")
    return 0


def _cmd_report(args) -> int:
    from . import report

    if args.readme:
        count = report.update_readme(args.readme)
        print(f"rewrote {count} report block(s) in {args.readme}")
        return 0
    if not args.dirs:
        raise ConfigError("report needs run or sweep directories (or --readme README.md)")
    try:
        text = report.report(args.dirs, digits=args.digits)
        if args.aggregate:
            text += "\n" + report.rl_aggregates(report.load(args.dirs), digits=args.digits)
    except FileNotFoundError as error:
        raise ConfigError(str(error)) from None
    if args.figures:
        summaries = report.load(args.dirs)
        folder = Path(args.figures)
        for name, draw in (("iqm.png", report.iqm_figure), ("curves.png", report.curves_figure)):
            if draw(summaries, folder / name):
                print(f"wrote {folder / name}", file=sys.stderr)
    if args.profile:
        summaries = report.load(args.dirs)
        figure = Path(args.profile)
        zeros = report.random_policy_scores(summaries, figure.parent / "random-policy.json")
        if report.profile_figure(summaries, figure, zeros, reference=args.reference):
            print(f"wrote {figure} (random policy: {figure.parent / 'random-policy.json'})", file=sys.stderr)
        else:
            raise ConfigError(f"no environment under the folders has a completed {args.reference!r} lifetime")
    if args.out:
        from .io import write_text

        write_text(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _cmd_plot(args) -> int:
    from .analysis import replot_run
    from .io import jsonl_exists

    run_dir = Path(args.run_dir)
    if not jsonl_exists(run_dir / "metrics.jsonl"):
        raise ConfigError(f"{run_dir} is not a run directory (no metrics.jsonl)")
    for path in replot_run(run_dir):
        print(f"wrote {path}")
    return 0


def _cmd_analyse(args) -> int:
    from . import analyse
    from .sweep import parse_seeds

    options: dict = {}
    for assignment in args.option or ():
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option takes NAME=VALUE, got {assignment!r}")
        options[key.strip()] = _parse_value(value)
    windows = parse_seeds(args.windows) if args.windows else None
    neurons = parse_seeds(args.neurons) if args.neurons else None
    if args.dask:
        with _dask_client(args.dask) as client:
            result = analyse.analyse_run(
                args.run_dir, args.method, windows, neurons, options, executor=client.get_executor()
            )
    else:
        result = analyse.analyse_run(
            args.run_dir, args.method, windows, neurons, options, workers=args.workers
        )
    print(analyse.table(result), end="")
    print(f"wrote {Path(args.run_dir) / 'analysis' / args.method}.json and .png")
    return 0


def _cmd_pack(args) -> int:
    from .runs.directory import pack

    for root in map(Path, args.dirs):
        if not root.is_dir():
            raise ConfigError(f"{root} is not a folder")
        before = after = count = 0
        for rows in sorted(root.rglob("metrics.jsonl")):
            size = rows.stat().st_size
            packed = pack(rows.parent)
            if packed is not None:
                before, after, count = before + size, after + packed, count + 1
        print(
            f"{root}: packed the rows of {count} ended run(s), {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="locallearn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list rules, feedback modes and tasks").set_defaults(func=_cmd_list)

    run = sub.add_parser("run", help="train a network on a task; writes a run directory")
    run.add_argument("--task", help="task name (see `locallearn list`)")
    run.add_argument("--rule", help="rule name (default: eprop)")
    run.add_argument("--feedback", help="feedback mode of the rule (symmetric, random, ...)")
    run.add_argument("--seed", type=int, help="seed of network, feedback and trial stream")
    run.add_argument(
        "--seeds",
        help="several lifetimes, e.g. 0-7: run in lockstep in this process, each in its own "
        "run directory under --out",
    )
    run.add_argument("--out", help="run directory (default: runs/<task>-<rule>-seed<s>-<time>)")
    run.add_argument("--config", help="TOML file with [task] [network] [rule] [training] tables")
    run.add_argument("--trials", type=int, help="number of training trials (supervised tasks)")
    run.add_argument("--steps", type=int, help="environment steps of the lifetime (environments)")
    run.add_argument("--lr", type=float, help="learning rate")
    run.add_argument("--update", help="'step' (online, every step) or 'trial' (every batch)")
    run.add_argument("--batch-size", type=int, help="trials per update when --update trial")
    run.add_argument("--eval-every", type=int, help="trials between evaluations")
    run.add_argument(
        "--validation-trials", type=int, help="validation trials per evaluation (early stopping, curves)"
    )
    run.add_argument(
        "--test-trials", type=int, help="fresh test trials drawn once at the end (the reported figure)"
    )
    run.add_argument("--target", type=float, help="stop early once the validation metric reaches this")
    run.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override any config value, e.g. --set network.n_rec=200 (repeatable)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--resume",
        metavar="RUN_DIR",
        nargs="+",
        help="continue an interrupted run from its last checkpoint (options given "
        "again must equal the stored ones); several lifetimes' directories resume in lockstep",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty folder that is not a run (no file is replaced)",
    )
    run.set_defaults(func=_cmd_run)

    compare = sub.add_parser("compare", help="rules x tasks x seeds, in parallel")
    compare.add_argument("--rules", help="e.g. eprop:random,eprop:symmetric,rstdp")
    compare.add_argument("--tasks", help="e.g. evidence,catch")
    compare.add_argument("--seeds", help="e.g. 0-4 or 0,1,2 (default 0)")
    compare.add_argument("--workers", type=int, help="processes (default: number of cores)")
    compare.add_argument("--out", help="sweep directory (default sweeps/<time>)")
    compare.add_argument(
        "--lockstep",
        type=int,
        metavar="K",
        help="run the lifetimes of one rule and task K at a time in one process (files as if "
        "alone; default 1: benchmarks/lockstep.py shows no per-core gain yet)",
    )
    compare.add_argument(
        "--dask", metavar="SCHEDULER_ADDRESS", help="run the cells on an existing Dask distributed cluster"
    )
    compare.add_argument("--sweep", help="TOML file with rules, tasks, seeds, workers, out, [config]")
    compare.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override a config value in every cell (repeatable)",
    )
    compare.set_defaults(func=_cmd_compare)

    play = sub.add_parser("play", help="evaluate a trained agent for some episodes")
    play.add_argument("run_dir")
    play.add_argument("--episodes", type=int, default=10)
    play.add_argument("--seed", type=int, default=12345)
    play.add_argument("--sample", action="store_true", help="sample actions instead of greedy")
    play.add_argument(
        "--task",
        help="play another environment with the same spaces, e.g. "
        "flappy_gym (the real game) for an agent trained on flappy",
    )
    play.add_argument(
        "--strip", metavar="PNG", help="save a strip of frames of the first episode (pong, flappy, catch)"
    )
    play.set_defaults(func=_cmd_play)

    tune = sub.add_parser("tune", help="hyper-parameter search with Optuna (extra [tune])")
    tune.add_argument("space", help="search file: [study] task, rule, trials, seeds; [config]; [space]")
    tune.add_argument("--workers", type=int, help="processes optimising together (default 1)")
    tune.add_argument("--out", help="trial run directories and the study (default sweeps/tune/<name>)")
    tune.add_argument("--dask", metavar="SCHEDULER_ADDRESS", help="run the workers on a Dask cluster")
    tune.set_defaults(func=_cmd_tune)

    report = sub.add_parser("report", help="markdown tables of run and sweep directories")
    report.add_argument("dirs", nargs="*", help="run directories and sweep directories")
    report.add_argument("--digits", type=int, default=3, help="decimals shown (default 3)")
    report.add_argument("--out", help="write the tables to this file instead of printing them")
    report.add_argument(
        "--aggregate",
        action="store_true",
        help="add rliable's aggregates for lifetimes: IQM with stratified-bootstrap "
        "CIs, probability of improvement over rstdp and none",
    )
    report.add_argument(
        "--figures",
        metavar="FOLDER",
        help="also draw iqm.png (IQM per rule with 95 %% CIs, per environment) and curves.png "
        "(learning curves with 95 %% bands) of the lifetimes into FOLDER",
    )
    report.add_argument(
        "--profile",
        metavar="PNG",
        help="draw performance profiles across the lifetimes' environments into PNG: scores "
        "normalised to 0 = a uniform random policy (played once, kept in random-policy.json "
        "beside PNG) and 1 = the reference rule's IQM",
    )
    report.add_argument(
        "--reference",
        default="reward-eprop:symmetric",
        help="the rule label that is 1 on the profile's scale (default reward-eprop:symmetric)",
    )
    report.add_argument(
        "--readme",
        metavar="README",
        help="rewrite the README's <!-- report DIR... --> blocks from their files",
    )
    report.set_defaults(func=_cmd_report)

    analyse = sub.add_parser(
        "analyse", help="pattern statistics of a lifetime's recorded windows (extra [analysis])"
    )
    analyse.add_argument("run_dir", help="a run directory whose lifetime had a [record] section")
    analyse.add_argument("--method", required=True, choices=["ue", "spade", "cubic", "cad", "synchrony"])
    analyse.add_argument("--windows", help="recorded windows to analyse, e.g. 0,2 or 0-3 (default all)")
    analyse.add_argument("--neurons", help="recorded neuron ids to analyse, e.g. 0-9 (default all)")
    analyse.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="a method option, e.g. bin_ms=5 (repeatable)"
    )
    analyse.add_argument("--workers", type=int, default=1, help="windows analysed in parallel (processes)")
    analyse.add_argument("--dask", metavar="SCHEDULER_ADDRESS", help="analyse the windows on a Dask cluster")
    analyse.set_defaults(func=_cmd_analyse)

    pack = sub.add_parser(
        "pack",
        help="gzip the metrics.jsonl of every ended run under the folders (all readers take "
        "either form; resuming unpacks)",
    )
    pack.add_argument("dirs", nargs="+", help="run or sweep directories")
    pack.set_defaults(func=_cmd_pack)

    plot = sub.add_parser("plot", help="redraw a run directory's figures")
    plot.add_argument("run_dir")
    plot.set_defaults(func=_cmd_plot)
    return parser


def main(argv=None) -> int:
    from .runs import CheckpointError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, UnknownNameError, CheckpointError, FileExistsError, TypeError, ValueError) as error:
        print(f"locallearn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:  # an optional extra; the message names it
        print(f"locallearn {args.command}: error: {error}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            f"locallearn {args.command}: error: out of memory; the network or the task asked for "
            "more than this machine has (see the sizes in the configuration)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
