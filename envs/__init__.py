"""Toolbox environments, registered with gymnasium on import (``gymnasium.make("MobileRobot-v0")``)."""

from __future__ import annotations

import gymnasium

from envs.kuka_button import MAX_STEPS as KUKA_STEPS
from envs.kuka_button import MAX_STEPS_LONG as KUKA_LONG_STEPS
from envs.mobile_robot import MAX_STEPS as MOBILE_ROBOT_STEPS
from envs.omnirobot import MAX_STEPS as OMNIROBOT_STEPS

#: envs.car_racing.MAX_STEPS, not imported so that `import envs` does not need Box2D and pygame
CAR_RACING_STEPS = 10_000

#: env id -> (entry point, max_episode_steps)
_ENTRY_POINTS: dict[str, tuple[str, int]] = {
    "MobileRobot-v0": ("envs.mobile_robot:MobileRobotEnv", MOBILE_ROBOT_STEPS),
    "MobileRobot2Target-v0": ("envs.mobile_robot:MobileRobot2TargetEnv", MOBILE_ROBOT_STEPS),
    "MobileRobot1D-v0": ("envs.mobile_robot:MobileRobot1DEnv", MOBILE_ROBOT_STEPS),
    "MobileRobotLineTarget-v0": ("envs.mobile_robot:MobileRobotLineTargetEnv", MOBILE_ROBOT_STEPS),
    "KukaButton-v0": ("envs.kuka_button:KukaButtonEnv", KUKA_STEPS),
    "KukaRandButton-v0": ("envs.kuka_button:KukaRandButtonEnv", KUKA_STEPS),
    "Kuka2Button-v0": ("envs.kuka_button:Kuka2ButtonEnv", KUKA_LONG_STEPS),
    "KukaMovingButton-v0": ("envs.kuka_button:KukaMovingButtonEnv", KUKA_LONG_STEPS),
    "SRLCarRacing-v0": ("envs.car_racing:CarRacingEnv", CAR_RACING_STEPS),
    "Omnirobot-v0": ("envs.omnirobot:OmnirobotEnv", OMNIROBOT_STEPS),
}

for _env_id, (_entry_point, _max_steps) in _ENTRY_POINTS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry_point, max_episode_steps=_max_steps)

#: every env id this package registers
ENV_IDS: tuple[str, ...] = tuple(_ENTRY_POINTS)
