"""Several seeds of one palindrome configuration trained together, as one batched ensemble.

A sweep trains the same model on the same length with several seeds. Each step of one run is a handful of
small matrix products (a batch of 128 times 128 hidden units), where the time goes into dispatching the
operations rather than into arithmetic; S seeds side by side cost little more than one. :func:`train_seeds`
therefore stacks the S models' weights along a new first dimension (``torch.func.stack_module_state``) and
runs the models' equations on the stack, batched by hand: every product of a step is one batched product
(``torch.baddbmm``) for all seeds. (``torch.func.vmap`` over the model's own ``forward`` computes the same, but
was slower here than separate runs: it splits each fused ``addmm`` into a ``bmm`` on strided operands and an
``add``.) On CUDA the same code runs all seeds on one GPU.

Each seed's run is the same computation as :func:`gnnhw.recurrent.train.train` of its config, so the results
agree within floating-point rounding (``tests/recurrent/test_ensemble.py`` checks it in float64):

- weights: seed s's initial weights are drawn as :func:`~gnnhw.recurrent.train.build` draws them;
- data: seed s draws its batches from its own training generator and is tested on its own test set
  (:func:`~gnnhw.recurrent.palindrome.train_test_generators`);
- loss: the sum over seeds of each seed's mean cross-entropy, so seed s's gradient is that of its own loss;
- clipping: each seed's gradient is clipped to ``max_norm`` by its own global norm, as
  ``torch.nn.utils.clip_grad_norm_`` does for one model (one norm over all seeds would couple them);
- optimizer: Adam, RMSprop and SGD (with momentum) update element by element, so one optimizer over the
  stacked weights keeps independent per-seed state;
- early stop: a seed stops when its own recent training accuracy reaches the goal; its weights are taken
  out of the stack then (with its optimizer state), and the others go on.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from gnnhw._utils import resolve_device
from gnnhw.checks import check_training_finite
from gnnhw.errors import ConfigError
from gnnhw.recurrent.palindrome import palindrome_batch, train_test_generators
from gnnhw.recurrent.train import PalindromeConfig, PalindromeResult, build, evaluate, make_optimizer, train


def _project(params: dict[str, Tensor], x: Tensor) -> tuple[Tensor, ...]:
    """W_x x_t + b for every seed and time step at once: (S, B, T, D) -> T tensors (S, B, G*H), time-major so
    each step's slice is one contiguous block per seed."""
    count, batch, steps, features = x.shape
    x = x.transpose(1, 2).reshape(count, steps * batch, features)  # (S, T*B, D), time-major
    weight, bias = params["cell.weight_ih"], params["cell.bias"]  # (S, G*H, D), (S, G*H)
    projected = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))  # (S, T*B, G*H): one product
    return projected.view(count, steps, batch, -1).unbind(1)


def _output(params: dict[str, Tensor], h: Tensor) -> Tensor:
    """p = W_ph h_T + b_p for every seed: (S, B, H) -> (S, B, C)."""
    return torch.baddbmm(params["bias_p"].unsqueeze(1), h, params["weight_ph"].transpose(1, 2))


def _rnn_forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
    """:class:`~gnnhw.recurrent.models.VanillaRNN`'s forward for S stacked models: (S, B, T, D) -> (S, B, C).

    The same operations as the model's, one batched product for all seeds where it has one product; h_0 = 0
    (the product W_hh h_0 is skipped, except for a one-step sequence, as the model does).
    """
    xs = _project(params, x)
    w_hh = params["cell.weight_hh"].transpose(1, 2)  # (S, H, H): W_hh^T
    h = xs[0].new_zeros(*xs[0].shape[:2], w_hh.shape[1]) if len(xs) == 1 else None
    for x_t in xs:
        h = torch.tanh(x_t if h is None else torch.baddbmm(x_t, h, w_hh))  # h_t = tanh(W_hx x_t + b_h + W_hh h_{t-1})
    assert h is not None
    return _output(params, h)


def _lstm_forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
    """:class:`~gnnhw.recurrent.models.LSTM`'s forward for S stacked models: (S, B, T, D) -> (S, B, C).

    The cell's equations (:class:`~gnnhw.recurrent.cells.LSTMCell`, gates in torch's order i, f, g, o), with one
    batched product for the four gates of all seeds per step.
    """
    xs = _project(params, x)
    w_hh = params["cell.weight_hh"].transpose(1, 2)  # (S, H, 4H): [W_ih; W_fh; W_gh; W_oh]^T
    zeros = xs[0].new_zeros(*xs[0].shape[:2], w_hh.shape[1]) if len(xs) == 1 else None
    h, c = zeros, zeros
    for x_t in xs:
        gates = x_t if h is None else torch.baddbmm(x_t, h, w_hh)  # (S, B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = g * i if c is None else torch.addcmul(g * i, c, f)  # c_t = g ⊙ i + c_{t-1} ⊙ f
        h = torch.tanh(c) * o  # h_t = tanh(c_t) ⊙ o
    assert h is not None
    return _output(params, h)


def _check_group(configs: Sequence[PalindromeConfig]) -> None:
    if not configs:
        raise ConfigError("train_seeds needs at least one config")
    first = dataclasses.replace(configs[0], seed=0)
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"train_seeds needs distinct seeds, got {seeds}")
    for config in configs:
        config.validate()
        if dataclasses.replace(config, seed=0) != first:
            raise ConfigError(
                f"train_seeds trains configs that differ only in their seed; seed {config.seed}'s differs in "
                "another field: train it separately"
            )


class _SeedLog:
    """One seed's bookkeeping, as :func:`~gnnhw.recurrent.train.train` keeps it: curves and early stop."""

    def __init__(self, config: PalindromeConfig) -> None:
        self.config = config
        self.result = PalindromeResult(config, test_accuracy=float("nan"), steps=0, seconds=0.0, stopped_early=False)
        self.recent: list[float] = []
        self.loss_sum = 0.0
        self.acc_sum = 0.0
        self.run = f"{config.model} T={config.length} seed={config.seed}, {config.optimizer} lr {config.lr:g}"

    def record(self, step: int, loss: float, accuracy: float) -> bool:
        """Log one step; True when the seed stops here (early stop, or its last step)."""
        config, result = self.config, self.result
        check_training_finite(step, loss, run=self.run, fix=_FIX)
        self.loss_sum += loss
        self.acc_sum += accuracy
        self.recent.append(accuracy)
        if len(self.recent) > config.early_stop_window:
            self.recent.pop(0)
        if step % config.log_every == 0 or step == config.train_steps:
            self._point(step)
        result.steps = step
        if (
            config.early_stop_accuracy is not None
            and len(self.recent) == config.early_stop_window
            and sum(self.recent) / len(self.recent) >= config.early_stop_accuracy
        ):
            result.stopped_early = step < config.train_steps
            return True
        return step == config.train_steps

    def _point(self, step: int) -> None:
        result = self.result
        count = step - (result.curve_steps[-1] if result.curve_steps else 0)
        result.curve_steps.append(step)
        result.train_loss.append(self.loss_sum / count)
        result.train_accuracy.append(self.acc_sum / count)
        self.loss_sum = self.acc_sum = 0.0

    def finish(self) -> None:
        """The tail of the curves since the last logged point."""
        if not self.result.curve_steps or self.result.curve_steps[-1] != self.result.steps:
            self._point(self.result.steps)


_FIX = "lower the learning rate or the clipping norm"


def _clip_per_seed(grads: list[Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` for each seed on its own: scale seed s's gradients (slice s of every stacked
    gradient (S, ...)) by min(1, max_norm / (||g_s|| + 1e-6)), ||g_s|| the global L2 norm of its gradients."""
    count = grads[0].shape[0]
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(count, -1), 2, dim=1) for g in grads])  # (P, S)
    total = torch.linalg.vector_norm(norms, 2, dim=0)  # (S,)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)  # torch's clip_grad_norm_ formula
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))


def _keep_rows(
    params: dict[str, Tensor], optimizer: torch.optim.Optimizer, keep: list[int], config: PalindromeConfig
) -> tuple[dict[str, Tensor], torch.optim.Optimizer]:
    """The stacked weights and optimizer of the seeds at rows ``keep`` only (the others stopped)."""
    index = torch.tensor(keep, device=next(iter(params.values())).device)
    new = {name: p.detach()[index].requires_grad_() for name, p in params.items()}
    new_optimizer = make_optimizer(config.optimizer, list(new.values()), config.lr, config.momentum)
    for old_p, new_p in zip(params.values(), new.values(), strict=True):
        state = optimizer.state.get(old_p)
        if state:
            new_optimizer.state[new_p] = {
                key: value[index] if isinstance(value, Tensor) and value.shape == old_p.shape else value
                for key, value in state.items()
            }
    return new, new_optimizer


def train_seeds(configs: Sequence[PalindromeConfig]) -> list[PalindromeResult]:
    """Train ``configs``, which differ only in their seed, as one batched ensemble; one result per config.

    Each result is what :func:`gnnhw.recurrent.train.train` returns for that config (same weights, curves,
    steps, early stop and test accuracy, within floating-point rounding), with ``model`` the seed's trained
    model; ``seconds`` is the ensemble's wall time until that seed's test accuracy was known. Configs with
    ``impl="reference"`` (``torch.nn.RNN``/``LSTM``, whose fused kernels take no stacked weights) are trained one
    after another with ``train``.

    Raises:
        ConfigError: no config, repeated seeds, configs that differ in more than the seed, or a bad field.
        DivergedError: a seed's loss or weights became non-finite (naming the seed).

    >>> from gnnhw.recurrent.config import PalindromeConfig
    >>> base = PalindromeConfig(model="rnn", length=4, hidden_size=8, batch_size=4, train_steps=3, test_size=10)
    >>> [r.steps for r in train_seeds([dataclasses.replace(base, seed=s) for s in (0, 1)])]
    [3, 3]
    """
    _check_group(configs)
    first = configs[0]
    if first.impl != "scratch":
        return [train(config) for config in configs]
    device = resolve_device(first.device)
    start = time.perf_counter()
    models = [build(config).to(device) for config in configs]  # each drawn from torch.manual_seed(its seed)
    stacked, _ = torch.func.stack_module_state(models)  # {name: (S, ...)}, leaves that require grad
    params: dict[str, Tensor] = {name: p.detach().clone().requires_grad_() for name, p in stacked.items()}
    forward = _lstm_forward if first.model == "lstm" else _rnn_forward
    generators = [train_test_generators(config.seed) for config in configs]
    logs = [_SeedLog(config) for config in configs]
    optimizer = make_optimizer(first.optimizer, list(params.values()), first.lr, first.momentum)
    active = list(range(len(configs)))  # the configs whose weights are the rows of `params`, in order
    for step in range(1, first.train_steps + 1):
        batches = [palindrome_batch(first.length, first.batch_size, generators[i][0], first.input_size) for i in active]
        x = torch.stack([b[0] for b in batches]).to(device)  # (S, B, T-1, D)
        y = torch.stack([b[1] for b in batches]).to(device)  # (S, B)
        logits = forward(params, x)  # (S, B, C)
        losses = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
        losses = losses.mean(1)  # (S,): each seed's mean over its batch, as one run's loss
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # seed s's weights get the gradient of seed s's loss only
        _clip_per_seed([p.grad for p in params.values() if p.grad is not None], first.max_norm)
        optimizer.step()

        accuracies = (logits.detach().argmax(-1) == y).float().mean(1).tolist()
        stopped = [
            row
            for row, (loss, accuracy) in enumerate(zip(losses.tolist(), accuracies, strict=True))
            if logs[active[row]].record(step, loss, accuracy)
        ]
        if stopped:
            for row in stopped:
                _finish(logs[active[row]], models[active[row]], params, row, generators[active[row]][1], start)
            keep = [row for row in range(len(active)) if row not in stopped]
            active = [active[row] for row in keep]
            if not active:
                break
            params, optimizer = _keep_rows(params, optimizer, keep, first)
    return [log.result for log in logs]


def _finish(
    log: _SeedLog, model: nn.Module, params: dict[str, Tensor], row: int, test_gen: torch.Generator, start: float
) -> None:
    """Seed ``row`` stopped: its weights into ``model``, its curves closed, its test accuracy measured."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(params[name][row])
    log.finish()
    result, config = log.result, log.config
    check_training_finite(result.steps, parameters=model.parameters(), run=log.run, fix=_FIX)
    model.eval()
    result.test_accuracy = evaluate(model, config.length, config.test_size, test_gen, config.input_size)
    result.seconds = time.perf_counter() - start
    result.model = model


def seed_record(result: PalindromeResult) -> dict[str, Any]:
    """The sweep's JSON record of one seed's result."""
    config = result.config
    return {
        "model": config.model,
        "length": config.length,
        "seed": config.seed,
        "test_accuracy": result.test_accuracy,
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "seconds": result.seconds,
        "final_train_accuracy": result.train_accuracy[-1],
    }
