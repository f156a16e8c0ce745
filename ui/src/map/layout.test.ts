import { describe, expect, it } from 'vitest';
import type { DependencyEdge, DependencyNode, NodeKind } from '../types';
import { edgeKey, edgeLabelLines, edgePath, edgesOf, isVirtualKind, layoutMap, NODE_WIDTH } from './layout';

const figures = { requests: 10, rate: 2, errors: 0, errorRatio: 0, latencyMs: { p50: 5, p95: 12, p99: 20 } };

function node(name: string, kind: NodeKind = 'service'): DependencyNode {
  return { name, kind, status: 'healthy', reasons: [], ...figures };
}

function edge(client: string, server: string, connectionType = '', errorRatio: number | null = 0): DependencyEdge {
  return { client, server, connectionType, ...figures, errorRatio };
}

const nodes = [node('user', 'user'), node('frontend'), node('checkout'), node('orders', 'database'), node('payments')];
const edges = [
  edge('user', 'frontend', 'virtual_node'),
  edge('frontend', 'checkout'),
  edge('checkout', 'payments', '', 0.25),
  edge('checkout', 'orders', 'database'),
];

describe('layoutMap', () => {
  it('lays callers out left of what they call', () => {
    const placed = layoutMap(nodes, edges);
    const x = Object.fromEntries(placed.nodes.map((found) => [found.node.name, found.x]));
    expect(x.user).toBeLessThan(x.frontend as number);
    expect(x.frontend).toBeLessThan(x.checkout as number);
    expect(x.checkout).toBeLessThan(x.payments as number);
    expect(x.checkout).toBeLessThan(x.orders as number);
    expect(placed.nodes).toHaveLength(5);
    expect(placed.width).toBeGreaterThan(4 * NODE_WIDTH);
  });

  it('gives every edge a path from its client to its server and a label between them', () => {
    const placed = layoutMap(nodes, edges);
    const boxes = new Map(placed.nodes.map((found) => [found.node.name, found]));
    for (const { edge: drawn, points, label } of placed.edges) {
      const client = boxes.get(drawn.client)!;
      const server = boxes.get(drawn.server)!;
      expect(points.length).toBeGreaterThanOrEqual(2);
      expect(points[0]!.x).toBeGreaterThanOrEqual(client.x);
      expect(points[points.length - 1]!.x).toBeLessThanOrEqual(server.x);
      expect(label.x).toBeGreaterThan(client.x);
      expect(label.x).toBeLessThan(server.x);
    }
  });

  it('keeps parallel edges of different connection types apart and survives cycles', () => {
    const placed = layoutMap(
      [node('a'), node('b')],
      [edge('a', 'b'), edge('a', 'b', 'messaging_system'), edge('b', 'a')],
    );
    expect(placed.edges).toHaveLength(3);
    const keys = new Set(placed.edges.map((found) => edgeKey(found.edge)));
    expect(keys.size).toBe(3);
    for (const found of placed.edges) expect(found.points.length).toBeGreaterThanOrEqual(2);
  });

  it('adds a node for an edge end the node list lacks', () => {
    const placed = layoutMap([node('a')], [edge('a', 'ghost', 'virtual_node')]);
    expect(placed.nodes.map((found) => [found.node.name, found.node.kind])).toEqual([
      ['a', 'service'],
      ['ghost', 'external'],
    ]);
  });

  it('lays out an empty graph', () => {
    const placed = layoutMap([], []);
    expect(placed.nodes).toEqual([]);
    expect(placed.edges).toEqual([]);
  });
});

describe('map helpers', () => {
  it('labels edges with rate, error % and p95', () => {
    expect(edgeLabelLines(edge('a', 'b', '', 0.25))).toEqual(['2/s', '25% err', 'p95 12ms']);
    expect(edgeLabelLines({ ...edge('a', 'b', '', null), latencyMs: { p50: null, p95: null, p99: null } })).toEqual([
      '2/s',
      '– err',
      'p95 –',
    ]);
  });

  it('draws paths with curves at the bends', () => {
    expect(edgePath([])).toBe('');
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 0 }])).toBe('M0,0 L10,0');
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 10 }])).toBe('M0,0 Q10,0 10,5 L10,10');
  });

  it('splits a node’s edges into callers and callees', () => {
    const { upstream, downstream } = edgesOf('checkout', edges);
    expect(upstream.map((found) => found.client)).toEqual(['frontend']);
    expect(downstream.map((found) => found.server)).toEqual(['payments', 'orders']);
  });

  it('tells virtual kinds from services', () => {
    expect(isVirtualKind('service')).toBe(false);
    for (const kind of ['user', 'database', 'messaging', 'external'] as const) expect(isVirtualKind(kind)).toBe(true);
  });
});
