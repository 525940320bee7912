"""Experiments that span the graph and recurrent areas (assignment Q3.4: GNN vs RNN on the same task).

Import the module you need, e.g. ``from gnnhw.experiments.gnn_vs_rnn import run_gnn_vs_rnn``.
"""
