"""An inference-only copy of a trained CNN encoder, for the RL hot loop.

:func:`inference_encoder` turns ``model(preprocess(images))`` into one frozen TorchScript function of the raw
uint8 images with the same output (to float rounding):

* each BatchNorm (in eval mode) is folded into the convolution before it;
* the ImageNet normalisation ``(x / 255 - mean) / std`` is folded into the first convolution: the images only get
  the per-channel mean subtracted (so zero padding stays exact), and the weights absorb ``1 / (255 std)``;
* the images stay in their (N, H, W, C) layout and the convolutions run channels-last, which skips a reorder.

This saves about a third of the ``cnn`` encoder's CPU time per image and half of ``custom_cnn``'s
(``bench/srl_speed.py``). Models without a Conv/BatchNorm trunk (MLP, linear, PCA) keep the plain path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from srl.data import channel_stats, preprocess

Encode = Callable[[torch.Tensor], torch.Tensor]


class _RawImageEncoder(nn.Module):
    """uint8 (N, H, W, C) images -> states, with the normalisation folded into ``convs[0]``, which reads the first
    ``len(mean)`` channels (view 1 of a multi-view image for a time-contrastive model, else all of them)."""

    def __init__(self, convs: nn.Sequential, head: nn.Linear, mean: torch.Tensor) -> None:
        super().__init__()
        self.convs = convs.to(memory_format=torch.channels_last)
        self.head = head
        self.register_buffer("mean", mean)
        self.channels = len(mean)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images[..., :self.channels].float() - self.mean).permute(0, 3, 1, 2)  # a channels-last view, no copy
        return self.head(torch.flatten(self.convs(x), 1))


def _fold_batchnorm(convs: nn.Sequential) -> nn.Sequential | None:
    """A copy of a Conv/BatchNorm/ReLU/MaxPool stack with each BatchNorm fused into its conv (None: other layers)."""
    layers: list[nn.Module] = []
    for layer in convs:
        if isinstance(layer, nn.BatchNorm2d):
            if not layers or not isinstance(layers[-1], nn.Conv2d):
                return None
            layers[-1] = fuse_conv_bn_eval(layers[-1], layer)
        elif isinstance(layer, (nn.Conv2d, nn.ReLU, nn.MaxPool2d)):
            layers.append(layer)
        else:
            return None
    return nn.Sequential(*layers) if layers and isinstance(layers[0], nn.Conv2d) else None


def _fold_normalisation(conv: nn.Conv2d) -> nn.Conv2d:
    """``conv((x / 255 - mean) / std)`` as ``conv'(x - 255 mean)``: the weights divided by 255 std per channel."""
    scale = 1.0 / (255.0 * channel_stats(conv.in_channels)[1].to(conv.weight.dtype))
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                       conv.dilation, conv.groups, bias=conv.bias is not None)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.view(1, -1, 1, 1))
        if conv.bias is not None:
            folded.bias.copy_(conv.bias)
    return folded


def inference_encoder(model: nn.Module, device: str = "cpu") -> Encode:
    """A function of uint8 image tensors (N, S, S, 3 V) to states (N, state_dim), equal to ``model(preprocess(x))``
    up to float rounding; call it under ``torch.no_grad()``.

    :param model: a trained encoder in eval mode (``SRLModel`` or any module taking preprocessed images).
    :param device: where it runs.
    """
    trunk, head = getattr(model, "trunk", None), getattr(model, "state_head", None)
    convs = trunk[0] if isinstance(trunk, nn.Sequential) and isinstance(trunk[0], nn.Sequential) else None
    fused = _fold_batchnorm(convs) if convs is not None and isinstance(head, nn.Linear) else None
    if fused is None or fused[0].in_channels % 3:
        return lambda images: model(preprocess(images, device))
    fused = copy.deepcopy(fused)
    fused[0] = _fold_normalisation(fused[0])
    mean = 255.0 * channel_stats(fused[0].in_channels)[0]
    return _RawImageEncoder(fused, copy.deepcopy(head), mean).to(device).eval()
