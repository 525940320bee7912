r"""GNN vs RNN on the same task (assignment Q3.4): the palindrome as a path graph, a GCN of depth k against the
vanilla RNN and the LSTM.

A palindrome of length T becomes a *path graph* of T nodes, one per digit, with an edge between neighbours in both
directions (1 - 2 - ... - T). The node features, stated here because the GCN cannot see order otherwise, are

- the one-hot digit (10 values) on nodes 1 .. T-1, and zeros on node T, whose digit is the target;
- the one-hot position (T values): node i has a 1 in column 10 + i - 1 (a *positional feature*: without it every
  interior node looks alike and a GCN could not tell the first digit from any other).

The GCN is :class:`~gnnhw.graph.models.GCN` with the ``residual`` variant (H_{l+1} = ReLU(Â H_l W_l) + H_l on
hidden layers, no dropout), so depth alone does not fail from over-smoothing; its logits at node T classify the
last digit. k graph convolutions let node T see exactly the nodes within k hops (its *receptive field*,
Kipf & Welling 2017, section 2), and the first digit, which the last one equals, is T - 1 hops away: for
k < T - 1 the GCN's output at node T does not depend on the first digit at all (:func:`first_digit_influence` is
exactly 0), so its accuracy is at chance, 0.1, whatever the training. The recurrent nets share one cell over all
T - 1 steps and carry the first digit in their state, at no cost in parameters per step.

The data are the same for every model: the training batches and the test set come from
:func:`gnnhw.recurrent.palindrome.train_test_generators` with the run's seed, drawn exactly as
:func:`gnnhw.recurrent.train.train` draws them, so a GCN and an RNN of the same seed see the same palindromes.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnhw.errors import ConfigError
from gnnhw.experiments.config import (  # noqa: F401 - re-exported
    MAX_ACTIVATIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    RECURRENT_MODELS,
    GNNvsRNNConfig,
)
from gnnhw.recurrent.palindrome import NUM_DIGITS, check_length, sample_palindromes, train_test_generators


def path_edge_index(num_nodes: int, num_graphs: int = 1) -> Tensor:
    """The edge_index of ``num_graphs`` disjoint path graphs of ``num_nodes`` nodes, edges both ways.

    Graph b holds nodes b * num_nodes ... (b + 1) * num_nodes - 1, in order along the path.

    Shapes:
        - output: (2, 2 * (num_nodes - 1) * num_graphs), long
    """
    for name, value in (("num_nodes", num_nodes), ("num_graphs", num_graphs)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    left = torch.arange(num_nodes - 1)
    one = torch.stack([torch.cat([left, left + 1]), torch.cat([left + 1, left])])  # (2, 2(T-1)): i -> i+1, i+1 -> i
    offsets = (torch.arange(num_graphs) * num_nodes).repeat_interleave(one.shape[1])  # (B * 2(T-1),)
    return one.repeat(1, num_graphs) + offsets


def palindrome_graph_features(digits: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Node features of palindromes as path graphs (see the module): one-hot digit (zeros on the last node) and
    one-hot position.

    Shapes:
        - digits: (B, T) long in 0..9
        - output: (B * T, 10 + T), graph b's nodes in rows b * T ... (b + 1) * T - 1
    """
    if digits.dim() != 2 or digits.dtype != torch.long:
        raise ConfigError(f"digits must be a (B, T) long tensor, got {tuple(digits.shape)} {digits.dtype}")
    batch, length = digits.shape
    x = torch.zeros(batch, length, NUM_DIGITS + length, dtype=dtype)  # (B, T, 10 + T)
    x[:, :-1, :NUM_DIGITS] = F.one_hot(digits[:, :-1], NUM_DIGITS).to(dtype)  # the known digits; node T stays blank
    x[:, :, NUM_DIGITS:] = torch.eye(length, dtype=dtype)  # position i -> column 10 + i
    return x.reshape(batch * length, NUM_DIGITS + length)


def build_gcn(length: int, num_layers: int, hidden_channels: int = 64) -> torch.nn.Module:
    """A residual :class:`~gnnhw.graph.models.GCN` of ``num_layers`` convolutions for palindromes of ``length``:
    ``10 + length`` input features, 10 classes, no dropout. Its weights come from torch's global RNG.

    >>> digits = torch.tensor([[3, 1, 3]])  # one palindrome of length 3
    >>> last_node_logits(build_gcn(3, num_layers=2, hidden_channels=8), digits).shape
    torch.Size([1, 10])
    """
    from gnnhw.graph.models import GCN

    check_length(length)
    return GCN(NUM_DIGITS + length, hidden_channels, NUM_DIGITS, num_layers, dropout=0.0, variant="residual")


def last_node_logits(model: torch.nn.Module, digits: Tensor, edge_index: Tensor | None = None) -> Tensor:
    """The GCN's logits at the last node of each palindrome graph: (B, T) digits -> (B, 10)."""
    batch, length = digits.shape
    if edge_index is None:
        edge_index = path_edge_index(length, batch)
    dtype = next(model.parameters()).dtype
    out = model(palindrome_graph_features(digits, dtype), edge_index)  # (B * T, 10)
    return out.view(batch, length, NUM_DIGITS)[:, -1]  # (B, 10)


def first_digit_influence(model: torch.nn.Module, digits: Tensor) -> float:
    """max |d logits(node T) / d x(node 1)| over the batch: how much the last node's output depends on the first
    node's features. Exactly 0 when the model has fewer than T - 1 graph convolutions (node 1 is outside node T's
    receptive field), and > 0 (generically) from T - 1 on.

    Shapes:
        - digits: (B, T) long
    """
    batch, length = digits.shape
    dtype = next(model.parameters()).dtype
    x = palindrome_graph_features(digits, dtype).requires_grad_()
    out = model(x, path_edge_index(length, batch)).view(batch, length, NUM_DIGITS)[:, -1]  # (B, 10)
    influence = 0.0
    for c in range(NUM_DIGITS):
        (grad,) = torch.autograd.grad(out[:, c].sum(), x, retain_graph=True)  # graphs are disjoint: no cross terms
        first_nodes = grad.view(batch, length, -1)[:, 0]  # (B, 10 + T): node 1 of every graph
        influence = max(influence, float(first_nodes.abs().max()))
    return influence


def influence_by_position(model: torch.nn.Module, digits: Tensor) -> list[float]:
    r"""How strongly each node's digit moves the last node's logits: for node i = 1 .. T, the root mean square over
    the batch of :math:`\|\partial\, \mathrm{logits}_T / \partial x_i^{\mathrm{digit}}\|_F` (the Jacobian with
    respect to node i's 10 digit features).

    On a path, Â's entries are 1/3 inside and about 0.4 at the ends, so node 1's influence at node T shrinks
    geometrically with the distance: the first digit reaches node T scaled far below the nearby digits, so a GCN with
    k >= T - 1 can still fail to learn long palindromes (see the README).

    Shapes:
        - digits: (B, T) long; output: T floats, entry i - 1 for node i
    """
    batch, length = digits.shape
    dtype = next(model.parameters()).dtype
    x = palindrome_graph_features(digits, dtype).requires_grad_()
    out = model(x, path_edge_index(length, batch)).view(batch, length, NUM_DIGITS)[:, -1]  # (B, 10)
    squares = torch.zeros(length, dtype=dtype)
    for c in range(NUM_DIGITS):
        (grad,) = torch.autograd.grad(out[:, c].sum(), x, retain_graph=True)  # disjoint graphs: per-sample rows
        squares += grad.view(batch, length, -1)[:, :, :NUM_DIGITS].pow(2).sum(-1).mean(0)  # (T,)
    return squares.sqrt().tolist()


@dataclass
class RunRecord:
    """One trained model: ``model`` is ``"gcn"``, ``"rnn"`` or ``"lstm"``; ``num_layers`` the GCN's depth k (None for
    the recurrent nets)."""

    model: str
    length: int
    seed: int
    num_layers: int | None  # the GCN's depth k; None for the recurrent nets
    test_accuracy: float
    steps: int
    seconds: float
    initial_influence_ratio: float | None = None  # GCN only: influence of node 1 / of node T-1 at initialisation


@dataclass
class GNNvsRNNResult:
    """Every run of :func:`run_gnn_vs_rnn`, and summaries of them."""

    config: GNNvsRNNConfig
    runs: list[RunRecord] = field(default_factory=list)

    def gcn_accuracy(self) -> dict[int, dict[int, list[float]]]:
        """{T: {k: [test accuracy per seed]}} of the GCN runs."""
        return self._gcn_table("test_accuracy")

    def influence_ratio(self) -> dict[int, dict[int, list[float]]]:
        """{T: {k: [initial influence ratio, node 1 / node T-1, per seed]}} of the GCN runs."""
        return self._gcn_table("initial_influence_ratio")

    def _gcn_table(self, key: str) -> dict[int, dict[int, list[float]]]:
        """{T: {k: [run.<key> per seed]}} of the GCN runs whose ``key`` is set."""
        out: dict[int, dict[int, list[float]]] = {}
        for r in self.runs:
            value = getattr(r, key)
            if r.model == "gcn" and r.num_layers is not None and value is not None:
                out.setdefault(r.length, {}).setdefault(r.num_layers, []).append(value)
        return out

    def recurrent_accuracy(self) -> dict[str, dict[int, list[float]]]:
        """{model: {T: [test accuracy per seed]}} of the recurrent runs."""
        out: dict[str, dict[int, list[float]]] = {}
        for r in self.runs:
            if r.model != "gcn":
                out.setdefault(r.model, {}).setdefault(r.length, []).append(r.test_accuracy)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the config, every run, and the mean accuracies (keys as strings)."""

        def means(table: dict) -> dict[str, Any]:
            return {str(k): (means(v) if isinstance(v, dict) else statistics.fmean(v)) for k, v in table.items()}

        return {
            "config": dataclasses.asdict(self.config),
            "features": "one-hot digit (10; zeros on the last node) + one-hot position (T)",
            "runs": [dataclasses.asdict(r) for r in self.runs],
            "gcn_mean_accuracy": means(self.gcn_accuracy()),
            "gcn_mean_initial_influence_ratio": means(self.influence_ratio()),
            "recurrent_mean_accuracy": means(self.recurrent_accuracy()),
        }


def _evaluate_gcn(model: torch.nn.Module, length: int, num: int, generator: torch.Generator) -> float:
    """Accuracy on ``num`` palindromes drawn in chunks of 1000, as :func:`gnnhw.recurrent.train.evaluate` draws."""
    correct = 0
    model.eval()
    with torch.no_grad():
        for start in range(0, num, 1000):
            digits = sample_palindromes(length, min(1000, num - start), generator)
            correct += int((last_node_logits(model, digits).argmax(-1) == digits[:, -1]).sum())
    return correct / num


def train_gcn(config: GNNvsRNNConfig, length: int, num_layers: int, seed: int, bar: Any = None) -> RunRecord:
    """Train one residual GCN of ``num_layers`` on palindromes of ``length`` (Adam, clipping, early stop as the
    recurrent runs), and score it on the seed's test set. ``bar``: an optional tqdm bar advanced once per step."""
    config.validate()
    check_length(length)
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_gcn(length, num_layers, config.gcn_hidden_channels)
    probe = sample_palindromes(length, 64, torch.Generator().manual_seed(seed))  # its own stream: data unchanged
    influence = influence_by_position(model, probe)
    ratio = influence[0] / influence[-2] if influence[-2] > 0 else None  # None: digit T-1 has no influence either
    train_gen, test_gen = train_test_generators(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.gcn_lr)
    edge_index = path_edge_index(length, config.batch_size)  # one tensor: its checks are memoized with it
    recent: list[float] = []
    steps = 0
    model.train()
    for step in range(1, config.steps + 1):
        digits = sample_palindromes(length, config.batch_size, train_gen)  # as palindrome_batch draws them
        logits = last_node_logits(model, digits, edge_index)  # (B, 10)
        loss = F.cross_entropy(logits, digits[:, -1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
        optimizer.step()
        steps = step
        if bar is not None:
            bar.update(1)
        recent.append(float((logits.detach().argmax(-1) == digits[:, -1]).float().mean()))
        recent = recent[-50:]
        if config.early_stop_accuracy is not None and len(recent) == 50:
            if sum(recent) / 50 >= config.early_stop_accuracy:
                break
    if bar is not None and steps < config.steps:
        bar.update(config.steps - steps)
    accuracy = _evaluate_gcn(model, length, config.test_size, test_gen)
    return RunRecord("gcn", length, seed, num_layers, accuracy, steps, time.perf_counter() - start, ratio)


def train_recurrent(config: GNNvsRNNConfig, model: str, length: int, seed: int) -> RunRecord:
    """One :func:`gnnhw.recurrent.train.train` run of ``model`` with the comparison's settings."""
    from gnnhw.recurrent.train import PalindromeConfig, train

    run = train(
        PalindromeConfig(
            model=model,
            length=length,
            hidden_size=config.rnn_hidden_size,
            batch_size=config.batch_size,
            lr=config.rnn_lr,
            train_steps=config.steps,
            max_norm=config.max_norm,
            early_stop_accuracy=config.early_stop_accuracy,
            test_size=config.test_size,
            seed=seed,
            device="cpu",
        )
    )
    return RunRecord(model, length, seed, None, run.test_accuracy, run.steps, run.seconds)


def run_gnn_vs_rnn(
    config: GNNvsRNNConfig | None = None,
    progress: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> GNNvsRNNResult:
    """Train a GCN of every depth and every recurrent model, for every length and seed; return the accuracies.

    ``progress`` shows a tqdm bar on stderr (training steps of all runs). ``executor`` / ``address``: where the
    runs train (:func:`gnnhw.executors.map_jobs`): ``"local"``, here one after another, or ``"ray"``, one Ray task
    per run; the records are the same, in the same order.

    Raises:
        ConfigError: a bad setting (:meth:`GNNvsRNNConfig.validate`).
        ExecutorError: an unknown executor, Ray not installed, or its cluster unreachable.
    """
    from tqdm.auto import tqdm

    from gnnhw.executors import check_executor, map_jobs

    check_executor(executor, address)
    config = (config or GNNvsRNNConfig()).validate()
    result = GNNvsRNNResult(config)
    jobs: list[tuple[GNNvsRNNConfig, str, int | str, int, int]] = []  # (config, kind, depth or model, length, seed)
    for length in config.lengths:
        for seed in config.seed_list():
            jobs += [(config, "recurrent", model, length, seed) for model in config.models]
            jobs += [(config, "gcn", depth, length, seed) for depth in config.depths]
    total = len(jobs) * config.steps
    with tqdm(total=total, desc="gnn-vs-rnn", unit="step", disable=not progress, file=sys.stderr) as bar:
        if executor == "local":
            result.runs += [_one_run(job, bar) for job in jobs]
        else:
            result.runs += map_jobs(
                _one_run, jobs, executor=executor, address=address, on_done=lambda j, r: bar.update(config.steps)
            )
    return result


def _one_run(job: tuple[GNNvsRNNConfig, str, int | str, int, int], bar: Any = None) -> RunRecord:
    """One run of the comparison (a job for :func:`gnnhw.executors.map_jobs`); ``bar``: tqdm, advanced per step."""
    config, kind, which, length, seed = job
    if kind == "recurrent":
        if bar is not None:
            bar.set_description(f"{which} T={length} seed={seed}")
        record = train_recurrent(config, str(which), length, seed)
        if bar is not None:
            bar.update(config.steps)
        return record
    if bar is not None:
        bar.set_description(f"gcn k={which} T={length} seed={seed}")
    return train_gcn(config, length, int(which), seed, bar)


def needed_depth(lengths: Sequence[int]) -> dict[int, int]:
    """{T: T - 1}: the fewest graph convolutions that let the last node of a path of T nodes see the first."""
    return {t: t - 1 for t in lengths}


__all__ = [
    "GNNvsRNNConfig",
    "GNNvsRNNResult",
    "RunRecord",
    "build_gcn",
    "first_digit_influence",
    "influence_by_position",
    "last_node_logits",
    "needed_depth",
    "palindrome_graph_features",
    "path_edge_index",
    "run_gnn_vs_rnn",
    "train_gcn",
    "train_recurrent",
]
