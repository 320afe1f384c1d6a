"""Toolbox environments, registered with gymnasium on import (``gymnasium.make("MobileRobot-v0")``).

Registering loads no env module, pybullet or Box2D: the entry points are strings that gymnasium imports on the first
``make``, and the episode limits (the original's step counters) live here with the ids.
"""

from __future__ import annotations

import gymnasium

#: episode limits: the original ends an episode when its step counter exceeds 250 / 1000 / 1500
MOBILE_ROBOT_STEPS = 251
OMNIROBOT_STEPS = 251
KUKA_STEPS = 1001
KUKA_LONG_STEPS = 1501  # Kuka2Button and KukaMovingButton
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
