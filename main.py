"""Train an agent: ``python main.py algo=ppo2 env=MobileRobot srl_model=ground_truth`` (``-m`` sweeps a grid)."""

import sys

import hydra
from omegaconf import DictConfig

from rlzoo.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Compose the config and train; returns the mean reward of the last 100 episodes."""
    from rlzoo.train import main_task

    return main_task(cfg)


if __name__ == "__main__":
    from srl.errors import ConfigError
    from rlzoo.validation import check_output_folder

    try:
        check_output_folder(sys.argv[1:])
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    main()
