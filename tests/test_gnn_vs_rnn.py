"""GNN vs RNN on palindromes (gnnhw.experiments.gnn_vs_rnn): the path graph, its features, the receptive-field
threshold k >= T - 1, and a tiny end-to-end run."""

from __future__ import annotations

import pytest
import torch

from gnnhw.errors import ConfigError
from gnnhw.experiments.gnn_vs_rnn import (
    GNNvsRNNConfig,
    build_gcn,
    first_digit_influence,
    influence_by_position,
    last_node_logits,
    palindrome_graph_features,
    path_edge_index,
    run_gnn_vs_rnn,
    train_gcn,
)
from gnnhw.recurrent.palindrome import sample_palindromes, train_test_generators


def test_path_edge_index_joins_neighbours_both_ways_within_each_graph():
    edges = path_edge_index(4, num_graphs=2)
    pairs = {tuple(e) for e in edges.t().tolist()}
    expected = {(a, b) for i in range(3) for a, b in ((i, i + 1), (i + 1, i))}
    expected |= {(a + 4, b + 4) for a, b in expected}
    assert pairs == expected
    assert edges.shape == (2, 12)
    assert path_edge_index(1).shape == (2, 0)  # one node, no edges


def test_features_hide_the_last_digit_and_give_the_position():
    digits = torch.tensor([[3, 8, 1, 8, 3], [0, 1, 2, 1, 0]])
    x = palindrome_graph_features(digits).view(2, 5, 15)
    assert torch.equal(x[:, :4, :10].argmax(-1), digits[:, :4])
    assert torch.equal(x[:, :4, :10].sum(-1), torch.ones(2, 4))
    assert torch.equal(x[:, 4, :10], torch.zeros(2, 10))  # the target's node has no digit
    assert torch.equal(x[0, :, 10:], torch.eye(5))
    assert torch.equal(x[1, :, 10:], torch.eye(5))


@pytest.mark.parametrize("length", [3, 4, 6, 9])
def test_last_node_does_not_depend_on_the_first_digit_below_t_minus_1_layers(length):
    """The receptive field, proved by gradients: exactly 0 for k < T - 1, nonzero from k = T - 1 on."""
    digits = sample_palindromes(length, 16, torch.Generator().manual_seed(length))
    for k in range(1, length + 2):
        torch.manual_seed(k)
        model = build_gcn(length, k, hidden_channels=8).double()
        with torch.no_grad():  # biases > 0, so ReLUs are active and the generic case is tested
            for conv in model.convs:
                conv.bias.uniform_(0.1, 0.5)
        influence = first_digit_influence(model, digits)
        if k < length - 1:
            assert influence == 0.0, k
        else:
            assert influence > 1e-12, k


def test_influence_by_position_is_zero_exactly_outside_the_receptive_field():
    digits = sample_palindromes(7, 8, torch.Generator().manual_seed(0))
    for k in (2, 4, 6):
        torch.manual_seed(k)
        influence = influence_by_position(build_gcn(7, k, hidden_channels=8).double(), digits)
        assert len(influence) == 7
        assert all(v == 0.0 for v in influence[: 6 - k])  # nodes 1 .. T-1-k are more than k hops from node T
        assert all(v > 0.0 for v in influence[6 - k : 6])


def test_the_gcn_reads_each_graph_separately():
    """Batched graphs are disjoint: a palindrome's logits do not change with its neighbours in the batch."""
    torch.manual_seed(0)
    model = build_gcn(6, 5, hidden_channels=8).double()
    digits = sample_palindromes(6, 5, torch.Generator().manual_seed(1))
    together = last_node_logits(model, digits)
    alone = torch.cat([last_node_logits(model, digits[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(together, alone, atol=1e-12, rtol=0)


def test_a_shallow_gcn_stays_at_chance_and_a_deep_enough_one_learns_t4():
    """T = 4: k = 1 cannot see the first digit; k = 3 = T - 1 can and learns it within a few hundred steps."""
    config = GNNvsRNNConfig(steps=300, batch_size=64, test_size=500, gcn_hidden_channels=32, gcn_lr=1e-2)
    shallow = train_gcn(config, length=4, num_layers=1, seed=0)
    deep = train_gcn(config, length=4, num_layers=3, seed=0)
    assert shallow.test_accuracy < 0.2  # chance is 0.1 (500 test palindromes: 0.2 is > 4 standard deviations)
    assert deep.test_accuracy > 0.9


def test_gcn_and_recurrent_nets_see_the_same_test_set():
    """The GCN's test palindromes are those gnnhw.recurrent.train.evaluate draws for the same seed."""
    from gnnhw.recurrent.palindrome import palindrome_batch

    _, test_gen = train_test_generators(3)
    digits = sample_palindromes(5, 7, test_gen)
    _, test_gen = train_test_generators(3)
    _, targets = palindrome_batch(5, 7, test_gen)
    assert torch.equal(digits[:, -1], targets)


def test_run_records_every_model_length_depth_and_seed():
    config = GNNvsRNNConfig(
        lengths=(3,), depths=(1, 2), seeds=1, steps=3, batch_size=8, test_size=20, rnn_hidden_size=4
    )
    result = run_gnn_vs_rnn(config)
    kinds = sorted((r.model, r.num_layers) for r in result.runs)
    assert kinds == [("gcn", 1), ("gcn", 2), ("lstm", None), ("rnn", None)]
    payload = result.to_dict()
    assert set(payload["gcn_mean_accuracy"]["3"]) == {"1", "2"}
    assert set(payload["recurrent_mean_accuracy"]) == {"rnn", "lstm"}
    assert all(0 <= r["test_accuracy"] <= 1 for r in payload["runs"])
    assert all(r["steps"] == 3 for r in payload["runs"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lengths": ()},
        {"lengths": (1,)},
        {"depths": (0,)},
        {"depths": (10**6,)},
        {"seeds": 0},
        {"seed": -1},
        {"seed": 2**32 - 1, "seeds": 2},
        {"gcn_lr": 11.0},
        {"rnn_lr": 0.0},
        {"models": ("gru",)},
        {"steps": 0},
        {"gcn_lr": float("nan")},
        {"early_stop_accuracy": 1.5},
        {"lengths": (200,), "depths": (256,), "batch_size": 100_000},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        GNNvsRNNConfig(**kwargs).validate()


@pytest.mark.parametrize(("old", "new"), [("gcn_learning_rate", "gcn_lr"), ("rnn_learning_rate", "rnn_lr")])
def test_old_learning_rate_keywords_still_work_with_a_warning(old, new):
    # renamed in the one vocabulary (CHANGELOG.md): the old keyword works for one release, warned
    with pytest.warns(DeprecationWarning, match=f"{old}="):
        config = GNNvsRNNConfig(**{old: 0.02})
    assert config == GNNvsRNNConfig(**{new: 0.02})
