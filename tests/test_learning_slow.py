"""Full-length learning demonstrations (pytest -m slow); the headline figures of the issue notes."""

import pytest
from conftest import load_benchmark

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "name",
    ["evidence-random", "evidence-symmetric", "pattern-random", "pattern-symmetric", "store-recall-alif"],
)
def test_eprop_reaches_the_papers_supervised_results(name, tmp_path):
    bench = load_benchmark("supervised")
    summary = bench.run_one(name, seed=0, out=tmp_path)
    assert "PASS" in bench.verdict(summary, bench.EXPERIMENTS[name][1])


def test_lif_only_network_does_clearly_worse_on_store_recall(tmp_path):
    bench = load_benchmark("supervised")
    alif = bench.run_one("store-recall-alif", seed=0, out=tmp_path)
    lif = bench.run_one("store-recall-lif", seed=0, out=tmp_path)
    assert lif["value"] < alif["value"] - 0.15


def test_catch_is_learned_to_the_issue_target(tmp_path):
    summary = load_benchmark("rl").run_cell("catch", "reward-eprop", 0, None, tmp_path)
    assert summary["value"] >= 0.95 and summary["wall_seconds"] <= 300


def test_flappy_reaches_20_pipes_over_three_seeds(tmp_path):
    bench = load_benchmark("rl")
    values = [bench.run_cell("flappy", "reward-eprop", seed, None, tmp_path)["value"] for seed in (0, 1, 2)]
    assert sum(values) / 3 >= 20, values
