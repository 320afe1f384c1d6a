"""Loss lists, splits and every loss term: hand-computed values, and each loss decreasing when trained."""

from __future__ import annotations

import math

import pytest
import torch

from srl.errors import ConfigError
from srl.losses import (
    DEFAULT_WEIGHTS,
    Batch,
    LossSpec,
    compute_losses,
    inverse_loss,
    kl_divergence,
    masked_mse,
    parse_losses,
    priors_losses,
    reconstruction_loss,
    reward_classes,
    reward_loss,
    split_slices,
)
from srl.models import SRLModel

torch.set_num_threads(1)  # tiny tensors: more threads only spin, and the machine may be shared


def test_loss_lists_keep_order_and_default_weights() -> None:
    specs = parse_losses(["reward", "autoencoder", "inverse:3"], 200)
    assert [s.name for s in specs] == ["reward", "autoencoder", "inverse"]
    assert [s.weight for s in specs] == [DEFAULT_WEIGHTS["reward"], 1.0, 3.0]
    assert split_slices(specs) is None


def test_paper_splits_recipe() -> None:
    specs = parse_losses(["autoencoder:1:198", "reward:1:-1", "inverse:2:2"], 200)
    assert specs == [LossSpec("autoencoder", 1.0, 198), LossSpec("reward", 1.0, -1), LossSpec("inverse", 2.0, 2)]
    assert split_slices(specs) == {"autoencoder": (0, 198), "reward": (0, 198), "inverse": (198, 200)}
    assert [str(s) for s in specs] == ["autoencoder:1:198", "reward:1:-1", "inverse:2:2"]


@pytest.mark.parametrize("items, state_dim, message", [
    (["autoencodr"], 200, r"loss 'autoencodr' .* does not exist; valid losses: autoencoder, dae, vae"),
    (["autoencoder:1:190", "inverse:2:2"], 200, r"split dims do not add up: 190 \(autoencoder\) \+ 2 \(inverse\) "
                                                r"= 192, but state_dim=200"),
    (["reward:1:-1", "inverse:2:2"], 2, "first loss cannot share"),
    (["autoencoder:1:198", "inverse:2"], 200, "either every loss gives its split dims"),
    (["inverse", "inverse:2"], 200, "appears twice"),
    (["supervised", "inverse"], 200, "method of its own"),
    (["autoencoder", "vae"], 200, "each train a decoder"),
    (["inverse:x"], 200, "weight must be a number"),
    ([], 200, "loss list is empty"),
])
def test_bad_loss_lists_say_what_is_valid(items: list[str], state_dim: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_losses(items, state_dim)


def test_terms_on_hand_computed_examples() -> None:
    assert reconstruction_loss(torch.zeros(2), torch.tensor([1.0, 3.0])).item() == pytest.approx(5.0)
    kl = kl_divergence(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]]))
    assert kl.item() == pytest.approx(1 - math.log(2) / 2)
    assert kl_divergence(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]]),
                         torch.tensor([1.0, 0.0])).item() == pytest.approx(0.5)
    assert inverse_loss(torch.zeros(3, 4), torch.tensor([0, 1, 3])).item() == pytest.approx(math.log(4))
    assert reward_classes(torch.tensor([-1.0, 0.0, 1.0, 2.0, 0.5])).tolist() == [0, 0, 1, 1, 1]
    assert reward_loss(torch.zeros(2, 2), torch.tensor([1.0, -1.0])).item() == pytest.approx(math.log(2))
    prediction, target = torch.tensor([[1.0, 2.0, 3.0]]), torch.zeros(1, 3)
    assert masked_mse(prediction, target, torch.tensor([0.0, 1.0, 1.0])).item() == pytest.approx(6.5)
    assert masked_mse(prediction, target).item() == pytest.approx(14 / 3)


def test_robotic_priors_on_a_hand_computed_example() -> None:
    # 1-D states; ds = [1, 0, 2]; pairs (0,1) same action & different reward, (0,2) and (1,2) different actions
    terms = priors_losses(torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([[1.0], [1.0], [5.0]]),
                          torch.tensor([0, 0, 1]), torch.tensor([0.0, 1.0, 0.0]))
    assert terms["temp_coherence_loss"].item() == pytest.approx(5 / 3)
    assert terms["causality_loss"].item() == pytest.approx(math.exp(-1))
    assert terms["proportionality_loss"].item() == pytest.approx(1.0, abs=1e-3)
    assert terms["repeatability_loss"].item() == pytest.approx(math.exp(-1))
    none = priors_losses(torch.zeros(2, 1), torch.zeros(2, 1), torch.tensor([0, 1]), torch.zeros(2))
    assert none["causality_loss"].item() == 0 and none["proportionality_loss"].item() == 0
    still = torch.zeros(4, 2, requires_grad=True)  # zero motion: no NaN gradient
    sum(priors_losses(still, still * 1, torch.zeros(4, dtype=torch.long), torch.zeros(4)).values()).backward()
    assert torch.isfinite(still.grad).all()


def _batch(n: int = 16, size: int = 16, seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, 3, size, size, generator=generator)
    next_obs = obs + 0.1 * torch.randn(n, 3, size, size, generator=generator)
    actions = torch.randint(0, 4, (n,), generator=generator)
    rewards = torch.randint(-1, 2, (n,), generator=generator).float()
    truth = torch.randn(n, 2, generator=generator)
    return Batch(obs, next_obs, obs, next_obs, actions, rewards, truth)


@pytest.mark.parametrize("losses", [["autoencoder"], ["dae"], ["vae"], ["inverse"], ["forward"], ["reward"],
                                    ["priors"], ["supervised"], ["autoencoder:1:6", "reward:1:-1", "inverse:2:2"]])
def test_each_loss_decreases_when_trained(losses: list[str]) -> None:
    torch.manual_seed(0)
    state_dim = 2 if losses == ["supervised"] else 8
    model = SRLModel(parse_losses(losses, state_dim), state_dim, image_size=16, n_actions=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = _batch()
    values = []
    for _ in range(30):
        loss = sum(compute_losses(model, batch).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        values.append(loss.item())
    assert values[-1] < 0.8 * values[0], values


def test_split_heads_only_see_their_dims() -> None:
    specs = parse_losses(["dae:1:6", "reward:1:-1", "inverse:2:2"], 8)
    model = SRLModel(specs, 8, image_size=16, n_actions=4)
    assert model.mask("dae").tolist() == [1.0] * 6 + [0.0] * 2  # the original zeroed every dim of a split DAE
    assert model.mask("inverse").tolist() == [0.0] * 6 + [1.0] * 2
    assert model.mask("reward").tolist() == model.mask("dae").tolist()
    inputs = []
    model.inverse_net.register_forward_hook(lambda module, args, out: inputs.append(args[0]))
    compute_losses(model, _batch())
    s, s_next = inputs[0][:, :8], inputs[0][:, 8:]
    assert (s[:, :6] == 0).all() and (s_next[:, :6] == 0).all() and (s[:, 6:] != 0).any()
