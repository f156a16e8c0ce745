// The dependency map's geometry: dagre lays the graph out left to right (callers on the left),
// and this module turns the API's nodes and edges into what the SVG draws — node boxes, edge
// paths with arrowheads, and label positions. Pure, so it is unit-tested without a browser.

import { graphlib, layout } from '@dagrejs/dagre';
import { formatMillis, formatPercent, formatRate } from '../format';
import type { DependencyEdge, DependencyNode, NodeKind } from '../types';

export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 50;
/** Room dagre keeps for an edge's label (three short lines of figures). */
export const LABEL_WIDTH = 112;
export const LABEL_HEIGHT = 44;

export interface Point {
  x: number;
  y: number;
}

export interface PlacedNode {
  node: DependencyNode;
  /** Centre of the box. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  edge: DependencyEdge;
  /** The path's points, from the client's box to the server's. */
  points: Point[];
  /** Centre of the label. */
  label: Point;
}

export interface MapLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

/** The key an edge is known by (in the address and in the SVG): client, server and connection type. */
export function edgeKey(edge: Pick<DependencyEdge, 'client' | 'server' | 'connectionType'>): string {
  return `${edge.client}\u2192${edge.server}\u2192${edge.connectionType}`;
}

/** Peers the API derives from spans (no spans of their own): drawn distinctly. */
export function isVirtualKind(kind: NodeKind): boolean {
  return kind !== 'service';
}

/** What a node kind is called in the legend and the panel. */
export function kindLabel(kind: NodeKind): string {
  switch (kind) {
    case 'service':
      return 'service';
    case 'user':
      return 'callers from outside';
    case 'database':
      return 'database';
    case 'messaging':
      return 'messaging system';
    case 'external':
      return 'external service';
  }
}

/** What an edge's `connectionType` means, in words. */
export function connectionLabel(connectionType: string): string {
  switch (connectionType) {
    case '':
      return 'direct call';
    case 'database':
      return 'database call';
    case 'messaging_system':
      return 'through a messaging system';
    case 'virtual_node':
      return 'to or from an uninstrumented peer';
    default:
      return connectionType;
  }
}

/** The three lines an edge is labelled with: rate, error %, p95 latency. */
export function edgeLabelLines(edge: DependencyEdge): [string, string, string] {
  return [formatRate(edge.rate), `${formatPercent(edge.errorRatio)} err`, `p95 ${formatMillis(edge.latencyMs.p95)}`];
}

/** Lays the graph out left to right. Edges whose nodes are missing from `nodes` get a node of their own. */
export function layoutMap(nodes: DependencyNode[], edges: DependencyEdge[]): MapLayout {
  const graph = new graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: 'LR', nodesep: 28, ranksep: 60, edgesep: 16, marginx: 16, marginy: 16 });
  graph.setDefaultEdgeLabel(() => ({}));
  const byName = new Map(nodes.map((node) => [node.name, node]));
  for (const edge of edges) {
    for (const name of [edge.client, edge.server]) {
      if (!byName.has(name)) byName.set(name, placeholderNode(name));
    }
  }
  for (const name of byName.keys()) graph.setNode(name, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of edges) {
    graph.setEdge(edge.client, edge.server, { width: LABEL_WIDTH, height: LABEL_HEIGHT, labelpos: 'c' }, edgeKey(edge));
  }
  layout(graph);
  const placedNodes = [...byName.values()].map((node) => {
    const box = graph.node(node.name) as { x: number; y: number; width: number; height: number };
    return { node, x: box.x, y: box.y, width: box.width, height: box.height };
  });
  const placedEdges = edges.map((edge) => {
    const label = graph.edge({ v: edge.client, w: edge.server, name: edgeKey(edge) }) as {
      points?: Point[];
      x?: number;
      y?: number;
    };
    const points = (label.points ?? []).map(({ x, y }) => ({ x, y }));
    const middle = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
    return { edge, points, label: { x: label.x ?? middle.x, y: label.y ?? middle.y } };
  });
  const size = graph.graph() as { width?: number; height?: number };
  return { nodes: placedNodes, edges: placedEdges, width: Math.ceil(size.width ?? 0), height: Math.ceil(size.height ?? 0) };
}

function placeholderNode(name: string): DependencyNode {
  return {
    name,
    kind: 'external',
    status: 'healthy',
    reasons: [],
    requests: 0,
    rate: 0,
    errors: 0,
    errorRatio: null,
    latencyMs: { p50: null, p95: null, p99: null },
  };
}

/** An SVG path through `points`: straight segments, smoothed with quadratic curves at the bends. */
export function edgePath(points: Point[]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  if (rest.length === 0) return `M${round(first.x)},${round(first.y)}`;
  let path = `M${round(first.x)},${round(first.y)}`;
  for (let index = 0; index < rest.length - 1; index += 1) {
    const control = rest[index] as Point;
    const next = rest[index + 1] as Point;
    const middle = { x: (control.x + next.x) / 2, y: (control.y + next.y) / 2 };
    path += ` Q${round(control.x)},${round(control.y)} ${round(middle.x)},${round(middle.y)}`;
  }
  const last = rest[rest.length - 1] as Point;
  return `${path} L${round(last.x)},${round(last.y)}`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The edges touching a node, split into what calls it and what it calls. */
export function edgesOf(name: string, edges: DependencyEdge[]): { upstream: DependencyEdge[]; downstream: DependencyEdge[] } {
  return {
    upstream: edges.filter((edge) => edge.server === name),
    downstream: edges.filter((edge) => edge.client === name),
  };
}
