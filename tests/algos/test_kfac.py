"""K-FAC: Kronecker factors of Linear and Conv2d layers, exact natural gradient on a tiny model, trust region."""

import itertools

import pytest
import torch as th
from torch import nn
from torch.nn import functional as F

from rlzoo.common.kfac import KFAC


def record(optimizer: KFAC, model: nn.Module, inputs: th.Tensor, output_grads: th.Tensor) -> None:
    """Record a Fisher loss whose per-sample output gradients are ``output_grads`` (its mean over the batch)."""
    with optimizer.record_statistics():
        outputs = model(inputs)
        optimizer.zero_grad()
        (outputs * output_grads).flatten(1).sum(dim=1).mean().backward()


def test_linear_factors():
    th.manual_seed(0)
    layer = nn.Linear(5, 3)
    optimizer = KFAC(layer)
    inputs, output_grads = th.randn(7, 5), th.randn(7, 3)
    record(optimizer, layer, inputs, output_grads)
    a_factor, g_factor = optimizer.factors(layer)
    assert a_factor.shape == (6, 6) and g_factor.shape == (3, 3)
    inputs_with_one = th.cat([inputs, th.ones(7, 1)], dim=1)
    th.testing.assert_close(a_factor, inputs_with_one.T @ inputs_with_one / 7)
    th.testing.assert_close(g_factor, output_grads.T @ output_grads / 7)


def test_conv2d_factors():
    th.manual_seed(0)
    layer = nn.Conv2d(2, 4, kernel_size=3, stride=1, padding=1)
    optimizer = KFAC(layer)
    inputs, output_grads = th.randn(5, 2, 6, 6), th.randn(5, 4, 6, 6)
    record(optimizer, layer, inputs, output_grads)
    a_factor, g_factor = optimizer.factors(layer)
    assert a_factor.shape == (2 * 3 * 3 + 1, 2 * 3 * 3 + 1) and g_factor.shape == (4, 4)
    # A: mean over samples and output positions of the (zero-padded) input patch outer products
    padded = F.pad(inputs, (1, 1, 1, 1))
    patches = th.stack(
        [
            th.cat([padded[n, :, i : i + 3, j : j + 3].reshape(-1), th.ones(1)])
            for n in range(5)
            for i in range(6)
            for j in range(6)
        ]
    )
    th.testing.assert_close(a_factor, patches.T @ patches / len(patches))
    # G: sum over the 36 positions, mean over samples (Grosse & Martens' |T| * E[g g^T])
    grads_by_position = output_grads.permute(0, 2, 3, 1).reshape(-1, 4)
    th.testing.assert_close(g_factor, grads_by_position.T @ grads_by_position / 5)


def test_running_average_of_factors():
    layer = nn.Linear(2, 1, bias=False)
    optimizer = KFAC(layer, stat_decay=0.9)
    record(optimizer, layer, th.tensor([[1.0, 0.0]]), th.ones(1, 1))
    record(optimizer, layer, th.tensor([[0.0, 1.0]]), th.ones(1, 1))
    th.testing.assert_close(optimizer.factors(layer)[0], th.tensor([[0.9, 0.0], [0.0, 0.1]]))


def exact_fisher(layer: nn.Linear, inputs: th.Tensor, output_grads: th.Tensor) -> th.Tensor:
    """Empirical Fisher ``mean_n vec(grad_n) vec(grad_n)^T`` from per-sample gradients computed one by one."""
    per_sample = []
    for x, e in zip(inputs, output_grads):
        layer.zero_grad()
        (layer(x[None]) * e).sum().backward()
        per_sample.append(th.cat([layer.weight.grad, layer.bias.grad[:, None]], dim=1).reshape(-1))
    vectors = th.stack(per_sample)
    return vectors.T @ vectors / len(vectors)


def test_preconditioned_gradient_is_the_exact_natural_gradient():
    """On one linear layer, with inputs and sampled output gradients independent, F = G (x) A exactly."""
    th.manual_seed(0)
    layer = nn.Linear(2, 2).double()
    xs = th.tensor([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2]], dtype=th.float64)
    es = th.tensor([[1.0, -0.4], [0.2, 1.5], [-0.8, 0.3]], dtype=th.float64)
    # every input with every output gradient: the empirical distribution of (x, e) is a product
    inputs = th.stack([x for x, _ in itertools.product(xs, es)])
    output_grads = th.stack([e for _, e in itertools.product(xs, es)])
    damping = 0.05
    fisher = exact_fisher(layer, inputs, output_grads) + damping * th.eye(6, dtype=th.float64)

    optimizer = KFAC(layer, lr=1.0, momentum=0.0, damping=damping, kl_clip=1e9)
    record(optimizer, layer, inputs, output_grads)
    optimizer.zero_grad()
    F.mse_loss(layer(th.randn(4, 2, dtype=th.float64)), th.randn(4, 2, dtype=th.float64)).backward()
    gradient = th.cat([layer.weight.grad, layer.bias.grad[:, None]], dim=1).reshape(-1)
    before = th.cat([layer.weight.detach(), layer.bias.detach()[:, None]], dim=1).reshape(-1).clone()
    optimizer.step()
    after = th.cat([layer.weight.detach(), layer.bias.detach()[:, None]], dim=1).reshape(-1)

    natural_gradient = th.linalg.solve(fisher, gradient)
    th.testing.assert_close(before - after, natural_gradient, rtol=1e-9, atol=1e-12)
    assert not th.allclose(natural_gradient, gradient)


def test_trust_region_scales_the_step_to_kl_clip():
    th.manual_seed(0)
    layer = nn.Linear(3, 2).double()
    inputs, output_grads = th.randn(32, 3, dtype=th.float64), th.randn(32, 2, dtype=th.float64)
    damping, lr, kl_clip = 0.1, 0.5, 1e-4
    fisher = exact_fisher(layer, inputs, output_grads)
    optimizer = KFAC(layer, lr=lr, momentum=0.0, damping=damping, kl_clip=kl_clip)
    record(optimizer, layer, inputs, output_grads)
    a_factor, g_factor = optimizer.factors(layer)
    kfac_fisher = th.kron(g_factor, a_factor) + damping * th.eye(8, dtype=th.float64)
    assert not th.allclose(kfac_fisher - damping * th.eye(8, dtype=th.float64), fisher)  # only an approximation here

    optimizer.zero_grad()
    (layer(inputs) ** 2).mean().backward()
    before = th.cat([layer.weight.detach(), layer.bias.detach()[:, None]], dim=1).reshape(-1).clone()
    optimizer.step()
    step = before - th.cat([layer.weight.detach(), layer.bias.detach()[:, None]], dim=1).reshape(-1)
    assert optimizer.last_step_info["nu"] < 1.0
    # the clipped step has squared Fisher norm kl_clip under the damped K-FAC Fisher
    assert float(step @ kfac_fisher @ step) == pytest.approx(kl_clip, rel=1e-6)


def test_factors_are_in_the_state_dict():
    layer = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    optimizer = KFAC(layer)
    record(optimizer, layer, th.randn(8, 3), th.randn(8, 2))
    optimizer.zero_grad()
    layer(th.randn(8, 3)).sum().backward()
    optimizer.step()
    clone = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    clone.load_state_dict(layer.state_dict())
    restored = KFAC(clone)
    restored.load_state_dict(optimizer.state_dict())
    for original_layer, restored_layer in zip(optimizer.layers, restored.layers):
        for original, loaded in zip(optimizer.factors(original_layer), restored.factors(restored_layer)):
            th.testing.assert_close(original, loaded)
    assert restored.param_groups[0]["kfac_steps"] == 1
