"""``locallearn report``: markdown tables of run and sweep directories, from their files alone.

Give it run directories (each holding ``summary.json``) and sweep directories (holding
``results.csv`` and one run directory per cell); runs are grouped by task and rule (with its
feedback pathway) and summarised over seeds with :func:`locallearn.stats.summarize` — mean,
sample std (ddof 1), 95 % t-interval, n — next to every seed's own figure.

* Supervised runs: the **test** figure (fresh trials drawn once at the end) per seed and its
  summary; the validation figure at the stop beside it (early stopping chose it: it is not held
  out); trials used.
* Lifetimes: the training-window figure (last episodes of the lifetime), and the frozen-weight
  evaluation on unseen environment seeds, greedy and sampled.

Runs that failed or were interrupted are counted apart and never enter a mean.

README sections between ``<!-- report DIR [DIR ...] -->`` and ``<!-- end report -->`` are these
tables (``<!-- report --aggregate DIR ... -->`` adds rliable's aggregates below them):
``locallearn report --readme README.md`` rewrites them, and a test checks that they equal what the
committed result files give.

A path ending in ``.json`` is a benchmark's result file (:func:`write_benchmark`): its title,
the command that made it and its table are rendered as they are.

``--figures FOLDER`` also draws, for lifetimes, ``iqm.png`` (per environment, each rule's
interquartile mean over seeds with its stratified-bootstrap 95 % interval, training window and
frozen greedy side by side) and ``curves.png`` (learning curves, mean over seeds with the 95 %
t-band of the mean). ``--profile FIGURE`` draws rliable's performance profiles across the
environments, scores normalised between a uniform random policy (played on each environment once
and kept in ``random-policy.json`` beside the figure) and the reference rule's IQM.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from . import io
from .stats import (
    improvement_interval,
    interquartile_mean,
    score_distribution_band,
    stratified_bootstrap,
    summarize,
)

README_BLOCK = re.compile(
    r"(<!-- report (?P<dirs>[^>]*?) -->\n)(?P<body>.*?)(<!-- end report -->)", re.DOTALL
)
AGGREGATE = "--aggregate"


def _run_dirs(path: Path) -> list[Path]:
    """The run directories ``path`` stands for: itself, or a sweep's cells (in results order)."""
    if (path / "summary.json").exists():
        return [path]
    if (path / "results.csv").exists():
        with open(path / "results.csv", newline="") as handle:
            names = [Path(row["run_dir"]).name for row in csv.DictReader(handle)]
        return [path / name for name in names]
    runs = sorted(p.parent for p in path.glob("*/summary.json"))
    if not runs:
        raise FileNotFoundError(f"{path} holds no run (summary.json) and no sweep (results.csv)")
    return runs


def load(paths) -> list[dict]:
    """The summaries of every run under ``paths`` (with ``run_dir`` added), in order."""
    summaries = []
    for path in map(Path, paths):
        for run_dir in _run_dirs(path):
            summary_path = run_dir / "summary.json"
            if not summary_path.exists():
                failure = run_dir / "failure.json"
                summary = io.read_json(failure) if failure.exists() else {"status": "missing"}
            else:
                summary = io.read_json(summary_path)
            config_path = run_dir / "config.json"
            config = io.read_json(config_path) if config_path.exists() else {}
            summary = {**summary, "run_dir": str(run_dir)}
            summary.setdefault("task", config.get("task", {}).get("name", "?"))
            summary.setdefault("rule_label", config.get("rule", {}).get("name", "?"))
            summary.setdefault("seed", config.get("seed"))
            summary.setdefault("kind", "lifetime" if "agent" in config else "supervised")
            summaries.append(summary)
    return summaries


def _fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _seeds(runs: list[dict]) -> str:
    seeds = [r["seed"] for r in runs]
    return ", ".join(map(str, seeds))


def _per_seed(values: list[float], digits: int) -> str:
    return ", ".join(_fmt(v, digits) for v in values)


def _groups(summaries: list[dict], kind: str) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for s in summaries:
        if s.get("kind") == kind:
            groups.setdefault((s["task"], s["rule_label"]), []).append(s)
    return groups


def _failed(runs: list[dict]) -> str:
    bad = [f"seed {r['seed']} {r.get('status')}" for r in runs if r.get("status") != "completed"]
    return "; ".join(bad) if bad else ""


def supervised_table(summaries: list[dict], digits: int = 3) -> str:
    groups = _groups(summaries, "supervised")
    if not groups:
        return ""
    lines = [
        "| task | rule | test metric: mean ± std [95 % CI] (n seeds) | per seed (test) | "
        "validation at stop, per seed | trials, per seed | not completed |",
        "|---|---|---|---|---|---|---|",
    ]
    for (task, label), runs in groups.items():
        done = [r for r in runs if r.get("status") == "completed" and r.get("test")]
        metric = done[0]["metric"] if done else runs[0].get("metric", "?")
        tests = [r["test"]["metric"] for r in done]
        validations = [(r.get("validation") or {}).get("metric") for r in done]
        n_test = sorted({r["test"]["n"] for r in done})
        lines.append(
            f"| {task} | {label} | {metric} {summarize(tests).text(digits)} "
            f"| {_per_seed(tests, digits)} (seeds {_seeds(done)}; {'/'.join(map(str, n_test))} "
            f"test trial{'s' if n_test != [1] else ''} each) | {_per_seed(validations, digits)} "
            f"| {', '.join(str(r['trials']) for r in done)} | {_failed(runs) or '—'} |"
        )
    return "\n".join(lines) + "\n"


def lifetime_table(summaries: list[dict], digits: int = 3) -> str:
    groups = _groups(summaries, "lifetime")
    if not groups:
        return ""
    lines = [
        "| task | rule | training window: mean ± std [95 % CI] (n seeds) | per seed | "
        "frozen greedy, per seed | frozen sampled, per seed | steps | not completed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (task, label), runs in groups.items():
        done = [r for r in runs if r.get("status") == "completed" and r.get("value") is not None]
        metric = done[0]["metric"] if done else runs[0].get("metric", "?")
        values = [r["value"] for r in done]
        greedy = [(r.get("evaluation") or {}).get("greedy", {}).get("metric") for r in done]
        sampled = [(r.get("evaluation") or {}).get("sampled", {}).get("metric") for r in done]
        windows = sorted({r.get("window") for r in done})
        episodes = sorted({(r.get("evaluation") or {}).get("episodes") for r in done} - {None})
        steps = sorted({r["steps"] for r in done})
        lines.append(
            f"| {task} | {label} | {metric} {summarize(values).text(digits)} "
            f"| {_per_seed(values, digits)} (seeds {_seeds(done)}; last "
            f"{'/'.join(map(str, windows))} episodes) "
            f"| {_per_seed(greedy, digits)} | {_per_seed(sampled, digits)} "
            f"({'/'.join(map(str, episodes)) or '0'} unseen-seed episodes each) "
            f"| {'/'.join(f'{s:,}' for s in steps)} | {_failed(runs) or '—'} |"
        )
    return "\n".join(lines) + "\n"


def _lifetime_scores(summaries: list[dict]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """task -> rule label -> {"window": [...], "greedy": [...]} over the completed lifetimes."""
    by_task: dict[str, dict[str, dict[str, list[float]]]] = {}
    for (task, label), runs in _groups(summaries, "lifetime").items():
        done = [r for r in runs if r.get("status") == "completed" and r.get("value") is not None]
        greedy = [(r.get("evaluation") or {}).get("greedy", {}).get("metric") for r in done]
        by_task.setdefault(task, {})[label] = {
            "window": [r["value"] for r in done],
            "greedy": [g for g in greedy if g is not None],
        }
    return by_task


def rl_aggregates(
    summaries: list[dict], baselines=("rstdp", "none"), digits: int = 3, reps: int = 10_000
) -> str:
    """Per environment, for each rule: the interquartile mean over seeds of the training-window
    figure and of the frozen greedy evaluation, with stratified-bootstrap 95 % intervals, and the
    probability that the rule improves on each baseline present (``baselines`` name a rule, as
    "rstdp", or a feedback pathway, as "none" for "reward-eprop:none") — rliable's aggregates
    (:mod:`locallearn.stats`)."""
    by_task = _lifetime_scores(summaries)
    if not by_task:
        return ""
    f = f"{{:.{digits}f}}"

    def interval(estimate, low, high) -> str:
        return f"{f.format(estimate)} [{f.format(low)}, {f.format(high)}]"

    lines = [
        "| environment | rule | n | IQM, training window [95 % CI] | IQM, frozen greedy [95 % CI] | "
        "P(improves on baseline) [95 % CI] |",
        "|---|---|---|---|---|---|",
    ]
    for task, rules in by_task.items():
        for label, scores in rules.items():
            cells = [
                interval(*stratified_bootstrap(values, reps=reps))
                if len(values) > 1
                else (f.format(values[0]) if values else "—")
                for values in (scores["window"], scores["greedy"])
            ]
            improvements = [
                f"over {other}: "
                + interval(*improvement_interval(scores["window"], theirs["window"], reps=reps))
                for other, theirs in rules.items()
                if other != label
                and (other.split(":")[0] in baselines or other.split(":")[-1] in baselines)
                and len(scores["window"]) > 1
                and len(theirs["window"]) > 1
            ]
            lines.append(
                f"| {task} | {label} | {len(scores['window'])} | {cells[0]} | {cells[1]} | "
                f"{'; '.join(improvements) or '—'} |"
            )
    return "\n".join(lines) + "\n"


def write_benchmark(
    path: str | Path, title: str, command: str, columns: list[str], rows: list[list], **extra
):
    """A benchmark's result file: what it measured, the command that measured it, its table
    (cells already formatted as text) and any raw figures (``extra``) for later analysis."""
    if any(len(row) != len(columns) for row in rows):
        raise ValueError("every row needs one cell per column")
    io.write_json(path, {"title": title, "command": command, "columns": columns, "rows": rows, **extra})


def benchmark_table(path: str | Path) -> str:
    """The markdown of a :func:`write_benchmark` file, or of a benchmark's own result file that
    carries its table under ``"table"`` (title, columns, rows of text) beside its raw figures."""
    data = io.read_json(path)
    table = data.get("table", data)
    if "columns" not in table:
        raise ValueError(f"{path} is not a benchmark result (no table of columns and rows)")
    lines = [f"{table.get('title', data.get('title'))} (`{data['command']}`)", ""]
    lines.append("| " + " | ".join(table["columns"]) + " |")
    lines.append("|" + "---|" * len(table["columns"]))
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in table["rows"]]
    return "\n".join(lines) + "\n"


def report(paths, digits: int = 3) -> str:
    """The markdown tables (supervised, then lifetimes) of the runs under ``paths``; benchmark
    result files (``.json``) as their own tables, after them."""
    files = [p for p in map(Path, paths) if p.suffix == ".json"]
    paths = [p for p in map(Path, paths) if p.suffix != ".json"]
    benchmarks = [benchmark_table(p) for p in files]
    summaries = load(paths)
    parts = [t for t in (supervised_table(summaries, digits), lifetime_table(summaries, digits)) if t]
    parts += benchmarks
    if not parts:
        raise FileNotFoundError("no run found under " + ", ".join(map(str, paths)))
    return "\n".join(parts)


def iqm_figure(summaries: list[dict], path: str | Path, reps: int = 10_000) -> bool:
    """Per environment, each rule's IQM over seeds with its stratified-bootstrap 95 % interval,
    for the training window and the frozen greedy evaluation; False if there is no lifetime."""
    from .analysis import plt

    by_task = _lifetime_scores(summaries)
    if not by_task:
        return False
    figure, axes = plt.subplots(
        1,
        len(by_task),
        figsize=(6.6 * len(by_task), 0.8 + 0.45 * max(map(len, by_task.values()))),
        squeeze=False,
    )
    for ax, (task, rules) in zip(axes[0], by_task.items()):
        labels = list(rules)
        for offset, (kind, marker) in zip((-0.15, 0.15), (("window", "o"), ("greedy", "s"))):
            for row, label in enumerate(labels):
                values = rules[label][kind]
                if not values:
                    continue
                estimate, low, high = (
                    stratified_bootstrap(values, reps=reps) if len(values) > 1 else (values[0],) * 3
                )
                ax.errorbar(
                    estimate,
                    row + offset,
                    xerr=[[estimate - low], [high - estimate]],
                    fmt=marker,
                    color="C0" if kind == "window" else "C1",
                    capsize=3,
                    label=("training window" if kind == "window" else "frozen greedy") if row == 0 else None,
                )
        metric = next((s.get("metric") for s in summaries if s.get("task") == task and s.get("metric")), "")
        ax.set_yticks(range(len(labels)), [f"{label} (n={len(rules[label]['window'])})" for label in labels])
        ax.invert_yaxis()
        ax.set_xlabel(f"{metric}: interquartile mean over seeds, 95 % stratified-bootstrap CI")
        ax.set_title(task, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=8)
    io.save_figure(figure, path)
    plt.close(figure)
    return True


def random_policy_scores(summaries: list[dict], path: str | Path, episodes: int = 100) -> dict[str, float]:
    """Per environment of the lifetimes, a uniform random policy's mean figure over ``episodes``
    games on the runs' own task configuration (seeded: the same file every time). ``path`` keeps
    them: an environment already there with the same task, episodes and step cap is read, not
    played again; the others are played and added."""
    from .runs.lifetime import random_policy

    path = Path(path)
    known = io.read_json(path) if path.exists() else {}
    settings: dict[str, dict] = {}
    for summary in summaries:
        if summary.get("kind") != "lifetime" or summary.get("status") != "completed":
            continue
        config = io.read_json(Path(summary["run_dir"]) / "config.json")
        wanted = {
            "task": config["task"],
            "episodes": episodes,
            "max_steps": config["training"]["eval_max_steps"],
        }
        previous = settings.setdefault(summary["task"], wanted)
        if previous != wanted:
            raise ValueError(
                f"the {summary['task']} runs differ in task or step cap ({previous} vs {wanted}); "
                "a random policy's figure needs one environment"
            )
    changed = False
    for task, wanted in settings.items():
        entry = known.get(task)
        if entry is None or {key: entry.get(key) for key in wanted} != wanted:
            played = random_policy(wanted["task"], episodes, wanted["max_steps"])
            known[task] = {**wanted, **played, "seed": 0, "stream": "random_policy"}
            changed = True
    if changed:
        io.write_json(path, known)
    return {task: known[task]["metric"] for task in settings}


def profile_figure(
    summaries: list[dict],
    path: str | Path,
    zeros: dict[str, float],
    reference: str = "reward-eprop:symmetric",
    reps: int = 2_000,
) -> bool:
    """rliable's performance profiles across environments: each run's training-window figure
    normalised to (score - random policy) / (IQM of ``reference`` - random policy), so that 0 is
    random play and 1 the reference's typical score in every environment; per rule, the fraction
    of runs above each threshold (averaged over the environments it ran in) with a 95 %
    stratified-bootstrap band. Environments without a completed ``reference`` cell are left out
    (named in the title). False if no environment has one."""
    from .analysis import plt

    by_task = _lifetime_scores(summaries)
    tasks = [task for task, rules in by_task.items() if len(rules.get(reference, {}).get("window", [])) > 0]
    if not tasks:
        return False
    normalised: dict[str, list] = {}
    for task in tasks:
        zero = zeros[task]
        scale = interquartile_mean(by_task[task][reference]["window"]) - zero
        if scale <= 0:
            raise ValueError(f"{reference} does not beat a random policy on {task}: no scale to normalise by")
        for label, scores in by_task[task].items():
            if scores["window"]:
                normalised.setdefault(label, []).append((np.asarray(scores["window"]) - zero) / scale)
    taus = np.linspace(0.0, 2.0, 201)
    figure, ax = plt.subplots(figsize=(7.2, 4.4))
    for index, (label, per_task) in enumerate(normalised.items()):
        profile, low, high = score_distribution_band(per_task, taus, reps=reps)
        line = "-" if len(per_task) == len(tasks) else "--"
        ax.plot(taus, profile, line, color=f"C{index % 10}", label=f"{label} ({len(per_task)} env.)")
        ax.fill_between(taus, low, high, color=f"C{index % 10}", alpha=0.15)
    left_out = sorted(set(by_task) - set(tasks))
    ax.set_xlabel(f"normalised score τ (0 = random policy, 1 = IQM of {reference})")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_title(
        "performance profiles over "
        + ", ".join(tasks)
        + (f" (without {', '.join(left_out)}: no {reference} cell)" if left_out else ""),
        fontsize=9,
    )
    ax.axvline(1.0, color="k", lw=0.6, alpha=0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    io.save_figure(figure, path)
    plt.close(figure)
    return True


def curves_figure(summaries: list[dict], path: str | Path) -> bool:
    """Learning curves of the lifetimes, per environment and rule (the sweep's figure, for any
    set of runs); False if there is no lifetime."""
    from .sweep import plot_curves

    rows = [
        {
            "task": s["task"],
            "label": s["rule_label"],
            "run_dir": s["run_dir"],
            "metric": s.get("metric"),
            "status": s.get("status"),
        }
        for s in summaries
        if s.get("kind") == "lifetime"
    ]
    if not rows:
        return False
    plot_curves(rows, Path(path))
    return True


def readme_blocks(text: str) -> list[tuple[list[str], str]]:
    """(directories, current body) of every report block in a README's text."""
    return [(m.group("dirs").split(), m.group("body")) for m in README_BLOCK.finditer(text)]


def block_body(words: list[str], root: Path) -> str:
    """What a README block ``<!-- report [--aggregate] DIR ... -->`` holds."""
    dirs = [root / d for d in words if d != AGGREGATE]
    body = report(dirs)
    if AGGREGATE in words:
        body += "\n" + rl_aggregates(load(dirs))
    return body


def update_readme(path: str | Path, root: str | Path | None = None) -> int:
    """Rewrite every report block of the README at ``path`` (directories relative to ``root``,
    by default the README's folder); returns the number of blocks."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    text = path.read_text()
    count = 0

    def render(match) -> str:
        nonlocal count
        count += 1
        return match.group(1) + block_body(match.group("dirs").split(), root) + match.group(4)

    io.write_text(path, README_BLOCK.sub(render, text))
    return count
