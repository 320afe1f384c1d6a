"""The interface shared by every toolbox environment: ground truth, target, camera, observation kinds."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle

from envs.rendering import RENDERERS, CompositeRenderer, Scene, load_body
from envs.sim import Camera, Simulation

#: Observation kinds an env can produce. Learned SRL models consume ``pixels`` and encode them outside the env.
OBSERVATIONS = ("ground_truth", "pixels", "joints", "joints_position")
#: Control modes (action spaces) an env can take.
CONTROLS = ("discrete", "continuous", "joints")


class SRLEnv(gym.Env, EzPickle):
    """Base class of the toolbox's robotics envs.

    Subclasses define the dynamics and say what they support through ``observation_kinds`` and ``controls``; this
    class turns their ground truth, target position and camera into observations.

    :param observation: ``ground_truth`` (robot position, relative to the target when ``relative_pos``) or ``pixels``
        (uint8 camera image of shape ``(image_size, image_size, 3)``); some envs add ``joints``/``joints_position``.
    :param control: ``discrete``, ``continuous`` or ``joints``.
    :param image_size: side of the square camera image (pixels).
    :param relative_pos: ground truth relative to the target (the original's RELATIVE_POS).
    :param random_target: draw the target position at every reset.
    :param shape_reward: dense reward (minus the distance to the target) instead of the sparse one.
    :param render_mode: ``rgb_array`` (the camera image) or None.
    :param gui: show the scene in the pybullet GUI (needs a display).
    :param renderer: how camera images are made. ``composite`` (default): the fastest renderer the env has; for an
        env whose :meth:`camera_scene` describes a fixed camera over bodies teleported in the plane, pieces rendered
        once per process are depth-composited per image (``envs.rendering``, tested to match pybullet's picture);
        other envs use their only renderer. ``pybullet``: pybullet's TinyRenderer renders the whole scene for every
        image (the reference). The values an env accepts are its ``renderers``.
    :raises ValueError: on an unsupported observation, control, render mode or renderer, or ``image_size < 36``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 50}
    observation_kinds: ClassVar[tuple[str, ...]] = ("ground_truth", "pixels")
    controls: ClassVar[tuple[str, ...]] = ("discrete", "continuous")
    #: values of the ``renderer`` argument this env accepts (a subset of ``envs.rendering.RENDERERS``)
    renderers: ClassVar[tuple[str, ...]] = RENDERERS
    camera: ClassVar[Camera]

    def __init__(
        self,
        observation: str = "ground_truth",
        control: str = "discrete",
        image_size: int = 64,
        relative_pos: bool = True,
        random_target: bool = False,
        shape_reward: bool = False,
        render_mode: str | None = None,
        gui: bool = False,
        renderer: str = "composite",
    ) -> None:
        EzPickle.__init__(self, observation=observation, control=control, image_size=image_size,
                          relative_pos=relative_pos, random_target=random_target, shape_reward=shape_reward,
                          render_mode=render_mode, gui=gui, renderer=renderer)
        name = type(self).__name__
        if observation not in self.observation_kinds:
            raise ValueError(f"{name} cannot observe {observation!r}; it supports {', '.join(self.observation_kinds)}.")
        if control not in self.controls:
            raise ValueError(f"{name} cannot take control {control!r}; it supports {', '.join(self.controls)}.")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}.")
        if renderer not in self.renderers:
            raise ValueError(f"{name} cannot use renderer={renderer!r}; it supports {', '.join(self.renderers)}.")
        if image_size < 36:
            raise ValueError(f"image_size={image_size} is too small: CNN policies need at least 36 pixels.")
        self.observation_kind = observation
        self.control = control
        self.image_size = image_size
        self.relative_pos = relative_pos
        self.random_target = random_target
        self.shape_reward = shape_reward
        self.render_mode = render_mode
        self.renderer = renderer
        self.sim = Simulation(gui=gui)
        self._camera_matrices: tuple[list[float], list[float]] | None = None
        self._compositor: CompositeRenderer | None = None

    # --- what subclasses define -------------------------------------------------------------------------------
    def ground_truth(self) -> np.ndarray:
        """The robot's (or end effector's) absolute position (m), shape ``(ground_truth_dim,)``."""
        raise NotImplementedError

    def target_position(self) -> np.ndarray:
        """The current target's position (m), same shape as :meth:`ground_truth`."""
        raise NotImplementedError

    def camera_scene(self) -> Scene | None:
        """The camera scene when it is a fixed camera over static bodies and bodies teleported in the plane (then
        the composite renderer can draw it, and the default :meth:`_build_scene`/:meth:`_sync_scene` load and move
        it); None otherwise."""
        return None

    def scene_positions(self) -> list[tuple[float, float]]:
        """Current (x, y) (m) of each moving body of :meth:`camera_scene`, in its order."""
        raise NotImplementedError

    def _build_scene(self) -> None:
        """Load every body into ``self.sim`` (called once, on the first pybullet render)."""
        scene = self.camera_scene()
        if scene is None:
            raise NotImplementedError
        for static in scene.static:
            load_body(self.sim, static.name, static.body, static.x, static.y)
        for moving, (x, y) in zip(scene.moving, self.scene_positions()):
            load_body(self.sim, moving.name, moving.body, x, y)

    def _sync_scene(self) -> None:
        """Move the bodies of ``self.sim`` to the current state before a pybullet render."""
        scene = self.camera_scene()
        if scene is None:
            raise NotImplementedError
        for moving, (x, y) in zip(scene.moving, self.scene_positions()):
            self.sim.set_position(moving.name, (x, y, moving.body.z), yaw=moving.body.yaw)

    # --- shared behaviour -------------------------------------------------------------------------------------
    def srl_state(self) -> np.ndarray:
        """The ``ground_truth`` observation: position relative to the target when ``relative_pos`` (float32)."""
        state = self.ground_truth() - self.target_position() if self.relative_pos else self.ground_truth()
        return state.astype(np.float32)

    def render_image(self) -> np.ndarray:
        """The camera view, uint8 of shape ``(image_size, image_size, 3)``, from the configured ``renderer``.

        The composite renderer's pieces are built on first use (once per process and scene); the pybullet renderer
        builds the scene in this env's client on first use.
        """
        if self.renderer == "composite":
            if self._compositor is None:
                scene = self.camera_scene()
                if scene is not None:
                    self._compositor = CompositeRenderer(scene, self.image_size)
            if self._compositor is not None:
                return self._compositor.render(self.scene_positions())
        self._update_scene()
        if self._camera_matrices is None:
            self._camera_matrices = self.sim.camera_matrices(self.camera)
        view, projection = self._camera_matrices
        return self.sim.render(view, projection, self.image_size)

    def render_camera(self) -> np.ndarray:
        """The renderer alone: the camera image of the scene as it is, without syncing it (for benchmarks)."""
        if self._compositor is not None:
            return self._compositor.render(self.scene_positions())
        if self._camera_matrices is None:
            return self.render_image()
        view, projection = self._camera_matrices
        return self.sim.render(view, projection, self.image_size)

    def _update_scene(self) -> None:
        """Bring the pybullet scene to the current state, building it on first use."""
        if not self.sim.has_body("robot"):
            self._build_scene()
        self._sync_scene()

    def _observe(self) -> np.ndarray:
        """The observation of the current state, of the configured kind (the GUI, if open, follows the state)."""
        if self.sim.gui:
            self._update_scene()
        if self.observation_kind == "pixels":
            return self.render_image()
        return self.srl_state()

    def _pixel_space(self) -> spaces.Box:
        return spaces.Box(0, 255, (self.image_size, self.image_size, 3), dtype=np.uint8)

    def render(self) -> np.ndarray | None:
        """The camera image (``render_mode="rgb_array"``)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'.")
            return None
        return self.render_image()

    def close(self) -> None:
        """Release the pybullet client; safe to call twice."""
        self.sim.close()
        self._camera_matrices = None
        self._compositor = None
