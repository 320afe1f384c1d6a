"""K-FAC: Kronecker-factored approximate curvature, the natural-gradient optimizer of ACKTR.

References:

* Martens & Grosse 2015, "Optimizing Neural Networks with Kronecker-factored Approximate Curvature",
  https://arxiv.org/abs/1503.05671 (fully connected layers).
* Grosse & Martens 2016, "A Kronecker-factored approximate Fisher matrix for convolution layers",
  https://arxiv.org/abs/1602.01407 (KFC: convolutions, spatially uncorrelated and homogeneous derivatives).
* Wu et al. 2017, "Scalable trust-region method for deep reinforcement learning using Kronecker-factored
  approximation" (ACKTR), https://arxiv.org/abs/1708.05144 (the trust-region step size, Sec. 3.2).

For a layer ``s = W a`` (bias folded in as a last input column of ones), the Fisher block of ``W`` is approximated by
``F ~ G (x) A`` with ``A = E[a a^T]`` (input activations) and ``G = E[g g^T]`` (``g = dlog p / ds``, gradients of the
log-likelihood of targets sampled from the model's own predictive distribution). Then
``F^-1 vec(dW) = vec(G^-1 dW A^-1)``, computed in the factors' eigenbases with Tikhonov damping ``lambda``:
``(G (x) A + lambda I)^-1``. Vectors are row-major ``vec`` of ``(out, in [+ 1])`` gradient matrices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch as th
from torch import nn
from torch.nn import functional as F

#: layer types that get a Kronecker-factored Fisher block; every other parameter uses the plain gradient
KFAC_LAYERS = (nn.Linear, nn.Conv2d)


def _supported(module: nn.Module) -> bool:
    """Linear layers, and Conv2d layers without groups whose padding is given as numbers (zeros padding)."""
    if isinstance(module, nn.Linear):
        return True
    if isinstance(module, nn.Conv2d):
        return module.groups == 1 and module.padding_mode == "zeros" and not isinstance(module.padding, str)
    return False


def _activation_matrix(module: nn.Module, inputs: th.Tensor) -> th.Tensor:
    """Rows of layer inputs ``a`` (with a trailing 1 for the bias), shape ``(rows, in [+ 1])``.

    Linear: one row per sample (extra leading dimensions are treated like positions). Conv2d: one row per sample and
    output position, i.e. the unfolded input patches ``(N * H_out * W_out, C_in * kh * kw [+ 1])``, ordered like
    ``weight.view(C_out, -1)``.
    """
    if isinstance(module, nn.Conv2d):
        patches = F.unfold(
            inputs, module.kernel_size, dilation=module.dilation, padding=module.padding, stride=module.stride
        )  # (N, C_in * kh * kw, positions)
        rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
    else:
        rows = inputs.reshape(-1, inputs.shape[-1])
    if module.bias is not None:
        rows = th.cat([rows, rows.new_ones(rows.shape[0], 1)], dim=1)
    return rows


def _output_grad_matrix(module: nn.Module, output_grads: th.Tensor) -> th.Tensor:
    """Rows of gradients w.r.t. the layer's pre-activations ``s``, shape ``(rows, out)``, row order as the inputs."""
    if isinstance(module, nn.Conv2d):
        return output_grads.permute(0, 2, 3, 1).reshape(-1, output_grads.shape[1])
    return output_grads.reshape(-1, output_grads.shape[-1])


class KFAC(th.optim.Optimizer):
    """K-FAC natural-gradient descent with ACKTR's KL trust region, as a ``torch.optim.Optimizer``.

    Use it in two phases per update:

    1. inside ``with optimizer.record_statistics():`` run a forward pass and ``backward()`` of a *Fisher loss*: the mean
       over the batch of ``-log p(y~ | x)`` with ``y~`` sampled from the model (e.g. sampled actions for a policy,
       ``V + N(0, 1)`` targets for a value function). The hooks record each layer's inputs and output gradients and,
       on leaving the block, fold ``A`` and ``G`` of the batch into running averages;
    2. compute the real loss, ``backward()``, then ``step()``: gradients of Linear/Conv2d layers are preconditioned with
       ``(G (x) A + damping I)^-1``, other parameters keep their gradient (identity Fisher).

    The step is ``theta <- theta - lr * m`` with heavy-ball momentum ``m <- momentum * m + nu * Delta``, where ``Delta``
    is the preconditioned gradient and ``nu = min(1, sqrt(kl_clip / (lr^2 * grad^T Delta)))`` keeps the quadratic model
    of the step's squared Fisher norm ``lr^2 Delta^T F Delta`` (twice the KL divergence it causes) below ``kl_clip``.
    This is ACKTR's ``eta = min(eta_max, sqrt(2 delta / (Delta^T F Delta)))`` with ``eta_max = lr`` and
    ``2 delta = kl_clip``.

    Factors: ``A = mean over rows of a a^T`` and ``G = sum over positions, mean over samples of g g^T``, where ``g`` is
    the per-sample gradient. The Fisher loss must be a *mean* over the batch, so per-sample gradients are the recorded
    output gradients times the batch size. For Conv2d this is the KFC approximation ``F ~ (|T| G_avg) (x) A_avg``.
    A layer should run once per recorded forward pass (or several times on the same input, e.g. a trunk shared by two
    heads: its output gradients are then summed).

    The factors live in ``state[layer.weight]`` (``kfac_A`` ``(in [+ 1], in [+ 1])`` and ``kfac_G`` ``(out, out)``), so
    ``state_dict()`` saves them; eigendecompositions are recomputed every ``update_freq`` steps and after loading.

    :param model: module whose parameters are optimised; its Linear and Conv2d layers (Conv2d without groups and with
        numeric padding) get Kronecker-factored blocks.
    :param lr: step size (``eta_max``).
    :param momentum: heavy-ball momentum coefficient (0 disables it).
    :param stat_decay: running-average coefficient of the factors, ``A <- stat_decay * A + (1 - stat_decay) * A_batch``
        (the first batch initialises them).
    :param damping: Tikhonov damping ``lambda`` added to the Kronecker product's eigenvalues.
    :param kl_clip: trust-region bound on ``lr^2 Delta^T F Delta`` (unitless, in nats times 2).
    :param update_freq: recompute the factors' eigendecompositions every ``update_freq`` calls to ``step()``.
    """

    def __init__(
        self,
        model: nn.Module,
        lr: float = 0.25,
        momentum: float = 0.9,
        stat_decay: float = 0.99,
        damping: float = 0.01,
        kl_clip: float = 0.001,
        update_freq: int = 1,
    ) -> None:
        if lr < 0 or not 0 <= momentum < 1 or not 0 <= stat_decay < 1:
            raise ValueError(f"Need lr >= 0, 0 <= momentum < 1 and 0 <= stat_decay < 1; got {lr}, {momentum}, {stat_decay}.")
        if damping <= 0 or kl_clip <= 0 or update_freq < 1:
            raise ValueError(f"Need damping > 0, kl_clip > 0 and update_freq >= 1; got {damping}, {kl_clip}, {update_freq}.")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            stat_decay=stat_decay,
            damping=damping,
            kl_clip=kl_clip,
            update_freq=update_freq,
            kfac_steps=0,
        )
        super().__init__(model.parameters(), defaults)
        self.layers: list[nn.Module] = [m for m in model.modules() if _supported(m)]
        self._recording = False
        self._inputs: dict[nn.Module, th.Tensor] = {}
        self._output_grads: dict[nn.Module, th.Tensor] = {}
        self._eigen: dict[nn.Module, tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor]] = {}
        #: ``nu`` (trust-region scaling, 1 when the clip is inactive) and ``lr^2 grad^T Delta`` of the last step
        self.last_step_info: dict[str, float] = {}
        self._hook_handles = [layer.register_forward_hook(self._forward_hook) for layer in self.layers]

    # ------------------------------------------------------------------ statistics

    def _forward_hook(self, module: nn.Module, inputs: tuple[th.Tensor, ...], output: th.Tensor) -> None:
        """While recording: keep the layer's input and hook its output to catch the gradient w.r.t. it."""
        if not self._recording:
            return
        self._inputs.setdefault(module, inputs[0].detach())
        if output.requires_grad:
            output.register_hook(lambda grad, module=module: self._grad_hook(module, grad))

    def _grad_hook(self, module: nn.Module, grad: th.Tensor) -> None:
        """While recording: accumulate the gradient w.r.t. the layer's output (pre-activation)."""
        if not self._recording:
            return
        previous = self._output_grads.get(module)
        self._output_grads[module] = grad.detach() if previous is None else previous + grad.detach()

    @contextmanager
    def record_statistics(self) -> Iterator[None]:
        """Record layer inputs and output gradients of the forward and backward passes run inside the block.

        On a normal exit, each layer's ``A`` and ``G`` of the batch are folded into the running factors.
        """
        self._inputs.clear()
        self._output_grads.clear()
        self._recording = True
        try:
            yield
        finally:
            self._recording = False
        self._update_factors()
        self._inputs.clear()
        self._output_grads.clear()

    @th.no_grad()
    def _update_factors(self) -> None:
        """Fold the recorded batch's ``A`` and ``G`` into each layer's running factors."""
        decay = self.param_groups[0]["stat_decay"]
        for layer in self.layers:
            if layer not in self._inputs or layer not in self._output_grads:
                continue
            inputs, output_grads = self._inputs[layer], self._output_grads[layer]
            batch_size = inputs.shape[0]
            a = _activation_matrix(layer, inputs)
            g = _output_grad_matrix(layer, output_grads) * batch_size  # per-sample gradients of a mean loss
            a_batch = a.T @ a / a.shape[0]
            g_batch = g.T @ g / batch_size
            state = self.state[layer.weight]
            if "kfac_A" not in state:
                state["kfac_A"], state["kfac_G"] = a_batch, g_batch
            else:
                state["kfac_A"].mul_(decay).add_(a_batch, alpha=1 - decay)
                state["kfac_G"].mul_(decay).add_(g_batch, alpha=1 - decay)

    def factors(self, layer: nn.Module) -> tuple[th.Tensor, th.Tensor] | None:
        """The running factors ``(A, G)`` of ``layer``, or None before its first recorded batch."""
        state = self.state.get(layer.weight, {})
        if "kfac_A" not in state:
            return None
        return state["kfac_A"], state["kfac_G"]

    # ------------------------------------------------------------------ step

    def _refresh_eigen(self, layer: nn.Module) -> None:
        """Eigendecompose the layer's current factors (clipping rounding-negative eigenvalues to 0)."""
        factors = self.factors(layer)
        if factors is None:
            return
        eig_a, basis_a = th.linalg.eigh(factors[0])
        eig_g, basis_g = th.linalg.eigh(factors[1])
        self._eigen[layer] = (eig_a.clamp_(min=0.0), basis_a, eig_g.clamp_(min=0.0), basis_g)

    def _precondition(self, layer: nn.Module, damping: float) -> dict[nn.Parameter, th.Tensor]:
        """``(G (x) A + damping I)^-1 vec(grad)`` for the layer's weight (and bias), as tensors shaped like them."""
        weight, bias = layer.weight, layer.bias
        grad = weight.grad.reshape(weight.shape[0], -1)
        if bias is not None:
            bias_grad = bias.grad if bias.grad is not None else th.zeros_like(bias)
            grad = th.cat([grad, bias_grad.reshape(-1, 1)], dim=1)
        eig_a, basis_a, eig_g, basis_g = self._eigen[layer]
        rotated = basis_g.T @ grad @ basis_a
        rotated = rotated / (eig_g[:, None] * eig_a[None, :] + damping)
        natural = basis_g @ rotated @ basis_a.T
        result = {weight: natural[:, : grad.shape[1] - (bias is not None)].reshape_as(weight)}
        if bias is not None:
            result[bias] = natural[:, -1].reshape_as(bias)
        return result

    @th.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Take one clipped, preconditioned step from the current ``.grad`` of the parameters."""
        loss = None
        if closure is not None:
            with th.enable_grad():
                loss = closure()
        group = self.param_groups[0]
        lr, momentum, damping = group["lr"], group["momentum"], group["damping"]
        refresh_all = group["kfac_steps"] % group["update_freq"] == 0

        natural: dict[nn.Parameter, th.Tensor] = {}
        for layer in self.layers:
            if layer.weight.grad is None or self.factors(layer) is None:
                continue
            if refresh_all or layer not in self._eigen:
                self._refresh_eigen(layer)
            natural.update(self._precondition(layer, damping))
        for param in group["params"]:
            if param.grad is not None and param not in natural:
                natural[param] = param.grad  # identity Fisher for parameters outside Linear/Conv2d layers

        # ACKTR trust region (Wu et al. 2017, Sec. 3.2): lr^2 Delta^T F Delta ~ lr^2 grad^T Delta <= kl_clip
        grad_dot_natural = sum(float((natural[p] * p.grad).sum()) for p in natural)
        squared_fisher_norm = lr**2 * grad_dot_natural
        nu = min(1.0, math.sqrt(group["kl_clip"] / squared_fisher_norm)) if squared_fisher_norm > 0 else 1.0

        for param, direction in natural.items():
            update = direction * nu
            if momentum > 0:
                state = self.state[param]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = update.clone()
                else:
                    state["momentum_buffer"].mul_(momentum).add_(update)
                update = state["momentum_buffer"]
            param.add_(update, alpha=-lr)
        group["kfac_steps"] += 1
        self.last_step_info = {"nu": nu, "squared_fisher_norm": squared_fisher_norm}
        return loss

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load factors and momentum; eigendecompositions are recomputed at the next step."""
        super().load_state_dict(state_dict)
        self._eigen.clear()

    def remove_hooks(self) -> None:
        """Detach the recording hooks from the model's layers."""
        for handle in self._hook_handles:
            handle.remove()
        self._hook_handles.clear()
