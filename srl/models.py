"""Encoders, decoders, prediction heads and PCA; a model is rebuilt from its folder's ``exp_config.json`` alone.

Encoders (``model_type``), input (B, 3 V, S, S) ImageNet-normalised images of V camera views (see :mod:`srl.data`;
V = 2 for a multi-view model, whose first layer takes the 6-channel stack, spec 1.4.10):

* ``cnn`` (default, ours, sized for speed at 64x64): conv 8x8/4 32 ch, conv 4x4/2 32 ch, conv 4x4/2 64 ch, each
  with BatchNorm and ReLU, flatten (64 (S/16)^2 features, 1024 at 64x64) -> Linear(state_dim); its decoder mirrors
  it (exact at any S divisible by 16). About 0.1 ms per 64x64 image forward on one core.
* ``custom_cnn``: the original's "CustomCNN" (conv 7x7/2 64 ch, BN, ReLU, maxpool 3/2; conv 3x3 64, BN, ReLU,
  maxpool 3/2; conv 3x3/2 64, BN, ReLU, maxpool 3/2; 2304 features at 224x224) -> Linear(state_dim). Its decoder is
  the original's (Linear -> (64, 6, 6) -> 4 x [ConvT 3x3/2, BN, ReLU] -> ConvT 4x4/2), exact at 224x224 (and 64x64).
  About ten times the cost of ``cnn`` at 64x64.
* ``mlp``: flatten -> Linear(64) -> ReLU -> Linear(state_dim). ``linear``: flatten -> Linear(state_dim).

Decoders mirror their encoder and end without activation (targets are normalised images); when the mirrored
geometry misses the image size the output is resized bilinearly. The VAE has a second head for log-variances and
its state is the mean. Heads, as the original: inverse Linear(2d, n_actions) (or 2d-128-128-n_actions with
``inverse_model_type=mlp``), forward Linear(d + n_actions, d) predicting s_t+1 - s_t, reward 2d-16-16-2. Only the
heads the losses use are built. PCA is a module too (a mean and components applied to preprocessed images), so it
runs in the batched RL encoder like the networks (the original toolbox fed it raw, unnormalised frames).

With the ``triplet`` loss the encoder is a time-contrastive embedding of one view (its first layer takes 3
channels): the training embeds both views, and the state of a multi-view image is the embedding of view 1, as the
original's. Its embedding net was an ImageNet-pretrained, frozen resnet18 with a trainable Linear(512, 128), PReLU,
Linear(128, d); here the chosen ``model_type`` is trained from scratch (no pretrained weights can be downloaded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from srl.errors import ConfigError
from srl.losses import LossSpec, check_views, has_decoder, parse_losses, split_slices

MODEL_TYPES = ("cnn", "custom_cnn", "mlp", "linear")
INVERSE_MODEL_TYPES = ("linear", "mlp")
MODEL_FILE = "srl_model.pth"
EXP_CONFIG = "exp_config.json"
#: an SRL model folder's training config and summary (losses, GTC, KNN-MSE, times), next to the model
TRAIN_CONFIG = "config.yaml"
METRICS_FILE = "metrics.json"


class Encoded(NamedTuple):
    """Encoder output for a batch: ``states`` (B, d) (the VAE's mean), and for the VAE ``logvar`` (B, d) and a
    reparameterised ``sample`` (B, d) (the mean in eval mode)."""

    states: torch.Tensor
    logvar: torch.Tensor | None = None
    sample: torch.Tensor | None = None


def _conv_block(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ImageConvTranspose2d(nn.ConvTranspose2d):
    """A decoder's last layer, which outputs the image's few channels: ``nn.ConvTranspose2d`` (same parameters and
    state dict) whose forward pass on CPU runs without oneDNN.

    oneDNN's transposed convolution is slow with 3 output channels: the ``cnn`` decoder's last layer (32 -> 3
    channels, kernel 8, stride 4, 16x16 -> 64x64) took 41 CPU ms per forward and backward pass on 128 images against
    25 ms with torch's own kernel (a matrix product and col2im) for the forward pass and oneDNN's for the backward
    pass, and a whole training step of a ``cnn`` autoencoder on 64 transitions 107 ms against 92, one thread
    (``python bench/srl_speed.py``, the decoder's last layer). Outputs agree to float rounding.
    """

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if x.device.type != "cpu" or not torch.backends.mkldnn.enabled:
            return super().forward(x, output_size)
        torch.backends.mkldnn.enabled = False
        try:
            return super().forward(x, output_size)
        finally:
            torch.backends.mkldnn.enabled = True


def _deconv_block(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


def build_trunk(model_type: str, image_size: int, channels: int = 3) -> tuple[nn.Module, int, tuple[int, ...]]:
    """The encoder's feature extractor: (module, number of features, shape of its output before flattening)."""
    if model_type == "cnn":
        layers = [*_conv_block(channels, 32, 8, 4, 2), *_conv_block(32, 32, 4, 2, 1), *_conv_block(32, 64, 4, 2, 1)]
    elif model_type == "custom_cnn":
        layers = [*_conv_block(channels, 64, 7, 2, 3), nn.MaxPool2d(3, 2, 1), *_conv_block(64, 64, 3, 1, 1),
                  nn.MaxPool2d(3, 2), *_conv_block(64, 64, 3, 2, 1), nn.MaxPool2d(3, 2)]
    elif model_type == "mlp":
        trunk = nn.Sequential(nn.Flatten(), nn.Linear(channels * image_size**2, 64), nn.ReLU(inplace=True))
        return trunk, 64, (channels, image_size, image_size)
    elif model_type == "linear":
        return nn.Flatten(), channels * image_size**2, (channels, image_size, image_size)
    else:
        raise ConfigError(f"model_type={model_type!r} does not exist; valid model types: {', '.join(MODEL_TYPES)}.")
    convs = nn.Sequential(*layers).eval()  # a dry run for the output shape (BatchNorm cannot train on 1 value)
    with torch.no_grad():
        shape = tuple(convs(torch.zeros(1, channels, image_size, image_size)).shape[1:])
    convs.train()
    if 0 in shape:
        raise ConfigError(f"image_size={image_size} is too small for model_type={model_type}; use at least 32.")
    return nn.Sequential(convs, nn.Flatten()), int(torch.tensor(shape).prod()), shape


class Decoder(nn.Module):
    """Maps a state (B, d) back to an image (B, C, S, S), mirroring the encoder ``model_type``."""

    def __init__(self, model_type: str, state_dim: int, image_size: int, trunk_shape: tuple[int, ...],
                 channels: int = 3) -> None:
        super().__init__()
        self.image_size = image_size
        self.channels = channels
        pixels = channels * image_size**2
        self.start_shape = trunk_shape
        if model_type in ("cnn", "custom_cnn"):
            self.fc = nn.Linear(state_dim, int(torch.tensor(trunk_shape).prod()))
            if model_type == "cnn":
                layers = [*_deconv_block(64, 32, 4, 2, 1), *_deconv_block(32, 32, 4, 2, 1),
                          ImageConvTranspose2d(32, channels, 8, 4, 2)]
            else:
                layers = [*_deconv_block(64, 64, 3, 2, 0), *_deconv_block(64, 64, 3, 2, 0),
                          *_deconv_block(64, 64, 3, 2, 0), *_deconv_block(64, 64, 3, 2, 0),
                          ImageConvTranspose2d(64, channels, 4, 2, 0)]
            self.deconv = nn.Sequential(*layers)
        elif model_type == "mlp":
            self.fc = nn.Sequential(nn.Linear(state_dim, 64), nn.ReLU(inplace=True), nn.Linear(64, pixels))
            self.deconv = None
        else:
            self.fc = nn.Linear(state_dim, pixels)
            self.deconv = None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z)
        if self.deconv is None:
            return x.view(-1, self.channels, self.image_size, self.image_size)
        x = self.deconv(x.view(-1, *self.start_shape))
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return x


class SRLModel(nn.Module):
    """An encoder trained by a list of losses, with the decoder and heads those losses need.

    :param losses: the parsed loss list (order kept; splits from their dims).
    :param state_dim: size d of the state vector.
    :param image_size: side S of the input images (pixels).
    :param n_actions: number of action classes (0 if no loss needs them).
    :param model_type: one of :data:`MODEL_TYPES`.
    :param inverse_model_type: ``linear`` or ``mlp``.
    :param beta: weight of the VAE's KL term.
    :param occlusion_percentage: the DAE's noise (read by the trainer).
    :param views: camera views stacked in the input images (1, or 2 for a multi-view model): the input has
        ``in_channels = 3 * views`` channels.
    :raises ConfigError: an unknown inverse model type, a VAE with a linear encoder, or a loss that needs more
        views (``triplet`` needs 2).
    """

    def __init__(self, losses: list[LossSpec], state_dim: int, image_size: int, n_actions: int = 0,
                 model_type: str = "cnn", inverse_model_type: str = "linear", beta: float = 1.0,
                 occlusion_percentage: float = 0.5, views: int = 1) -> None:
        super().__init__()
        names = [spec.name for spec in losses]
        check_views(losses, views, f"a model of {views} view(s)")
        if inverse_model_type not in INVERSE_MODEL_TYPES:
            raise ConfigError(f"inverse_model_type={inverse_model_type!r} does not exist; valid: "
                              f"{', '.join(INVERSE_MODEL_TYPES)}.")
        if "vae" in names and model_type == "linear":
            raise ConfigError("the vae loss needs a non-linear encoder; use model_type cnn, custom_cnn or mlp.")
        self.losses = list(losses)
        self.state_dim = state_dim
        self.image_size = image_size
        self.n_actions = n_actions
        self.model_type = model_type
        self.beta = beta
        self.occlusion_percentage = occlusion_percentage
        self.views = views
        #: channels of the input images (all views)
        self.in_channels = 3 * views
        #: the encoder embeds one view at a time (the triplet loss); the state is view 1's embedding
        self.time_contrastive = "triplet" in names
        channels = 3 if self.time_contrastive else self.in_channels
        self.pixels_per_image = channels * image_size**2
        self.is_vae = "vae" in names
        self.trunk, features, trunk_shape = build_trunk(model_type, image_size, channels)
        self.state_head = nn.Linear(features, state_dim)
        self.logvar_head = nn.Linear(features, state_dim) if self.is_vae else None
        self.decoder = (Decoder(model_type, state_dim, image_size, trunk_shape, channels)
                        if has_decoder(names) else None)
        self.inverse_net = self.forward_net = self.reward_net = None
        if "inverse" in names:
            self.inverse_net = (nn.Linear(2 * state_dim, n_actions) if inverse_model_type == "linear" else
                                nn.Sequential(nn.Linear(2 * state_dim, 128), nn.ReLU(), nn.Linear(128, 128),
                                              nn.ReLU(), nn.Linear(128, n_actions)))
        if "forward" in names:
            self.forward_net = nn.Linear(state_dim + n_actions, state_dim)
        if "reward" in names:
            self.reward_net = nn.Sequential(nn.Linear(2 * state_dim, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                                            nn.Linear(16, 2))
        self._masks: dict[str, torch.Tensor] = {}
        for name, (start, stop) in (split_slices(losses) or {}).items():
            mask = torch.zeros(state_dim)
            mask[start:stop] = 1.0
            self.register_buffer(f"mask_{name}", mask, persistent=False)
            self._masks[name] = mask

    def mask(self, loss: str) -> torch.Tensor | None:
        """The 0/1 mask (d,) of a loss's split, or None without splits."""
        return getattr(self, f"mask_{loss}") if loss in self._masks else None

    def one_hot(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions (B,) as one-hot (B, n_actions) floats."""
        return F.one_hot(actions, self.n_actions).float()

    def first_view(self, x: torch.Tensor) -> torch.Tensor:
        """View 1 (channels 0-2) of preprocessed images (B, 3 V, S, S), shape (B, 3, S, S)."""
        return x[:, :3]

    def second_view(self, x: torch.Tensor) -> torch.Tensor:
        """View 2 (channels 3-5) of preprocessed multi-view images (B, 6, S, S), shape (B, 3, S, S)."""
        return x[:, 3:6]

    def embed(self, views: torch.Tensor) -> torch.Tensor:
        """Embeddings (B, d) of single views (B, 3, S, S) (time-contrastive models)."""
        return self.state_head(self.trunk(views))

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The encoder's parameters: its trunk's, the state head's and the VAE's log-variance head's (the rest of
        :meth:`parameters` is the decoder's and the loss heads')."""
        heads = [self.trunk, self.state_head] + ([self.logvar_head] if self.logvar_head is not None else [])
        return [p for module in heads for p in module.parameters()]

    def encode(self, x: torch.Tensor) -> Encoded:
        """Encode images (B, 3 V, S, S) (a time-contrastive model encodes view 1); the VAE also samples
        z = mu + sigma eps in train mode."""
        if self.time_contrastive:
            return Encoded(self.embed(self.first_view(x)))
        features = self.trunk(x)
        states = self.state_head(features)
        if self.logvar_head is None:
            return Encoded(states)
        logvar = self.logvar_head(features)
        sample = states + torch.randn_like(states) * torch.exp(0.5 * logvar) if self.training else states
        return Encoded(states, logvar, sample)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruct images (B, C, S, S) from states (B, d)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """States (B, d) of images (B, 3 V, S, S) (the VAE's mean; view 1's embedding for a time-contrastive
        model)."""
        if self.time_contrastive:
            x = self.first_view(x)
        return self.state_head(self.trunk(x))


class PCAModel(nn.Module):
    """Principal components of flattened preprocessed images: state = (x - mean) @ components.T.

    :param state_dim: number of components k. :param image_size: side S of the images.
    :param views: camera views stacked in the images (their ``3 * views`` channels are flattened together).
    """

    def __init__(self, state_dim: int, image_size: int, views: int = 1) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.image_size = image_size
        self.views = views
        self.in_channels = 3 * views
        self.losses = [LossSpec("pca", 1.0)]
        features = self.in_channels * image_size**2
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("components", torch.zeros(state_dim, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) @ self.components.T

    @torch.no_grad()
    def fit(self, chunks: Any, n_samples: int, n_iter: int = 4, oversample: int = 10, seed: int = 0) -> None:
        """Randomised PCA (Halko et al. 2011) over data given in chunks, in a few passes, O((n + D) k) memory.

        :param chunks: a callable returning an iterator over preprocessed batches (B, C, S, S) (called per pass).
        :param n_samples: total number of samples the chunks hold.
        """
        generator = torch.Generator().manual_seed(seed)
        total = torch.zeros_like(self.mean, dtype=torch.float64)
        for x in chunks():
            total += x.flatten(1).double().sum(0)
        self.mean.copy_((total / n_samples).float())
        q = min(self.state_dim + oversample, n_samples, self.mean.numel())
        omega = torch.randn(self.mean.numel(), q, generator=generator)

        def times(matrix: torch.Tensor) -> torch.Tensor:  # X_centered @ matrix, (n, q)
            return torch.cat([(x.flatten(1) - self.mean) @ matrix for x in chunks()])

        def transposed_times(matrix: torch.Tensor) -> torch.Tensor:  # X_centered.T @ matrix, (D, q)
            out, start = torch.zeros(self.mean.numel(), matrix.shape[1]), 0
            for x in chunks():
                rows = x.flatten(1) - self.mean
                out += rows.T @ matrix[start:start + len(rows)]
                start += len(rows)
            return out

        basis, _ = torch.linalg.qr(times(omega))
        for _ in range(n_iter):
            basis, _ = torch.linalg.qr(times(torch.linalg.qr(transposed_times(basis))[0]))
        small = transposed_times(basis).T  # (q, D) = Q.T X
        _, _, vh = torch.linalg.svd(small, full_matrices=False)
        k = min(self.state_dim, vh.shape[0])
        self.components.zero_()
        self.components[:k] = vh[:k]


def build_model(exp_config: dict[str, Any]) -> nn.Module:
    """Rebuild the (untrained) model an ``exp_config.json`` describes."""
    losses = parse_losses(exp_config.get("loss-specs") or exp_config["losses"], exp_config["state-dim"])
    image_size = int(exp_config.get("image-size", 224))
    views = 2 if exp_config.get("multi-view") else 1
    if losses[0].name == "pca":
        return PCAModel(int(exp_config["state-dim"]), image_size, views=views)
    return SRLModel(losses, int(exp_config["state-dim"]), image_size, n_actions=int(exp_config.get("n_actions", 0)),
                    model_type=exp_config.get("model-type", "cnn"),
                    inverse_model_type=exp_config.get("inverse-model-type") or "linear",
                    beta=float(exp_config.get("beta", 1.0)),
                    occlusion_percentage=float(exp_config.get("occlusion-percentage", 0.5)), views=views)


def read_exp_config(folder: Path) -> dict[str, Any]:
    """The ``exp_config.json`` of a model folder (a clear error when it is not one)."""
    path = Path(folder) / EXP_CONFIG
    if not path.exists() or not (Path(folder) / MODEL_FILE).exists():
        raise ConfigError(f"{folder} is not a trained SRL model folder ({EXP_CONFIG} and {MODEL_FILE} are needed); "
                          "train one with python -m srl.train dataset=<dataset> model=<model>.")
    config = json.loads(path.read_text())
    if "image-size" not in config:
        raise ConfigError(f"{folder} was trained by the original srl-zoo (no image-size in {EXP_CONFIG}); its "
                          "weights expect the original's transposed 224x224 input and cannot be loaded here. "
                          "Retrain it with python -m srl.train.")
    return config


def load_model(folder: Path | str, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load a trained model from its folder alone, in eval mode; returns (model, exp_config)."""
    folder = Path(folder)
    exp_config = read_exp_config(folder)
    model = build_model(exp_config)
    model.load_state_dict(torch.load(folder / MODEL_FILE, map_location=device, weights_only=True))
    return model.to(device).eval(), exp_config
