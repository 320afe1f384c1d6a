"""Encoders, decoders, heads and PCA: shapes, rebuilding from exp_config alone, PCA against an exact SVD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srl.errors import ConfigError
from srl.losses import parse_losses
from srl.models import MODEL_TYPES, Decoder, ImageConvTranspose2d, PCAModel, SRLModel, build_model, build_trunk

torch.set_num_threads(1)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_autoencoders_reconstruct_at_the_image_size(model_type: str) -> None:
    model = SRLModel(parse_losses(["autoencoder", "inverse"], 10), 10, image_size=64, n_actions=4,
                     model_type=model_type).eval()
    x = torch.randn(3, 3, 64, 64)
    encoded = model.encode(x)
    assert encoded.states.shape == (3, 10) and model(x).shape == (3, 10)
    assert model.decode(encoded.states).shape == (3, 3, 64, 64)
    assert model.inverse_net(torch.cat([encoded.states, encoded.states], 1)).shape == (3, 4)
    assert model.forward_net is None and model.reward_net is None  # only the heads the losses use


def test_original_custom_cnn_geometry_at_224() -> None:
    _, features, shape = build_trunk("custom_cnn", 224)
    assert features == 2304 and shape == (64, 6, 6)  # the original's 6x6x64
    decoder = Decoder("custom_cnn", 200, 224, shape)
    assert decoder.deconv(torch.zeros(1, 64, 6, 6)).shape == (1, 3, 224, 224)  # 6-13-27-55-111-224, no resize
    _, small_features, small_shape = build_trunk("cnn", 64)
    assert small_features == 1024 and small_shape == (64, 4, 4)
    assert Decoder("cnn", 8, 64, small_shape).deconv(torch.zeros(1, 64, 4, 4)).shape == (1, 3, 64, 64)


@pytest.mark.parametrize(("model_type", "layer", "size"), [("cnn", (32, 3, 8, 4, 2), 16), ("custom_cnn", (64, 3, 4, 2, 0), 13)])
def test_the_decoders_last_layer_is_a_transposed_convolution_without_onednn(model_type: str, layer: tuple[int, ...],
                                                                           size: int) -> None:
    """Same parameters, outputs and gradients as ``nn.ConvTranspose2d``; oneDNN is on again after it, even when it
    raises."""
    torch.manual_seed(0)
    last = Decoder(model_type, 8, 64, build_trunk(model_type, 64)[2]).deconv[-1]
    assert isinstance(last, ImageConvTranspose2d) and (last.in_channels, last.out_channels, last.kernel_size[0],
                                                       last.stride[0], last.padding[0]) == layer
    plain = torch.nn.ConvTranspose2d(*layer)
    plain.load_state_dict(last.state_dict())  # the same state dict: models saved before load as they were
    z = torch.randn(4, layer[0], size, size, requires_grad=True)
    z_plain = z.detach().clone().requires_grad_()
    out, out_plain = last(z), plain(z_plain)
    assert torch.backends.mkldnn.enabled
    torch.testing.assert_close(out, out_plain, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    out_plain.backward(grad)
    torch.testing.assert_close(z.grad, z_plain.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(last.weight.grad, plain.weight.grad, rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError):
        last(torch.randn(2, layer[0] + 1, size, size))
    assert torch.backends.mkldnn.enabled


def test_vae_state_is_the_mean_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = SRLModel(parse_losses(["vae"], 4), 4, image_size=32)
    x = torch.randn(5, 3, 32, 32)
    model.train()
    train = model.encode(x)
    assert not torch.allclose(train.sample, train.states)
    model.eval()
    test = model.encode(x)
    assert torch.equal(test.sample, test.states) and torch.equal(model(x), test.states)


def test_rebuild_from_exp_config_alone() -> None:
    exp = {"loss-specs": ["autoencoder:1:6", "reward:1:-1", "inverse:2:2"], "losses": ["autoencoder", "reward",
           "inverse"], "state-dim": 8, "image-size": 32, "n_actions": 4, "model-type": "cnn",
           "inverse-model-type": "mlp"}
    torch.manual_seed(0)
    model = build_model(exp).eval()
    copy = build_model(exp).eval()
    copy.load_state_dict(model.state_dict())
    x = torch.randn(4, 3, 32, 32)
    assert torch.equal(model(x), copy(x))
    assert isinstance(copy.inverse_net, torch.nn.Sequential)
    assert copy.mask("inverse").tolist() == [0.0] * 6 + [1.0] * 2


def test_bad_model_types_are_named() -> None:
    with pytest.raises(ConfigError, match="model_type='resnet' does not exist; valid model types: cnn, custom_cnn"):
        build_trunk("resnet", 64)
    with pytest.raises(ConfigError, match="vae loss needs a non-linear encoder"):
        SRLModel(parse_losses(["vae"], 4), 4, image_size=32, model_type="linear")


def test_pca_matches_an_exact_svd() -> None:
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 3 * 8 * 8))
    data = torch.tensor(rng.normal(size=(300, 3)) * [5.0, 2.0, 1.0] @ basis + 0.01 * rng.normal(size=(300, 192)),
                        dtype=torch.float32)
    pca = PCAModel(3, 8)
    pca.fit(lambda: iter(data.view(300, 3, 8, 8).split(64)), 300)
    _, _, vh = np.linalg.svd(data.numpy() - data.numpy().mean(0), full_matrices=False)
    overlap = np.abs(pca.components.numpy() @ vh[:3].T)
    assert np.allclose(np.diag(overlap), 1, atol=1e-3)
    states = pca(data.view(300, 3, 8, 8))
    assert states.shape == (300, 3) and torch.allclose(states.mean(0), torch.zeros(3), atol=1e-3)
