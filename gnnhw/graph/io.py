"""Reading graphs from files, with errors that name the file and the line.

Formats, chosen by the file's extension:

- ``.graphml``: GraphML, read with :func:`networkx.read_graphml` (directed if the file says so).
- ``.gml``: GML, read with :func:`networkx.read_gml` (nodes named by their ``label``).
- ``.adj``: a dense adjacency matrix, one row per line, entries separated by whitespace or commas.
  An optional first line of node names (any entry that is not a number makes it a header) names the
  rows and columns; without one, nodes are ``"0"`` .. ``"n-1"``. A symmetric matrix gives an undirected
  graph, any other a directed one with an edge ``i -> j`` for every non-zero entry ``M[i, j]``;
  entries other than 1 become the edge's ``weight``. The matrix must be square and numeric.
- anything else: an edge list, one edge per line::

      # comment (also after an edge)
      u v            an unweighted edge
      u, v, 0.5      an edge of weight 0.5 (commas or whitespace separate fields)

  Blank lines and ``#`` comments are skipped. Edge lists give undirected graphs unless
  ``directed=True``.

Node names are always strings: the edge list ``0 1`` gives nodes ``"0"`` and ``"1"``. Nodes keep the
order in which they first appear. A UTF-8 byte order mark at the start of a file is dropped.

Every format means a graph by the rules of :mod:`gnnhw.graph.adjacency` ("one meaning per graph"), and the
result is a simple :class:`networkx.Graph` / :class:`networkx.DiGraph` that states it exactly:

- *parallel edges are summed* into one edge whose ``weight`` is the sum of theirs (default 1 each): the edge
  list ``a b 2`` then ``a b 5`` gives one edge of weight 7, ``a b`` twice one of weight 2, as a GraphML or
  GML multigraph with the same edges (in an undirected edge list ``a b`` and ``b a`` are parallel);
- an edge of weight 0 (written so, or whose parallel weights cancel) is kept: for a self-loop it matters, since
  a node's own loop of weight 0 means Ã[a, a] = 0, not the default loop of weight 1;
- in a ``.adj`` matrix a 0 entry is no edge (a matrix cannot state a zero-weight edge), a non-zero diagonal
  entry is the node's self-loop.

Every problem (missing or unreadable file, a malformed line, a
weight that is not a finite number, a non-square matrix) raises :class:`~gnnhw.errors.GraphFileError`
with the file's name and, where there is one, the line number.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import networkx as nx

from gnnhw.errors import ConfigError, GraphFileError

_SEPARATOR = re.compile(r"[\s,]+")


def read_graph(path: str | os.PathLike, directed: bool = False) -> nx.Graph:
    """Read a graph from ``path``; the format follows the extension (see the module docstring).

    Args:
        path: the file to read.
        directed: edge lists only: build a :class:`networkx.DiGraph` (edge ``u v`` goes from u to v).
            GraphML, GML and adjacency-matrix files say themselves whether they are directed.

    Returns:
        a :class:`networkx.Graph` or :class:`networkx.DiGraph` with string node names; weighted edges
        carry a float ``weight`` attribute. Its ``name`` attribute is the file's name.

    Raises:
        GraphFileError: the file is missing, unreadable, malformed, or holds no nodes.
        ConfigError: ``directed`` with a GraphML, GML or ``.adj`` file (which says itself whether it is
            directed: the flag would be silently ignored).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if directed and suffix in (".graphml", ".gml", ".adj"):
        raise ConfigError(
            f"{path}: directed applies only to edge lists; a {suffix} file says itself whether it is directed"
        )
    if suffix in (".graphml", ".gml"):
        graph = _read_networkx_format(path, suffix)
    else:
        text = _read_text(path)
        graph = _parse_adjacency_matrix(text, path) if suffix == ".adj" else _parse_edge_list(text, path, directed)
    if graph.number_of_nodes() == 0:
        raise GraphFileError(f"{path}: the file holds no edges or nodes")
    graph.graph["name"] = path.name
    return graph


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # utf-8-sig: a leading byte order mark is dropped
    except FileNotFoundError:
        raise GraphFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GraphFileError(f"{path}: is a directory, expected a graph file") from None
    except UnicodeDecodeError as err:
        raise GraphFileError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise GraphFileError(f"{path}: cannot read the file ({err.strerror or err})") from None


def _fields(line: str) -> list[str]:
    """The fields of one line, comment removed; [] for a blank or comment-only line."""
    content = line.split("#", 1)[0].strip()
    return [field for field in _SEPARATOR.split(content) if field] if content else []


def _parse_number(text: str, path: Path, lineno: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GraphFileError(f"{path}, line {lineno}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise GraphFileError(f"{path}, line {lineno}: {what} {text!r} is not a finite number")
    return value


def _parse_edge_list(text: str, path: Path, directed: bool) -> nx.Graph:
    nodes: dict[str, None] = {}  # in order of first appearance
    weights: dict[tuple[str, str], float] = {}  # (u, v) -> summed weight; undirected: the first orientation seen
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split() if "#" not in line and "," not in line else _fields(line)  # the common case, fast
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise GraphFileError(
                f"{path}, line {lineno}: expected 'u v' or 'u v weight', got {len(fields)} field(s): {line.strip()!r}"
            )
        u, v = fields[0], fields[1]
        weight = _parse_number(fields[2], path, lineno, "weight") if len(fields) == 3 else 1.0
        nodes[u] = None
        nodes[v] = None
        key = (u, v) if directed or (v, u) not in weights else (v, u)
        weights[key] = weights.get(key, 0.0) + weight  # parallel edges summed
    graph: nx.Graph = nx.DiGraph() if directed else nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((u, v) if w == 1.0 else (u, v, {"weight": w}) for (u, v), w in weights.items())
    return graph


def _add_summed(graph: nx.Graph, u: str, v: str, weight: float) -> None:
    """Add the edge u -> v, or add ``weight`` to it if it is already there (parallel edges are summed).

    An edge keeps no ``weight`` attribute while its weight is 1 (networkx's default), so unweighted graphs stay
    plain.
    """
    if graph.has_edge(u, v):
        weight += graph.edges[u, v].get("weight", 1.0)
    graph.add_edge(u, v)
    if weight == 1.0:
        graph.edges[u, v].pop("weight", None)
    else:
        graph.edges[u, v]["weight"] = weight


def _parse_adjacency_matrix(text: str, path: Path) -> nx.Graph:
    numbered = ((n, _fields(line)) for n, line in enumerate(text.splitlines(), start=1))
    rows: list[tuple[int, list[str]]] = [(n, fields) for n, fields in numbered if fields]
    if not rows:
        return nx.Graph()
    names: list[str] | None = None
    if any(not _is_number(field) for field in rows[0][1]):
        names = rows[0][1]
        rows = rows[1:]
        if len(set(names)) != len(names):
            raise GraphFileError(f"{path}, line 1: the header repeats a node name: {' '.join(names)}")
    size = len(names) if names is not None else len(rows[0][1])
    if len(rows) != size:
        columns = "node(s) named in the header" if names is not None else "column(s) in its first row"
        raise GraphFileError(f"{path}: the adjacency matrix is not square: {len(rows)} row(s) for {size} {columns}")
    matrix: list[list[float]] = []
    for lineno, fields in rows:
        if len(fields) != size:
            raise GraphFileError(
                f"{path}, line {lineno}: the adjacency matrix is not square: this row has {len(fields)} "
                f"entries, expected {size}"
            )
        matrix.append([_parse_number(field, path, lineno, "entry") for field in fields])
    nodes = names if names is not None else [str(i) for i in range(size)]
    symmetric = all(matrix[i][j] == matrix[j][i] for i in range(size) for j in range(i))
    graph: nx.Graph = nx.Graph() if symmetric else nx.DiGraph()
    graph.add_nodes_from(nodes)
    for i in range(size):
        for j in range(i if symmetric else 0, size):
            value = matrix[i][j]
            if value == 0:
                continue
            if value == 1:
                graph.add_edge(nodes[i], nodes[j])
            else:
                graph.add_edge(nodes[i], nodes[j], weight=value)
    return graph


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_gml(text: str) -> nx.Graph:
    """networkx's GML reader, with repeated edges read as parallel edges (to be summed) in every file.

    networkx refuses an edge listed twice unless the file says ``multigraph 1`` (naming the nodes by their
    internal ids); GraphML and edge lists have no such flag, so for one meaning the flag is implied.
    """
    try:
        return nx.parse_gml(text)
    except nx.NetworkXError as err:
        if "is duplicated" not in str(err):
            raise
    return nx.parse_gml(_GML_GRAPH.sub(r"\g<0> multigraph 1 ", text, count=1))


_GML_GRAPH = re.compile(r"\bgraph\s*\[")  # the opening of GML's top-level graph


def _read_networkx_format(path: Path, suffix: str) -> nx.Graph:
    text = _read_text(path)  # the same errors as the text formats, and a BOM dropped
    kind = "GraphML" if suffix == ".graphml" else "GML"
    try:
        graph = nx.parse_graphml(text) if suffix == ".graphml" else _parse_gml(text)
    except Exception as err:  # networkx and xml raise many types for malformed files
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise GraphFileError(f"{path}: not a valid {kind} file ({message})") from None
    # One simple graph: parallel edges summed (the module's rules); node names become strings.
    simple: nx.Graph = nx.DiGraph() if graph.is_directed() else nx.Graph()
    simple.add_nodes_from(str(node) for node in graph.nodes)
    for u, v, data in graph.edges(data=True):
        weight = 1.0
        if "weight" in data:
            value = data["weight"]
            try:
                if isinstance(value, bool):
                    raise TypeError
                weight = float(value)
            except (TypeError, ValueError):
                raise GraphFileError(f"{path}: edge {u!s}-{v!s} has weight {value!r}, which is not a number") from None
            if not math.isfinite(weight):
                raise GraphFileError(f"{path}: edge {u!s}-{v!s} has weight {value!r}, not a finite number")
        _add_summed(simple, str(u), str(v), weight)
    return simple
