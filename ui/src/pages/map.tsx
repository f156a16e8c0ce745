// Dependency map: the service graph of `GET /api/v1/dependencies` for a range, laid out left
// to right by dagre and drawn as SVG. Nodes are coloured by health; peers derived from spans
// (callers from outside, databases, messaging systems, external services) are drawn dashed
// with their kind. Clicking a service opens its page (`/services/{name}`); clicking a peer or
// an edge opens a panel with its figures and links to traces. Range and selection live in the
// query string.

import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { EmptyState, ErrorPanel, Loading, SendDataHint } from '../components/messages';
import { RangeSelect } from '../components/range-select';
import { formatMillis, formatPercent, formatRate } from '../format';
import {
  connectionLabel,
  edgeKey,
  edgeLabelLines,
  edgePath,
  edgesOf,
  isVirtualKind,
  kindLabel,
  layoutMap,
  LABEL_HEIGHT,
  LABEL_WIDTH,
  type PlacedEdge,
  type PlacedNode,
} from '../map/layout';
import { navigate } from '../router';
import type { DependencyEdge, DependencyNode, Figures } from '../types';
import { useFetch } from '../use-fetch';
import { mapStateToQuery, parseMapState, searchForEdge, searchForService, servicePath, windowQuery, type MapState } from '../url';

function go(state: MapState, replace = true) {
  navigate(`/map${mapStateToQuery(state)}`, { replace });
}

function select(state: MapState, selection: Partial<MapState>) {
  go({ ...state, node: '', from: '', to: '', type: '', ...selection });
}

/** Where clicking a service node leads. */
function serviceTarget(name: string, state: MapState): string {
  return servicePath(name, state.range);
}

function activate(handler: () => void) {
  return {
    onClick: handler,
    onKeyDown: (event: KeyboardEvent) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        handler();
      }
    },
  };
}

function NodeShape({ placed }: { placed: PlacedNode }) {
  const { width, height, node } = placed;
  const x = -width / 2;
  const y = -height / 2;
  if (node.kind === 'database') {
    // A cylinder: the top ellipse, the body, the bottom arc.
    const ry = 7;
    return (
      <>
        <path
          class="shape"
          d={`M${x},${y + ry} A${width / 2},${ry} 0 0 1 ${-x},${y + ry} V${-y - ry} A${width / 2},${ry} 0 0 1 ${x},${-y - ry} Z`}
        />
        <path class="shape-line" d={`M${x},${y + ry} A${width / 2},${ry} 0 0 0 ${-x},${y + ry}`} />
      </>
    );
  }
  if (node.kind === 'messaging') {
    const slant = 10;
    return <path class="shape" d={`M${x + slant},${y} H${-x} L${-x - slant},${-y} H${x} Z`} />;
  }
  const radius = node.kind === 'user' ? height / 2 : 6;
  return <rect class="shape" x={x} y={y} width={width} height={height} rx={radius} ry={radius} />;
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function MapNode({ placed, state, selected }: { placed: PlacedNode; state: MapState; selected: boolean }) {
  const { node } = placed;
  const virtual = isVirtualKind(node.kind);
  const onActivate = () => (virtual ? select(state, { node: node.name }) : navigate(serviceTarget(node.name, state)));
  const figures =
    node.kind === 'user' ? 'callers from outside' : `${formatRate(node.rate)} · ${formatPercent(node.errorRatio)} err`;
  return (
    <g
      class={`map-node kind-${node.kind} status-${node.status}${virtual ? ' virtual' : ''}${selected ? ' selected' : ''}`}
      transform={`translate(${placed.x},${placed.y})`}
      data-node={node.name}
      data-kind={node.kind}
      data-status={node.status}
      role="link"
      tabIndex={0}
      aria-label={`${kindLabel(node.kind)} ${node.name}, ${node.status}`}
      {...activate(onActivate)}
    >
      <title>
        {`${node.name} (${kindLabel(node.kind)}): ${node.status}${node.reasons.length ? ` — ${node.reasons.join('; ')}` : ''}`}
      </title>
      <NodeShape placed={placed} />
      {virtual ? (
        <text class="node-kind" x={0} y={-placed.height / 2 - 4} text-anchor="middle">
          {kindLabel(node.kind)}
        </text>
      ) : null}
      <text class="node-name" x={0} y={-3} text-anchor="middle">
        {truncate(node.name, 22)}
      </text>
      <text class="node-figures" x={0} y={13} text-anchor="middle">
        {figures}
      </text>
    </g>
  );
}

function MapEdge({ placed, state, selected }: { placed: PlacedEdge; state: MapState; selected: boolean }) {
  const { edge } = placed;
  const failing = (edge.errorRatio ?? 0) > 0;
  const lines = edgeLabelLines(edge);
  const onActivate = () => select(state, { from: edge.client, to: edge.server, type: edge.connectionType });
  return (
    <g
      class={`map-edge${failing ? ' failing' : ''}${selected ? ' selected' : ''}${edge.connectionType ? ' virtual' : ''}`}
      data-edge={edgeKey(edge)}
      data-client={edge.client}
      data-server={edge.server}
      role="button"
      tabIndex={0}
      aria-label={`${edge.client} calls ${edge.server}: ${lines.join(', ')}`}
      {...activate(onActivate)}
    >
      <path class="edge-hit" d={edgePath(placed.points)} />
      <path class="edge-line" d={edgePath(placed.points)} marker-end={`url(#${failing ? 'arrow-bad' : 'arrow'})`} />
      <g class="edge-label" transform={`translate(${placed.label.x},${placed.label.y})`}>
        <rect x={-LABEL_WIDTH / 2 + 14} y={-LABEL_HEIGHT / 2} width={LABEL_WIDTH - 28} height={LABEL_HEIGHT} rx={4} />
        {lines.map((line, index) => (
          <text x={0} y={-LABEL_HEIGHT / 2 + 13 + index * 13} text-anchor="middle" class={index === 1 && failing ? 'bad' : ''}>
            {line}
          </text>
        ))}
      </g>
    </g>
  );
}

function FiguresList({ figures }: { figures: Figures }) {
  return (
    <dl class="facts">
      <dt>Requests</dt>
      <dd>{Math.round(figures.requests)}</dd>
      <dt>Rate</dt>
      <dd>{formatRate(figures.rate)}</dd>
      <dt>Errors</dt>
      <dd class={figures.errors > 0 ? 'bad' : ''}>
        {Math.round(figures.errors)} ({formatPercent(figures.errorRatio)})
      </dd>
      <dt>Latency</dt>
      <dd>
        p50 {formatMillis(figures.latencyMs.p50)} · p95 {formatMillis(figures.latencyMs.p95)} · p99{' '}
        {formatMillis(figures.latencyMs.p99)}
      </dd>
    </dl>
  );
}

function EdgeLink({ edge, state }: { edge: DependencyEdge; state: MapState }) {
  return (
    <li>
      <button type="button" class="link" onClick={() => select(state, { from: edge.client, to: edge.server, type: edge.connectionType })}>
        {edge.client} → {edge.server}
      </button>{' '}
      <span class="muted small">
        {formatRate(edge.rate)}, {formatPercent(edge.errorRatio)} err
      </span>
    </li>
  );
}

function Panel({ title, state, children }: { title: string; state: MapState; children: ComponentChildren }) {
  return (
    <aside class="map-panel" data-testid="map-panel">
      <header>
        <h2>{title}</h2>
        <button type="button" class="close" aria-label="Close" onClick={() => select(state, {})}>
          ×
        </button>
      </header>
      {children}
    </aside>
  );
}

function NodePanel({ node, edges, services, state }: { node: DependencyNode; edges: DependencyEdge[]; services: Set<string>; state: MapState }) {
  const { upstream, downstream } = edgesOf(node.name, edges);
  return (
    <Panel title={node.name} state={state}>
      <p>
        <span class="muted">{kindLabel(node.kind)}</span>{' '}
        <span class={`health health-${node.status}`}>{node.status}</span>
      </p>
      {node.reasons.length ? <p class="reasons">{node.reasons.join('; ')}</p> : null}
      {node.kind === 'user' ? (
        <p class="muted small">Requests from outside: SERVER spans without a parent.</p>
      ) : (
        <FiguresList figures={node} />
      )}
      {node.kind === 'service' ? (
        <p>
          <a href={serviceTarget(node.name, state)}>Service page</a> · <a href={searchForService(node.name, state.range)}>Traces</a>
        </p>
      ) : null}
      {upstream.length ? (
        <>
          <h3>Called by</h3>
          <ul class="edge-list">
            {upstream.map((edge) => (
              <EdgeLink edge={edge} state={state} />
            ))}
          </ul>
        </>
      ) : null}
      {downstream.length ? (
        <>
          <h3>Calls</h3>
          <ul class="edge-list">
            {downstream.map((edge) => (
              <EdgeLink edge={edge} state={state} />
            ))}
          </ul>
        </>
      ) : null}
      {node.kind !== 'service' && upstream.some((edge) => services.has(edge.client)) ? (
        <p class="small">
          Traces of its callers:{' '}
          {upstream
            .filter((edge) => services.has(edge.client))
            .map((edge, index) => (
              <>
                {index ? ', ' : ''}
                <a href={searchForService(edge.client, state.range)}>{edge.client}</a>
              </>
            ))}
        </p>
      ) : null}
    </Panel>
  );
}

function EdgePanel({ edge, services, state }: { edge: DependencyEdge; services: Set<string>; state: MapState }) {
  const ends = [edge.client, edge.server].filter((name) => services.has(name));
  return (
    <Panel title={`${edge.client} → ${edge.server}`} state={state}>
      <p class="muted">{connectionLabel(edge.connectionType)}</p>
      <FiguresList figures={edge} />
      <p class="muted small">
        {edge.client === 'user'
          ? 'Latency as the server measured it.'
          : 'Latency as the client measured it.'}
      </p>
      <p data-testid="edge-traces">
        <a href={searchForEdge(edge.client, edge.server, state.range)} class="edge-call-link">
          Traces of these calls
        </a>
        {ends.map((name) => (
          <>
            {' · '}
            <a href={searchForService(name, state.range)} class="edge-trace-link">
              Traces through {name}
            </a>
          </>
        ))}
      </p>
    </Panel>
  );
}

function Legend() {
  return (
    <div class="legend map-legend">
      <span class="legend-item">
        <span class="swatch health-fill-healthy" /> healthy
      </span>
      <span class="legend-item">
        <span class="swatch health-fill-degraded" /> degraded
      </span>
      <span class="legend-item">
        <span class="swatch health-fill-unhealthy" /> unhealthy
      </span>
      <span class="legend-item muted">dashed: a peer seen only from spans (caller from outside, database, messaging, external)</span>
      <span class="legend-item muted">edge labels: rate · error % · p95</span>
    </div>
  );
}

function MapSvg({ nodes, edges, state }: { nodes: DependencyNode[]; edges: DependencyEdge[]; state: MapState }) {
  const placed = useMemo(() => layoutMap(nodes, edges), [nodes, edges]);
  const selectedEdge = state.from ? edgeKey({ client: state.from, server: state.to, connectionType: state.type }) : '';
  return (
    <div class="map-canvas">
      <svg
        data-testid="map"
        width={placed.width}
        height={placed.height}
        viewBox={`0 0 ${placed.width} ${placed.height}`}
        data-node-count={placed.nodes.length}
        data-edge-count={placed.edges.length}
      >
        <defs>
          {['arrow', 'arrow-bad'].map((id) => (
            <marker id={id} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" markerHeight="10" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class={id} />
            </marker>
          ))}
        </defs>
        {placed.edges.map((edge) => (
          <MapEdge key={edgeKey(edge.edge)} placed={edge} state={state} selected={edgeKey(edge.edge) === selectedEdge} />
        ))}
        {placed.nodes.map((node) => (
          <MapNode key={node.node.name} placed={node} state={state} selected={node.node.name === state.node} />
        ))}
      </svg>
    </div>
  );
}

export function MapPage({ search }: { search: string }) {
  const state = parseMapState(search);
  const [refreshes, setRefreshes] = useState(0);
  const { data, error, loading } = useFetch(`${state.range}#${refreshes}`, (signal) =>
    api.dependencies(windowQuery(state.range, Date.now()), signal),
  );
  const services = useMemo(() => new Set((data?.nodes ?? []).filter((node) => node.kind === 'service').map((node) => node.name)), [data]);
  const selectedNode = data && state.node ? data.nodes.find((node) => node.name === state.node) : undefined;
  const selectedEdge =
    data && state.from
      ? data.edges.find((edge) => edge.client === state.from && edge.server === state.to && edge.connectionType === state.type)
      : undefined;
  const selection = state.node || state.from;
  return (
    <section>
      <header class="page-header">
        <h1>Dependency map</h1>
        <div class="controls">
          <RangeSelect value={state.range} onChange={(range) => go({ ...state, range }, false)} />
          <button type="button" onClick={() => setRefreshes(refreshes + 1)}>
            Refresh
          </button>
        </div>
      </header>
      {error ? <ErrorPanel error={error} what="the dependency map" /> : null}
      {!data && loading ? <Loading what="the dependency map" /> : null}
      {data && data.nodes.length === 0 ? (
        <EmptyState title="No service has sent spans in this range, so there is no map to draw.">
          <p>
            The map is derived from spans: a CLIENT span and the SERVER span it calls make an edge, a CLIENT span with{' '}
            <code>db.system</code> an edge to a database.
          </p>
          <SendDataHint />
        </EmptyState>
      ) : null}
      {data && data.nodes.length > 0 ? (
        <div data-testid="map-view" data-loading={loading ? 'true' : 'false'}>
          <Legend />
          {data.edges.length === 0 ? (
            <p class="hint muted" data-testid="no-edges">
              No calls between services in this range: edges come from CLIENT spans paired with the SERVER spans they call (the
              server span's parent is the client span), or CLIENT spans naming a peer (<code>db.system</code>,{' '}
              <code>peer.service</code>, <code>server.address</code>).
            </p>
          ) : null}
          <div class="map-layout">
            <MapSvg nodes={data.nodes} edges={data.edges} state={state} />
            {selectedNode ? <NodePanel node={selectedNode} edges={data.edges} services={services} state={state} /> : null}
            {selectedEdge ? <EdgePanel edge={selectedEdge} services={services} state={state} /> : null}
            {selection && !selectedNode && !selectedEdge && !loading ? (
              <Panel title="Not in this range" state={state}>
                <p data-testid="missing-selection">
                  {state.node ? `No node named ${state.node}` : `No edge ${state.from} → ${state.to}`} in this range.
                </p>
              </Panel>
            ) : null}
          </div>
        </div>
      ) : null}
    </section>
  );
}
