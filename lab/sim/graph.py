"""The ``graph`` of a headless start: Scope's validation, and the one shape the simulator runs.

A graph (Scope's ``GraphConfig``) is ``{"nodes": [...], "edges": [...]}``; a node has an
``id`` and a ``type`` (``source``, ``pipeline``, ``sink``, ``record`` or ``node``, a custom
node), an edge ``from`` (or ``from_node``), ``from_port``, ``to_node``, ``to_port`` and a
``kind`` (``stream`` or ``parameter``). Scope refuses with 400 ``"Invalid graph: ..."`` a
graph that does not parse, has duplicate node ids, has no ``sink``, has a ``pipeline`` node
without ``pipeline_id`` or a custom node without ``node_type_id``, or an edge whose end is
no node; a headless start also refuses with 400 a graph with no pipeline and no custom node.
The text after ``"Invalid graph: "`` is the simulator's.

Scope runs any valid graph; the simulator runs one shape (:class:`SinglePipelineGraph`):

- exactly one ``pipeline`` node and no custom node;
- at most one ``source`` node, with a stream edge into the pipeline node, or none;
- one or more ``sink`` nodes and any ``record`` nodes, each fed by a stream edge from the
  pipeline node; a sink has no ``sink_mode`` (Spout, NDI and Syphon are not on the pod);
- no other edges (no ``parameter`` edges).

Any other valid graph raises :class:`UnemulatedGraphError`, which the start answers like a
frame processor that fails: 500 "check logs", the log line saying which rule it broke.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lab.sim.errors import RouteError

__all__ = ["GraphConfig", "GraphNode", "InvalidGraphError", "SinglePipelineGraph", "UnemulatedGraphError",
           "parse_graph", "single_pipeline", "sink_node_ids"]

INVALID_GRAPH = "Invalid graph"
CLIENT_SOURCE_MODES = ("video", "camera")  # a source node's modes that a browser feeds


class InvalidGraphError(RouteError):
    """A graph Scope refuses (400 ``"Invalid graph: ..."``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, f"{INVALID_GRAPH}: {reason}")


class UnemulatedGraphError(ValueError):
    """A valid graph of a shape the simulator does not run."""


class GraphNode(BaseModel):
    """One node of a graph (Scope's ``GraphNode``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: Literal["source", "pipeline", "sink", "record", "node"]
    pipeline_id: str | None = None
    node_type_id: str | None = None
    params: dict[str, Any] | None = None
    source_mode: str | None = None
    source_name: str | None = None
    source_flip_vertical: bool = False
    tempo_sync: bool = False
    sink_mode: str | None = None
    sink_name: str | None = None


class GraphEdge(BaseModel):
    """One edge of a graph (Scope's ``GraphEdge``); ``from_node`` is accepted for ``from``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_node: str = Field(alias="from")
    from_port: str
    to_node: str
    to_port: str
    kind: Literal["stream", "parameter"] = "stream"

    @model_validator(mode="before")
    @classmethod
    def _from_node_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "from" not in data and "from_node" in data:
            return {**data, "from": data["from_node"]}
        return data


class GraphConfig(BaseModel):
    """A graph as a headless start (or ``initialParameters.graph``) gives it."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]

    def of_type(self, kind: str) -> list[GraphNode]:
        """The nodes of one type, in order."""
        return [node for node in self.nodes if node.type == kind]


@dataclass(frozen=True)
class SinglePipelineGraph:
    """The shape the simulator runs: an optional source, one pipeline, its sinks and records."""

    pipeline: GraphNode
    source: GraphNode | None
    sink_ids: list[str]
    record_ids: list[str]

    def input_source(self) -> dict[str, Any] | None:
        """The source node as a headless start's ``input_source``, if it names a server-side
        source (``video_file``, ``ndi``, ...): a browser's ``video`` or ``camera`` has no
        client to come from in a headless session."""
        node = self.source
        if node is None or node.source_mode in (None, *CLIENT_SOURCE_MODES):
            return None
        return {"enabled": True, "source_type": node.source_mode, "source_name": node.source_name or "",
                "flip_vertical": node.source_flip_vertical}


def parse_graph(raw: dict[str, Any]) -> GraphConfig:
    """Parse and check a headless start's graph as Scope does.

    Raises
    ------
    InvalidGraphError
        For any of the refusals listed in the module docstring.
    """
    try:
        graph = GraphConfig.model_validate(raw)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidGraphError(where) from None
    duplicates = sorted(node_id for node_id, n in Counter(n.id for n in graph.nodes).items() if n > 1)
    if duplicates:
        raise InvalidGraphError(f"duplicate node ids {duplicates}")
    if not graph.of_type("sink"):
        raise InvalidGraphError("it has no sink node")
    for node in graph.nodes:
        if node.type == "pipeline" and not node.pipeline_id:
            raise InvalidGraphError(f"pipeline node {node.id!r} has no pipeline_id")
        if node.type == "node" and not node.node_type_id:
            raise InvalidGraphError(f"node {node.id!r} has no node_type_id")
    ids = {node.id for node in graph.nodes}
    for edge in graph.edges:
        for end in (edge.from_node, edge.to_node):
            if end not in ids:
                raise InvalidGraphError(f"edge {edge.from_node} -> {edge.to_node} names no node {end!r}")
    if not graph.of_type("pipeline") and not graph.of_type("node"):
        raise InvalidGraphError("it has no pipeline or custom node")
    return graph


def single_pipeline(graph: GraphConfig) -> SinglePipelineGraph:
    """The graph as the one shape the simulator runs.

    Raises
    ------
    UnemulatedGraphError
        If the graph has another shape (the message says which rule it breaks).
    """
    pipelines, sources = graph.of_type("pipeline"), graph.of_type("source")
    if graph.of_type("node"):
        raise UnemulatedGraphError("graphs with custom nodes are not emulated by the simulator")
    if len(pipelines) != 1:
        raise UnemulatedGraphError(f"graphs with {len(pipelines)} pipeline nodes are not emulated "
                                   "by the simulator (one pipeline node only)")
    if len(sources) > 1:
        raise UnemulatedGraphError("graphs with more than one source node are not emulated by the simulator")
    pipeline, source = pipelines[0], (sources[0] if sources else None)
    outputs = graph.of_type("sink") + graph.of_type("record")
    allowed = {(node.id, pipeline.id) for node in sources} | {(pipeline.id, node.id) for node in outputs}
    for edge in graph.edges:
        if edge.kind != "stream" or (edge.from_node, edge.to_node) not in allowed:
            raise UnemulatedGraphError(f"the {edge.kind} edge {edge.from_node} -> {edge.to_node} is not "
                                       "emulated by the simulator (source -> pipeline -> sinks and records only)")
    fed = {edge.to_node for edge in graph.edges if edge.from_node == pipeline.id}
    for node in outputs:
        if node.id not in fed:
            raise UnemulatedGraphError(f"{node.type} node {node.id!r} is not fed by the pipeline node")
        if node.sink_mode:
            raise UnemulatedGraphError(f"sink node {node.id!r}: sink mode {node.sink_mode} is not available")
    return SinglePipelineGraph(pipeline, source, [n.id for n in graph.of_type("sink")],
                               [n.id for n in graph.of_type("record")])


def sink_node_ids(parameters: dict[str, Any]) -> list[str]:
    """The sink node ids of the graph in a session's parameters (none without a graph)."""
    graph = parameters.get("graph") or {}
    return [str(n.get("id")) for n in graph.get("nodes") or [] if isinstance(n, dict) and n.get("type") == "sink"]
