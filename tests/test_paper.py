"""The paper's comparison: experiment presets and the table of ours next to the published numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from conftest import compose_run, run_main
from rlzoo import paper

TABLE = paper.published()


@pytest.mark.parametrize("experiment, env_id, random_target", [
    ("paper_nav1d", "MobileRobot1D-v0", False), ("paper_nav2d", "MobileRobot-v0", True),
    ("paper_arm_random", "KukaButton-v0", True), ("paper_arm_moving", "KukaMovingButton-v0", False),
])
def test_presets_hold_the_papers_grid(experiment: str, env_id: str, random_target: bool) -> None:
    cfg, choices = compose_run([f"experiment={experiment}"])
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.env.id == env_id and cfg.random_target is random_target
    assert cfg.total_timesteps == 5_000_000 and choices["algo"] == "ppo2"
    params = cfg.hydra.sweeper.params
    assert params.seed == "range(10)"
    published = {method for method, columns in TABLE["reward"].items() if experiment in columns}
    assert set(params.srl_model.split(",")) == published  # every method of the paper's column, no other
    learned, _ = compose_run([f"experiment={experiment}", "srl_model=srl_splits"])
    assert learned.srl_model.seed == 0 and learned.srl_model.spec.state_dim == 200  # one model, shared by seeds


def test_published_table_is_complete() -> None:
    assert set(TABLE["columns"]) == {p.stem for p in (Path(paper.__file__).parents[1] / "conf" / "experiment")
                                      .glob("paper_*.yaml")}
    assert TABLE["reward"]["srl_splits"]["paper_nav2d"] == [232.1, 2.2]
    assert TABLE["gtc"]["paper_nav2d"]["srl_splits"] == [0.81, 0.84, 0.64, 0.39, 0.67]
    assert "1901.08651" in TABLE["source"]


def test_a_small_rerun_gives_the_table_next_to_the_papers(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = run_main(["-m", "experiment=paper_nav2d", "seed=0,1", "srl_model=ground_truth,supervised",
                       "total_timesteps=768", "n_envs=2", "algo.n_steps=64", "algo.n_minibatches=2",
                       "srl_model.episodes=2", "srl_model.epochs=1", "live_plots=none", f"hydra.sweep.dir={sweep}"],
                      env_overrides={"SRL_MODELS_DIR": str(tmp_path / "models")}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert paper.main([str(sweep)]) == 0
    markdown = (sweep / "paper_table.md").read_text()
    assert "paper_nav2d (Nav. 2D target): ours at 768 steps" in markdown
    assert "| Ground Truth | 2 |" in markdown and "| 234.4 \u00b1 1.3 |" in markdown
    supervised = next(line for line in markdown.splitlines() if line.startswith("| Supervised"))
    assert "| 213.5 \u00b1 6.0 |" in supervised and "| 0.69 / 0.73 / 0.70 / 0.72 | " in supervised
    with open(sweep / "paper_table.csv", newline="") as handle:
        rows = {row["srl_model"]: row for row in csv.DictReader(handle)}
    assert len(rows["supervised"]["gtc"].split(";")) == 4 and float(rows["supervised"]["knn_mse"]) >= 0
    assert rows["ground_truth"]["gtc"] == "" and rows["supervised"]["paper_reward_mean"] == "213.5"
    assert (sweep / "learning_curves_MobileRobot.png").stat().st_size > 10_000


def test_runs_of_another_experiment_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": {"env": "X"}}}}))
    assert paper.main([str(run)]) == 2
    assert "this table needs runs of one of paper_nav1d" in capsys.readouterr().err


def test_a_dimension_without_gtc_is_a_dash(tmp_path: Path) -> None:
    """The 1D task's target never moves: its GTC is None, shown as '-' (Markdown) and an empty cell (CSV)."""
    row = {"method": "Supervised", "srl_model": "supervised", "env": "MobileRobot1D", "algo": "ppo2", "seeds": 3,
           "timesteps": 1000, "reward_mean": 230.0, "reward_stderr": 1.0, "paper_reward_mean": 189.7,
           "paper_reward_stderr": 14.8, "paper_gtc": None, "gtc": [0.98, None], "gtc_mean": 0.98, "knn_mse": 0.0}
    markdown = paper.to_markdown("paper_nav1d", [row])
    assert "| Supervised | 3 | 230.0 \u00b1 1.0 | 189.7 \u00b1 14.8 | 0.98 / - | - | 0.98 |" in markdown
    paper.write_csv(tmp_path / "table.csv", [row])
    with open(tmp_path / "table.csv", newline="") as handle:
        assert next(csv.DictReader(handle))["gtc"] == "0.98;"
