"""The Kuka iiwa arm with its two-finger gripper (pybullet_data ``kuka_iiwa/kuka_with_gripper2.sdf``).

The robot half of the Kuka button family (``envs/kuka_button.py`` holds the tasks): the rest pose, the three control
modes and their action spaces, the inverse kinematics to a commanded end-effector point clipped to a workspace box,
the motors, and the readouts (gripper position, joint positions). Behaviour follows the original toolbox
(``environments/kuka_gym/kuka.py``); ``envs/KUKA_DIFFERENCES.md`` lists every intended difference.

The hot path (one call of :meth:`Kuka.move` per physics step) calls ``pybullet`` functions directly with the client
id, keeps the commanded point as Python floats and sends the seven arm motors in one ``setJointMotorControlArray``:
the per-joint speed limit (``maxVelocity``), which only ``setJointMotorControl2`` accepts, is set once per episode
and pybullet keeps it while later commands change the targets.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from gymnasium import spaces

from envs.sim import Simulation, pybullet

KUKA_SDF = "kuka_iiwa/kuka_with_gripper2.sdf"
BASE_POSITION = (-0.1, 0.0, -0.15)  # m
#: the 14 joints: 7 arm joints, the wrist rotation (7), then the two fingers (8-13; 9 and 12 are fixed joints)
N_JOINTS = 14
ARM_JOINTS = tuple(range(7))
ALL_JOINTS = tuple(range(N_JOINTS))
#: the original's initial joint positions (rad), the arm's rest pose
REST_POSE = (0.006418, 0.113184, -0.011401, -1.289317, 0.005379, 1.737684, -0.006539, 0.000048, -0.299912, 0.0,
             -0.000043, 0.299960, 0.0, -0.000200)
#: arm joint limits of the SDF (rad), used to clip joint targets
ARM_LIMITS = ((-2.96706, 2.96706), (-2.0944, 2.0944), (-2.96706, 2.96706), (-2.0944, 2.0944), (-2.96706, 2.96706),
              (-2.0944, 2.0944), (-3.05433, 3.05433))
EE_LINK = 6  # the inverse kinematics moves this link
GRIPPER_LINK = 8  # finger A: its centre of mass is the ground truth
INITIAL_EE_POSITION = (0.537, 0.0, 0.5)  # m, the commanded point after a reset
EE_EULER = (0.0, -math.pi, 0.0)  # the gripper points down
IK_DAMPING = (1e-5,) * N_JOINTS
#: one damped-least-squares step from the current joints per call, as the original's pybullet (1.8.6) computed; since
#: mid-2018 pybullet iterates up to 20 times by default. Solved again at every physics step, it converges over time.
IK_ITERATIONS = 1
#: the commanded point is clipped to this box (m): ``small`` when the target is fixed, ``large`` otherwise
WORKSPACE_SMALL = ((0.50, 0.65), (-0.17, 0.22), (0.0, 0.5))
WORKSPACE_LARGE = ((0.35, 0.65), (-0.30, 0.30), (0.0, 0.5))
ARM_FORCE = 200.0  # N m
ARM_MAX_VELOCITY = 0.35  # rad/s
ARM_POSITION_GAIN, ARM_VELOCITY_GAIN = 0.3, 1.0
#: (joint, target position, force) of the gripper motors: wrist angle 0, fingers closed
GRIPPER_MOTORS = ((7, 0.0, 200.0), (8, 0.0, 2.0), (11, 0.0, 2.5), (10, 0.0, 2.0), (13, 0.0, 2.0))

N_DISCRETE_ACTIONS = 6
DELTA_V = 0.03  # m per physics step, discrete actions
DELTA_V_CONTINUOUS = 0.0035  # m per physics step and unit of continuous action
DELTA_THETA = 0.1  # rad per physics step and unit of joint action
NOISE_STD = 0.01  # m, Gaussian noise on DELTA_V (one draw per env step)
NOISE_STD_CONTINUOUS = 0.0001  # m
NOISE_STD_JOINTS = 0.002  # rad
#: discrete action -> (axis, sign): 0 x-, 1 x+, 2 y-, 3 y+, 4 z-, 5 z+ (z- with ``force_down``)
DISCRETE_MOVES = ((0, -1.0), (0, 1.0), (1, -1.0), (1, 1.0), (2, -1.0), (2, 1.0))

_ZEROS7 = (0.0,) * 7
_FORCES7 = (ARM_FORCE,) * 7
_KP7 = (ARM_POSITION_GAIN,) * 7
_KD7 = (ARM_VELOCITY_GAIN,) * 7


class Kuka:
    """The Kuka arm: loads itself into a :class:`~envs.sim.Simulation`, moves, and reports its state.

    Controls (``control``):

    - ``discrete``: Discrete(6), moves the commanded end-effector point by ``0.03 + N(0, 0.01)`` m along one axis
      (0 x-, 1 x+, 2 y-, 3 y+, 4 z-, 5 z+, or z- again with ``force_down``).
    - ``continuous``: Box(-1, 1, (3,)), moves the commanded point by ``a * (0.0035 + N(0, 0.0001))`` m (the z move
      is forced downward with ``force_down``).
    - ``joints``: Box(-1, 1, (7,)), moves the seven commanded arm joint positions by ``a * (0.1 + N(0, 0.002))``
      rad, clipped to the joint limits.

    The step-size noise is drawn once per env step; every physics step of that step moves the command again.
    Position controls solve the inverse kinematics of link 6 toward the commanded point (clipped to the workspace
    box) with the gripper pointing down; the arm motors then follow at most 0.35 rad/s per joint, so the command can
    run ahead of the arm.

    :param sim: the simulation the arm lives in.
    :param control: ``discrete``, ``continuous`` or ``joints``.
    :param force_down: discrete action 5 moves down instead of up; continuous z moves are made downward.
    :param small_workspace: clip the commanded point to ``WORKSPACE_SMALL`` instead of ``WORKSPACE_LARGE``.
    :param ik_damping: pass the original's joint damping (1e-5) to the inverse kinematics; False solves it with
        pybullet's default damping and no null space, as the original's 2-button env effectively did (pybullet
        ignored its 7-entry null-space lists).
    """

    def __init__(
        self,
        sim: Simulation,
        control: str = "discrete",
        force_down: bool = True,
        small_workspace: bool = True,
        ik_damping: bool = True,
    ) -> None:
        self.sim = sim
        self.control = control
        self.force_down = force_down
        self.workspace = WORKSPACE_SMALL if small_workspace else WORKSPACE_LARGE
        self.ik_damping = ik_damping
        self.uid = -1
        self._cid = -1
        self._orientation: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0)
        self._ee_target = list(INITIAL_EE_POSITION)
        self._joint_target = list(REST_POSE[:7])

    # --- spaces -----------------------------------------------------------------------------------------------
    @property
    def action_space(self) -> spaces.Space:
        """The action space of the control mode (continuous ones are float32 in [-1, 1], scaled here)."""
        if self.control == "discrete":
            return spaces.Discrete(N_DISCRETE_ACTIONS)
        return spaces.Box(-1.0, 1.0, (3 if self.control == "continuous" else 7,), dtype=np.float32)

    # --- setup ------------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Load the arm at ``BASE_POSITION`` and register it in the simulation as ``robot``."""
        self.uid = self.sim.load_sdf("robot", KUKA_SDF, BASE_POSITION)
        self._cid = self.sim.client_id
        self._orientation = tuple(pybullet.getQuaternionFromEuler(EE_EULER))

    def reset_pose(self) -> None:
        """Teleport the joints to the rest pose and reset the commands (start of the settling steps)."""
        for joint, angle in enumerate(REST_POSE):
            pybullet.resetJointState(self.uid, joint, angle, physicsClientId=self._cid)
        self.reset_command()

    def reset_command(self) -> None:
        """Command the rest targets: the initial end-effector point (or the rest pose), gripper closed.

        Sends every motor's parameters, including the arm's speed limit, which later :meth:`move` calls keep.
        """
        self._ee_target = list(INITIAL_EE_POSITION)
        self._joint_target = list(REST_POSE[:7])
        self._send_all(self._arm_targets())

    def _send_all(self, targets: Sequence[float]) -> None:
        """Send every motor's target and parameters; :meth:`move` then only updates the arm targets."""
        for joint in ARM_JOINTS:
            pybullet.setJointMotorControl2(
                self.uid, joint, pybullet.POSITION_CONTROL, targetPosition=targets[joint], targetVelocity=0.0,
                force=ARM_FORCE, maxVelocity=ARM_MAX_VELOCITY, positionGain=ARM_POSITION_GAIN,
                velocityGain=ARM_VELOCITY_GAIN, physicsClientId=self._cid,
            )
        for joint, target, force in GRIPPER_MOTORS:
            pybullet.setJointMotorControl2(self.uid, joint, pybullet.POSITION_CONTROL, targetPosition=target,
                                           force=force, physicsClientId=self._cid)

    def command_state(self) -> tuple[list[float], list[float]]:
        """The commanded end-effector point and joint targets (restored with :meth:`restore_command`)."""
        return list(self._ee_target), list(self._joint_target)

    def restore_command(self, state: tuple[list[float], list[float]]) -> None:
        """Put back a command saved by :meth:`command_state` (after ``restoreState``) and resend every motor."""
        self._ee_target, self._joint_target = list(state[0]), list(state[1])
        self._send_all(self._arm_targets())

    # --- actions ----------------------------------------------------------------------------------------------
    def action_delta(self, action: Any, np_random: np.random.Generator) -> tuple[float, ...]:
        """The command change of one physics step for ``action``: (dx, dy, dz) in m, or 7 joint deltas in rad.

        Draws the step-size noise from ``np_random``.
        """
        if self.control == "discrete":
            axis, sign = DISCRETE_MOVES[int(action)]
            if axis == 2 and self.force_down:
                sign = -1.0
            step = sign * (DELTA_V + np_random.normal(0.0, NOISE_STD))
            return (step, 0.0, 0.0) if axis == 0 else (0.0, step, 0.0) if axis == 1 else (0.0, 0.0, step)
        values = action.tolist() if isinstance(action, np.ndarray) else list(action)  # floats: cheaper than numpy
        if self.control == "continuous":
            scale = DELTA_V_CONTINUOUS + np_random.normal(0.0, NOISE_STD_CONTINUOUS)
            dx, dy, dz = (min(max(v, -1.0), 1.0) * scale for v in values)
            return dx, dy, -abs(dz) if self.force_down else dz
        scale = DELTA_THETA + np_random.normal(0.0, NOISE_STD_JOINTS)
        return tuple(min(max(v, -1.0), 1.0) * scale for v in values)

    def random_delta(self, np_random: np.random.Generator) -> tuple[float, ...]:
        """A random command change for the moves after a reset.

        Discrete: one random axis and sign, 0.03 m (up is possible even with ``force_down``). Continuous: a random
        unit direction times 0.0035 m. Joints: a random unit direction in joint space times 0.1 rad.
        """
        if self.control == "discrete":
            axis, sign = DISCRETE_MOVES[int(np_random.integers(N_DISCRETE_ACTIONS))]
            delta = [0.0, 0.0, 0.0]
            delta[axis] = sign * DELTA_V
            return tuple(delta)
        direction = np_random.normal(size=3 if self.control == "continuous" else 7)
        direction /= max(float(np.linalg.norm(direction)), 1e-12)
        return tuple((direction * (DELTA_V_CONTINUOUS if self.control == "continuous" else DELTA_THETA)).tolist())

    def move(self, delta: Sequence[float]) -> None:
        """Move the command by ``delta`` (clipped to the workspace or the joint limits) and send it to the motors.

        Call once per physics step; the position controls solve the inverse kinematics from the current joints.
        """
        if self.control == "joints":
            self._joint_target = [min(max(t + d, lo), hi) for t, d, (lo, hi) in
                                  zip(self._joint_target, delta, ARM_LIMITS)]
        else:
            self._ee_target = [min(max(t + d, lo), hi) for t, d, (lo, hi) in
                               zip(self._ee_target, delta, self.workspace)]
        self._send_arm(self._arm_targets())

    def _arm_targets(self) -> Sequence[float]:
        """The seven arm joint targets (rad) of the current command."""
        if self.control == "joints":
            return self._joint_target
        if self.ik_damping:
            solution = pybullet.calculateInverseKinematics(
                self.uid, EE_LINK, self._ee_target, self._orientation, jointDamping=IK_DAMPING,
                maxNumIterations=IK_ITERATIONS, physicsClientId=self._cid,
            )
        else:
            solution = pybullet.calculateInverseKinematics(self.uid, EE_LINK, self._ee_target, self._orientation,
                                                           maxNumIterations=IK_ITERATIONS, physicsClientId=self._cid)
        return solution[:7]

    def _send_arm(self, targets: Sequence[float]) -> None:
        pybullet.setJointMotorControlArray(
            self.uid, ARM_JOINTS, pybullet.POSITION_CONTROL, targetPositions=targets, targetVelocities=_ZEROS7,
            forces=_FORCES7, positionGains=_KP7, velocityGains=_KD7, physicsClientId=self._cid,
        )

    # --- readouts ---------------------------------------------------------------------------------------------
    @property
    def ee_target(self) -> tuple[float, float, float]:
        """The commanded end-effector point (m)."""
        return tuple(self._ee_target)  # type: ignore[return-value]

    @property
    def joint_target(self) -> tuple[float, ...]:
        """The commanded arm joint positions (rad) of the ``joints`` control."""
        return tuple(self._joint_target)

    def gripper_position(self) -> tuple[float, float, float]:
        """World position (m) of the gripper link's centre of mass, as of the last physics step."""
        return pybullet.getLinkState(self.uid, GRIPPER_LINK, physicsClientId=self._cid)[0]

    def joint_positions(self) -> np.ndarray:
        """The 14 joint positions (rad; the fixed joints 9 and 12 read 0), shape ``(14,)``."""
        states = pybullet.getJointStates(self.uid, ALL_JOINTS, physicsClientId=self._cid)
        return np.array([state[0] for state in states])
