"""Result tables: per-run scores before each budget, mean and standard error over seeds, Welch's t-test."""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest
import yaml
from scipy import stats

from rlzoo.monitor import load_episodes
from rlzoo.results import gather_results, main, parse_baseline, parse_budgets, run_score, welch_pvalue

EPISODE_LENGTH = 100  # steps: episode i (0-based) ends at timestep 100 * (i + 1)

# (srl_model, algo, seed) -> episode rewards, and the run's metrics.json timesteps (None: no metrics.json).
RUNS = {
    ("ground_truth", "ppo2", 0): ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 1000),
    ("ground_truth", "ppo2", 1): ([2, 2, 2, 2, 6, 6, 6, 6, 6, 10], 1000),
    ("ground_truth", "ppo2", 2): ([0, 0, 0, 5, 5, 5, 5, 5, 7, 7], None),
    ("raw_pixels", "ppo2", 0): ([1] * 10, 1000),
    ("raw_pixels", "ppo2", 1): ([0, 0, 0, 2, 2, 2, 2, 2, 3, 3], 1000),
    # Stopped at 850 steps: left out of the 1000-step budget.
    ("raw_pixels", "ppo2", 2): ([1, 1, 1, 1, 3, 3, 3, 3], 850),
    # 900 steps of finished episodes, but metrics.json says 1000 steps were done: it reached the 1000-step budget.
    ("ground_truth", "a2c", 0): ([0, 1, 2, 3, 4, 5, 6, 7, 8], 1000),
}
# Mean of the last 2 episodes that ended within the budget, by hand.
SCORES_500 = {"gt_ppo2": [4.5, 4.0, 5.0], "rp_ppo2": [1.0, 2.0, 2.0], "gt_a2c": [3.5]}
SCORES_1000 = {"gt_ppo2": [9.5, 8.0, 7.0], "rp_ppo2": [1.0, 3.0], "gt_a2c": [7.5]}


def make_run(run_dir: str, srl_model: str, algo: str, seed: int, rewards: list[float], timesteps: int | None) -> None:
    """A fake MobileRobot run folder with .hydra/ labels, two monitor files and maybe a metrics.json."""
    os.makedirs(os.path.join(run_dir, ".hydra"))
    with open(os.path.join(run_dir, ".hydra", "config.yaml"), "w") as handle:
        yaml.safe_dump({"seed": seed, "n_envs": 2, "env": {"id": "MobileRobot-v0"}}, handle)
    with open(os.path.join(run_dir, ".hydra", "hydra.yaml"), "w") as handle:
        choices = {"env": "MobileRobot", "srl_model": srl_model, "algo": algo, "action_space": "discrete"}
        yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}}, handle)
    # Episodes alternate between two workers; wall times keep the listed order once merged.
    for rank in (0, 1):
        with open(os.path.join(run_dir, f"{rank}.monitor.csv"), "w", newline="") as handle:
            handle.write("#" + json.dumps({"t_start": 50.0 + rank, "env_id": "MobileRobot-v0"}) + "\n")
            handle.write("r,l,t\r\n")
            handle.writelines(
                f"{rewards[i]},{EPISODE_LENGTH},{10.0 * (i + 1) - rank:.6f}\r\n" for i in range(rank, len(rewards), 2)
            )
    if timesteps is not None:
        with open(os.path.join(run_dir, "metrics.json"), "w") as handle:
            json.dump({"status": "finished", "timesteps": timesteps, "episodes": len(rewards)}, handle)


@pytest.fixture
def sweep(tmp_path) -> str:
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "multirun.yaml").write_text("hydra: {}\n")
    for job, ((srl_model, algo, seed), (rewards, timesteps)) in enumerate(RUNS.items()):
        make_run(
            str(folder / f"{job}_algo={algo},seed={seed},srl_model={srl_model}"),
            srl_model,
            algo,
            seed,
            rewards,
            timesteps,
        )
    return str(folder)


def read_rows(path: str) -> dict[tuple[str, str], dict[str, str]]:
    with open(path, newline="") as handle:
        return {(row["srl_model"], row["algo"]): row for row in csv.DictReader(handle)}


def welch_by_hand(a: list[float], b: list[float]) -> float:
    """Welch's two-sided p-value from its textbook formula (Welch-Satterthwaite degrees of freedom)."""
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = (np.mean(a) - np.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(2 * stats.t.sf(abs(t), df))


def test_run_score_takes_the_last_episodes_before_the_budget(sweep):
    episodes = load_episodes(os.path.join(sweep, "0_algo=ppo2,seed=0,srl_model=ground_truth"))
    np.testing.assert_array_equal(episodes.rewards, RUNS[("ground_truth", "ppo2", 0)][0])
    assert run_score(episodes, 500, last=2) == 4.5
    assert run_score(episodes, 550, last=2) == 4.5  # the 6th episode ends at 600
    assert run_score(episodes, None, last=3) == 9.0
    assert math.isnan(run_score(episodes, 1100, last=2))  # never reached
    assert run_score(episodes, 1100, last=2, run_timesteps=1200) == 9.5


def test_table_matches_a_hand_computation(sweep, tmp_path):
    out = str(tmp_path / "out")
    csv_path, md_path, markdown = gather_results(
        [sweep], [500, 1000], last=2, baseline="srl_model=ground_truth", out_dir=out
    )
    rows = read_rows(csv_path)
    assert set(rows) == {("ground_truth", "ppo2"), ("raw_pixels", "ppo2"), ("ground_truth", "a2c")}
    for key, name in [(("ground_truth", "ppo2"), "gt_ppo2"), (("raw_pixels", "ppo2"), "rp_ppo2")]:
        row = rows[key]
        assert row["env"] == "MobileRobot" and row["n_seeds"] == "3"
        for budget, scores in [(500, SCORES_500[name]), (1000, SCORES_1000[name])]:
            assert int(row[f"n_{budget}"]) == len(scores)
            assert float(row[f"mean_{budget}"]) == pytest.approx(np.mean(scores))
            assert float(row[f"stderr_{budget}"]) == pytest.approx(np.std(scores, ddof=1) / math.sqrt(len(scores)))
    # raw_pixels at 1000 steps: seeds scoring 1 and 3 -> mean 2, sample std sqrt(2), standard error 1.
    assert float(rows[("raw_pixels", "ppo2")]["stderr_1000"]) == pytest.approx(1.0)
    for budget, scores in [(500, SCORES_500), (1000, SCORES_1000)]:
        expected = stats.ttest_ind(scores["rp_ppo2"], scores["gt_ppo2"], equal_var=False).pvalue
        p_value = float(rows[("raw_pixels", "ppo2")][f"pvalue_{budget}"])
        assert p_value == pytest.approx(expected, rel=1e-9)
        assert p_value == pytest.approx(welch_by_hand(scores["rp_ppo2"], scores["gt_ppo2"]), rel=1e-9)
    # The baseline has no p-value; a single seed has no standard error.
    assert rows[("ground_truth", "ppo2")]["pvalue_500"] == ""
    a2c = rows[("ground_truth", "a2c")]
    assert (a2c["n_seeds"], a2c["mean_500"], a2c["stderr_500"], a2c["pvalue_500"]) == ("1", "3.5", "", "")
    assert float(a2c["mean_1000"]) == 7.5
    assert md_path == os.path.join(out, "results.md")
    with open(md_path) as handle:
        assert handle.read() == markdown
    assert "| MobileRobot | raw_pixels | ppo2 | 3 | 1.67 \u00b1 0.33 |" in markdown
    assert "2.00 \u00b1 1.00 (n=2)" in markdown


def test_whole_run_scores_without_budgets(sweep, tmp_path):
    csv_path, _, _ = gather_results([sweep], last=100, out_dir=str(tmp_path))
    row = read_rows(csv_path)[("ground_truth", "ppo2")]
    means = [np.mean(RUNS[("ground_truth", "ppo2", seed)][0]) for seed in range(3)]
    assert float(row["mean_final"]) == pytest.approx(np.mean(means))
    assert "pvalue_final" not in row


def test_command_line_writes_into_the_sweep_by_default(sweep, capsys):
    assert main([sweep, "--budgets", "500,1e3", "--last", "2", "--baseline", "srl_model=ground_truth"]) == 0
    assert os.path.isfile(os.path.join(sweep, "results.csv"))
    assert os.path.isfile(os.path.join(sweep, "results.md"))
    assert "Welch's t-test against srl_model=ground_truth" in capsys.readouterr().out


def test_several_sweeps_pool_the_seeds_of_a_method(sweep, tmp_path):
    other = tmp_path / "other"
    make_run(str(other / "0_seed=7"), "raw_pixels", "ppo2", 7, [4] * 10, 1000)
    csv_path, _, _ = gather_results([sweep, str(other)], [1000], last=2, out_dir=str(tmp_path))
    row = read_rows(csv_path)[("raw_pixels", "ppo2")]
    assert row["n_seeds"] == "4" and row["n_1000"] == "3"
    assert float(row["mean_1000"]) == pytest.approx(np.mean([1.0, 3.0, 4.0]))


@pytest.mark.parametrize("text", ["srl_model", "seed=1", "srl_model="])
def test_bad_baseline_is_rejected(text):
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_baseline(text)


def test_budgets_and_welch_edge_cases():
    assert parse_budgets("50000, 10000,1e4") == [10000, 50000]
    with pytest.raises(ValueError, match="positive whole number"):
        parse_budgets("-5")
    assert math.isnan(welch_pvalue([1.0], [2.0, 3.0]))
    assert math.isnan(welch_pvalue([1.0, 1.0], [1.0, 1.0]))  # zero variance, equal means
    assert welch_pvalue([1.0, 1.0], [2.0, 2.0]) == 0.0  # zero variance, different means
