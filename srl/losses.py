"""The SRL loss catalogue, loss lists with weights (``srl_combination``) and split state vectors (``srl_splits``).

A model is described by an ordered list of ``name``, ``name:weight`` or ``name:weight:dims`` items
(spec srl-zoo.md 1.4-1.6), e.g. the paper's SRL Splits recipe ``autoencoder:1:198 reward:1:-1 inverse:2:2`` with
``state_dim=200``: reconstruction and reward prediction act on dims 0-197, inverse dynamics on dims 198-199 (a dim
of -1 shares the previous loss's split). Each head sees the whole state vector with the dims outside its split set
to zero (masking, as the original). The total loss is the sum of weight x term.

+-------------+---------+-------------------------------------------------------------------------------------+
| name        | weight  | term                                                                                |
+=============+=========+=====================================================================================+
| autoencoder | 1       | reconstruction_loss: MSE(decoder(s_t), o_t) + MSE(decoder(s_t+1), o_t+1)             |
| dae         | 1       | the same, the encoder sees occluded images (``occlusion_percentage``)               |
| vae         | 1, beta | generation_loss as autoencoder (decoder of z ~ q), kl_loss: beta KL / pixels        |
| inverse     | 2       | inverse_loss: cross-entropy of a_t from (s_t, s_t+1)                                 |
| forward     | 1       | forward_loss: MSE(s_t + f(s_t, a_t), s_t+1) over the loss's split                    |
| reward      | 1       | reward_loss: cross-entropy of (r_t > 0) from (s_t, s_t+1)                            |
| priors      | 1       | temporal coherence, causality, proportionality, repeatability (Jonschkowski 2015)  |
| triplet     | 1       | triplet_loss: time-contrastive (Sermanet 2018) on two camera views, margin 0.2      |
| supervised  | 1       | supervised_loss: MSE(s_t, ground truth) (alone)                                     |
| pca         | -       | no gradient: principal components of the images (alone)                             |
| random      | -       | no term: the randomly initialised encoder is kept                                   |
+-------------+---------+-------------------------------------------------------------------------------------+

Multi-view models (spec 1.4.10) train on datasets whose frames stack two camera views on the channel axis (6
channels, view 1 first): every loss but ``triplet`` encodes the 6-channel stack. ``triplet`` makes the encoder an
embedding of one view (3 channels) and the state that of view 1; it needs a two-view dataset, and combines with
``inverse``, ``forward``, ``reward`` and ``priors`` (on the view-1 states), not with a decoder loss or splits (the
original's embedding net had no decoder, and its splits refused it). The original embedded with an ImageNet-
pretrained, frozen resnet18 plus two trainable layers; those weights cannot be downloaded here, so the whole
encoder (``model_type``) is trained from scratch, and the negatives are drawn with the training seed (the original
used Python's unseeded ``random``).

Bugs and quirks of the original fixed here (spec 6.3), on purpose:

* the ``priors`` weight scales its four terms (the original ignored it);
* causality's "dissimilar pairs" compare r_t of both samples (the original compared r_t+1, off by one);
* norms of zero vectors: proportionality uses sqrt(|x|^2 + 1e-8), so no NaN gradient (and no 1e-6 input noise);
* pairs are mined inside each minibatch as it is drawn; a minibatch with no pair contributes 0 to that term
  (the original rewrote minibatches before training and crashed, via a missing ``sys`` import, when it could not);
* in a split model the forward loss's target is masked like its input (the original compared with all dims);
* a DAE inside a split model decodes its own split (the original's mask looked for "autoencoder" and zeroed all);
* the loss list keeps the order given, with or without weights (the original de-duplicated bare names through a
  set, so the split order could change);
* VAE: KL (sum over dims, mean over the batch) divided by the pixel count of an image, and a mean-squared
  reconstruction, i.e. beta-VAE's ELBO scaled by 1/pixels (the original summed the squared error with weight
  0.5e-6 and the KL with weight beta over the batch, so the balance depended on batch and image size);
* reward classes are ``r > 0`` vs the rest (the original mapped -1 to 0 and cast to int, which broke on shaped
  or larger rewards).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F

from srl.errors import ConfigError

if TYPE_CHECKING:
    from srl.models import SRLModel

#: loss name -> default weight
DEFAULT_WEIGHTS: dict[str, float] = {
    "autoencoder": 1.0, "dae": 1.0, "vae": 1.0, "inverse": 2.0, "forward": 1.0, "reward": 1.0, "priors": 1.0,
    "supervised": 1.0, "pca": 1.0, "random": 1.0, "triplet": 1.0,
}
LOSS_NAMES = tuple(DEFAULT_WEIGHTS)
#: losses that train a decoder (at most one per model)
DECODER_LOSSES = ("autoencoder", "dae", "vae")


def has_decoder(names: Iterable[str]) -> bool:
    """Whether a model with these losses (names, without weights or dims) trains a decoder."""
    return any(name in DECODER_LOSSES for name in names)

#: methods that are the whole model (no other loss with them)
STANDALONE = ("supervised", "pca")
#: losses that need discrete action classes
ACTION_LOSSES = ("inverse", "forward", "priors")
PRIOR_TERMS = ("temp_coherence_loss", "causality_loss", "proportionality_loss", "repeatability_loss")
#: losses that need two camera views per frame
MULTI_VIEW_LOSSES = ("triplet",)
#: the triplet loss's margin on squared embedding distances (the original's 0.2)
TRIPLET_MARGIN = 0.2


@dataclass(frozen=True)
class LossSpec:
    """One item of a loss list.

    :param name: a name of :data:`LOSS_NAMES`.
    :param weight: its weight in the total loss.
    :param dims: split size: 0 no split, -1 shares the previous loss's split, > 0 its own split.
    """

    name: str
    weight: float
    dims: int = 0

    def __str__(self) -> str:
        weight = f"{self.weight:g}"
        return f"{self.name}:{weight}:{self.dims}" if self.dims else f"{self.name}:{weight}"


def parse_losses(items: Sequence[str], state_dim: int | None) -> list[LossSpec]:
    """Parse and check a loss list (raise :class:`ConfigError` with the valid choices on a bad item).

    :param items: ``name``, ``name:weight`` or ``name:weight:dims`` strings, in order.
    :param state_dim: the state size, which split dims must add up to.
    """
    if not items:
        raise ConfigError(f"the loss list is empty; give at least one of: {', '.join(LOSS_NAMES)}.")
    specs: list[LossSpec] = []
    for item in items:
        parts = str(item).split(":")
        name = parts[0].strip()
        if name not in DEFAULT_WEIGHTS:
            raise ConfigError(f"loss {name!r} (in {list(items)}) does not exist; valid losses: "
                              f"{', '.join(LOSS_NAMES)} (each as name, name:weight or name:weight:dims).")
        if len(parts) > 3:
            raise ConfigError(f"loss item {item!r} has too many fields; write name, name:weight or name:weight:dims.")
        try:
            weight = float(parts[1]) if len(parts) > 1 else DEFAULT_WEIGHTS[name]
            dims = int(parts[2]) if len(parts) > 2 else 0
        except ValueError:
            raise ConfigError(f"loss item {item!r}: the weight must be a number and dims an integer "
                              "(e.g. autoencoder:1:198, reward:1:-1).") from None
        if not 0 <= weight < math.inf:  # nan fails this too
            raise ConfigError(f"loss item {item!r}: the weight must be a finite number of at least 0.")
        if dims < -1:
            raise ConfigError(f"loss item {item!r}: dims must be a positive size, or -1 to share the previous split.")
        if any(spec.name == name for spec in specs):
            raise ConfigError(f"loss {name!r} appears twice in {list(items)}; list each loss once.")
        specs.append(LossSpec(name, weight, dims))
    names = [spec.name for spec in specs]
    standalone = [name for name in names if name in STANDALONE]
    if standalone and len(specs) > 1:
        raise ConfigError(f"{standalone[0]!r} is a method of its own and cannot be combined with other losses "
                          f"(got {names}).")
    decoders = [name for name in names if name in DECODER_LOSSES]
    if len(decoders) > 1:
        raise ConfigError(f"losses {' and '.join(decoders)} each train a decoder; keep one of "
                          f"{', '.join(DECODER_LOSSES)} (got {names}).")
    if "triplet" in names:
        clashing = [name for name in names if name in DECODER_LOSSES]
        if clashing or any(spec.dims for spec in specs):
            what = f"the decoder loss {clashing[0]!r}" if clashing else "split dims"
            raise ConfigError(f"the triplet loss embeds one camera view and cannot be combined with {what} (got "
                              f"{list(items)}); combine it with inverse, forward, reward or priors, without dims.")
    _check_splits(specs, state_dim, list(items))
    return specs


def check_views(specs: Sequence[LossSpec], views: int, source: str) -> None:
    """Raise :class:`ConfigError` when a loss needs more camera views than the images have.

    :param views: camera views per frame of the training images (1, or 2 for a multi-view dataset).
    :param source: what holds the images (named in the message).
    """
    needing = [spec.name for spec in specs if spec.name in MULTI_VIEW_LOSSES]
    if needing and views < 2:
        raise ConfigError(f"the {needing[0]} loss needs two camera views per frame, but {source} has {views}; "
                          "record a two-view dataset from a Kuka env with env_kwargs.multi_view=true (python -m "
                          "srl.dataset env=KukaButton +env_kwargs.multi_view=true; at RL time "
                          "env.kwargs.multi_view=true).")


def _check_splits(specs: list[LossSpec], state_dim: int | None, items: list[str]) -> None:
    with_dims = [spec for spec in specs if spec.dims != 0]
    if not with_dims:
        return
    if len(with_dims) != len(specs):
        raise ConfigError(f"loss list {items}: either every loss gives its split dims (name:weight:dims) or none "
                          "does.")
    if specs[0].dims == -1:
        raise ConfigError(f"loss list {items}: the first loss cannot share a previous split (dims -1); give it a "
                          "size.")
    total = sum(spec.dims for spec in specs if spec.dims > 0)
    if state_dim is not None and total != state_dim:
        sizes = " + ".join(f"{spec.dims} ({spec.name})" for spec in specs if spec.dims > 0)
        raise ConfigError(f"split dims do not add up: {sizes} = {total}, but state_dim={state_dim}. Make the "
                          f"positive dims sum to state_dim (e.g. state_dim={total}), with -1 to share the previous "
                          "loss's split.")


def split_slices(specs: Sequence[LossSpec]) -> dict[str, tuple[int, int]] | None:
    """Each loss's ``[start, stop)`` slice of the state vector, or None when the model has no splits."""
    if not any(spec.dims for spec in specs):
        return None
    slices: dict[str, tuple[int, int]] = {}
    start, previous = 0, (0, 0)
    for spec in specs:
        if spec.dims == -1:
            slices[spec.name] = previous
        else:
            previous = (start, start + spec.dims)
            slices[spec.name] = previous
            start += spec.dims
    return slices


# --- the terms, on tensors ----------------------------------------------------------------------------------------
def reconstruction_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every element (sum of squares / number of elements)."""
    return F.mse_loss(reconstruction, target)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the (masked) dims, mean over the batch. Shapes (B, d)."""
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    if mask is not None:
        kl = kl * mask
    return kl.sum(dim=1).mean()


def inverse_loss(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the taken actions (B,) under the inverse model's logits (B, n_actions)."""
    return F.cross_entropy(logits, actions)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over the dims in ``mask`` (all dims when None). Shapes (B, d), mask (d,)."""
    if mask is None:
        return F.mse_loss(prediction, target)
    squared = (prediction - target).pow(2) * mask
    return squared.sum() / (mask.sum() * prediction.shape[0]).clamp(min=1)


def reward_classes(rewards: torch.Tensor) -> torch.Tensor:
    """Reward classes: 1 where r > 0, else 0 (int64)."""
    return (rewards > 0).long()


def reward_loss(logits: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (r_t > 0) under the reward model's 2 logits (B, 2)."""
    return F.cross_entropy(logits, reward_classes(rewards))


def priors_losses(states: torch.Tensor, next_states: torch.Tensor, actions: torch.Tensor,
                  rewards: torch.Tensor) -> dict[str, torch.Tensor]:
    """The 4 robotic priors over the pairs (i < j) of a minibatch.

    With ds = s_t+1 - s_t and sim(x, y) = exp(-|x - y|^2): temporal coherence = mean |ds|^2; causality = mean of
    sim(s_i, s_j) over pairs with the same action and different rewards; proportionality = mean of
    (|ds_i| - |ds_j|)^2 and repeatability = mean of sim(s_i, s_j) |ds_i - ds_j|^2 over same-action pairs.
    A term without pairs is 0.

    :param states: (B, d). :param next_states: (B, d). :param actions: (B,) classes. :param rewards: (B,).
    """
    delta = next_states - states
    temp = delta.pow(2).sum(dim=1).mean()
    i, j = torch.triu_indices(len(states), len(states), offset=1, device=states.device)
    same_action = actions[i] == actions[j]
    dissimilar = same_action & (rewards[i] != rewards[j])
    similarity = torch.exp(-(states[i] - states[j]).pow(2).sum(dim=1))
    norms = torch.sqrt(delta.pow(2).sum(dim=1) + 1e-8)
    zero = states.new_zeros(())

    def mean_over(values: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        return values[pairs].mean() if bool(pairs.any()) else zero

    return {
        "temp_coherence_loss": temp,
        "causality_loss": mean_over(similarity, dissimilar),
        "proportionality_loss": mean_over((norms[i] - norms[j]).pow(2), same_action),
        "repeatability_loss": mean_over(similarity * (delta[i] - delta[j]).pow(2).sum(dim=1), same_action),
    }


def triplet_loss(anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                 margin: float = TRIPLET_MARGIN) -> torch.Tensor:
    """The time-contrastive triplet loss, mean over the batch of max(0, |a - p|^2 - |a - n|^2 + margin).

    Sermanet et al. 2018, "Time-Contrastive Networks: Self-Supervised Learning from Video" (ICRA, arXiv
    1704.06888), multi-view time-contrastive training: the anchor (view 1 at time t) must be nearer to the positive
    (view 2 at t) than to the negative (view 1 at another time of the same episode) by ``margin``, in squared
    Euclidean distance (the triplet loss of FaceNet, Schroff et al. 2015; spec srl-zoo.md 1.4: margin 0.2, no
    normalisation of the embeddings).

    :param anchors: (B, d). :param positives: (B, d). :param negatives: (B, d) embeddings.
    :return: a scalar tensor.
    """
    positive = (anchors - positives).pow(2).sum(dim=1)
    negative = (anchors - negatives).pow(2).sum(dim=1)
    return F.relu(positive - negative + margin).mean()


def supervised_loss(states: torch.Tensor, ground_truth: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predicted and true states (B, d)."""
    return F.mse_loss(states, ground_truth)


def l1_penalty(model: torch.nn.Module) -> torch.Tensor:
    """Sum of absolute values of every trainable non-bias parameter."""
    return sum(p.abs().sum() for name, p in model.named_parameters() if p.requires_grad and "bias" not in name)


def l2_penalty(model: torch.nn.Module) -> torch.Tensor:
    """Mean over trainable non-bias parameter tensors of their L2 norm (not squared), as the original."""
    norms = [p.norm() for name, p in model.named_parameters() if p.requires_grad and "bias" not in name]
    return torch.stack(norms).mean()


# --- a minibatch through a model ----------------------------------------------------------------------------------
class Batch(NamedTuple):
    """A minibatch of transitions (o_t, a_t, r_t, o_t+1); images preprocessed, shape (B, 3 V, S, S) for V camera
    views (view 1 in channels 0-2).

    ``obs_in``/``next_obs_in`` are what the encoder sees (occluded for the DAE, else the clean images).
    ``ground_truth`` (B, d_gt) is the supervised target. ``negatives`` (B, 3, S, S), for the triplet loss only: view 1
    of another frame of each o_t's episode (:meth:`srl.data.SRLDataset.negative_frames`).
    """

    obs: torch.Tensor
    next_obs: torch.Tensor
    obs_in: torch.Tensor
    next_obs_in: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    ground_truth: torch.Tensor
    negatives: torch.Tensor | None = None


def compute_losses(model: SRLModel, batch: Batch, l1_reg: float = 0.0, l2_reg: float = 0.0
                   ) -> dict[str, torch.Tensor]:
    """Every weighted term of ``model``'s losses on ``batch`` (keys: the logged names); their sum is the loss."""
    terms: dict[str, torch.Tensor] = {}
    batch_size = len(batch.obs)
    if model.losses[0].name == "supervised":
        states = model(batch.obs_in)
        terms["supervised_loss"] = model.losses[0].weight * supervised_loss(states, batch.ground_truth)
        return _regularise(terms, model, l1_reg, l2_reg)
    positives = negatives = None
    if model.time_contrastive:  # one pass, so that BatchNorm normalises the views with the same statistics
        if batch.negatives is None:
            raise ValueError("the triplet loss needs the batch's negatives (Batch.negatives).")
        views = model.embed(torch.cat([model.first_view(batch.obs_in), model.first_view(batch.next_obs_in),
                                       model.second_view(batch.obs_in), batch.negatives]))
        states, next_states, positives, negatives = views.split(batch_size)
        encoded = None  # parse_losses keeps the VAE, which needs the encoder's other outputs, away from triplet
    else:
        encoded = model.encode(torch.cat([batch.obs_in, batch.next_obs_in]))
        states, next_states = encoded.states[:batch_size], encoded.states[batch_size:]
    for spec in model.losses:
        mask = model.mask(spec.name)
        s = states if mask is None else states * mask
        s_next = next_states if mask is None else next_states * mask
        if spec.name in ("autoencoder", "dae"):
            decoded = model.decode(torch.cat([s, s_next]))
            terms["reconstruction_loss"] = spec.weight * 2 * reconstruction_loss(
                decoded, torch.cat([batch.obs, batch.next_obs]))
        elif spec.name == "vae":
            assert encoded is not None
            z = encoded.sample if mask is None else encoded.sample * mask
            decoded = model.decode(z)
            terms["generation_loss"] = spec.weight * 2 * reconstruction_loss(
                decoded, torch.cat([batch.obs, batch.next_obs]))
            kl = kl_divergence(encoded.states, encoded.logvar, mask) * 2 / model.pixels_per_image
            terms["kl_loss"] = model.beta * kl
        elif spec.name == "inverse":
            terms["inverse_loss"] = spec.weight * inverse_loss(model.inverse_net(torch.cat([s, s_next], 1)),
                                                               batch.actions)
        elif spec.name == "forward":
            prediction = s + model.forward_net(torch.cat([s, model.one_hot(batch.actions)], 1))
            terms["forward_loss"] = spec.weight * masked_mse(prediction, s_next, mask)
        elif spec.name == "reward":
            terms["reward_loss"] = spec.weight * reward_loss(model.reward_net(torch.cat([s, s_next], 1)),
                                                             batch.rewards)
        elif spec.name == "priors":
            for name, value in priors_losses(s, s_next, batch.actions, batch.rewards).items():
                terms[name] = spec.weight * value
        elif spec.name == "triplet":
            terms["triplet_loss"] = spec.weight * triplet_loss(states, positives, negatives)
    return _regularise(terms, model, l1_reg, l2_reg)


def _regularise(terms: dict[str, torch.Tensor], model: torch.nn.Module, l1_reg: float,
                l2_reg: float) -> dict[str, torch.Tensor]:
    if l1_reg > 0:
        terms["l1_loss"] = l1_reg * l1_penalty(model)
    if l2_reg > 0:
        terms["l2_loss"] = l2_reg * l2_penalty(model)
    return terms
