// The span details panel: identity, timing, status, attributes, resource, scope, events and
// links of the selected span.

import { formatDurationNanos, shortId } from '../format';
import type { Attribute, TypedValue } from '../types';
import { tracePath } from '../url';
import { serviceColor } from './colors';
import { offsetNanos, type SpanNode, type SpanTree } from './tree';

/** An attribute value as text: strings as they are, the rest as JSON-ish text. */
export function valueText(value: TypedValue): string {
  switch (value.type) {
    case 'empty':
      return '';
    case 'string':
      return value.value;
    case 'bool':
    case 'int':
    case 'double':
      return String(value.value);
    case 'bytes':
      return `base64:${value.value}`;
    case 'array':
      return `[${value.value.map((item) => (item.type === 'string' ? JSON.stringify(item.value) : valueText(item))).join(', ')}]`;
    case 'map':
      return `{${value.value.map((entry) => `${entry.key}: ${entry.type === 'string' ? JSON.stringify(entry.value) : valueText(entry)}`).join(', ')}}`;
  }
}

function Attributes({ attributes, dropped }: { attributes: Attribute[]; dropped?: number }) {
  if (attributes.length === 0 && !dropped) return <p class="muted small">none</p>;
  return (
    <table class="attributes">
      <tbody>
        {[...attributes]
          .sort((a, b) => a.key.localeCompare(b.key))
          .map((attribute) => (
            <tr>
              <th title={attribute.type}>{attribute.key}</th>
              <td class={`value type-${attribute.type}`}>{valueText(attribute)}</td>
            </tr>
          ))}
        {dropped ? (
          <tr>
            <td colSpan={2} class="muted small">
              {dropped} dropped by the sender
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}

export function SpanDetails({
  node,
  tree,
  traceId,
  onSelect,
  onClose,
}: {
  node: SpanNode;
  tree: SpanTree;
  traceId: string;
  onSelect: (spanId: string) => void;
  onClose: () => void;
}) {
  const span = node.span;
  const criticalNanos = node.critical.reduce((sum, segment) => sum + (segment.endNanos - segment.startNanos), 0);
  return (
    <aside class="details" data-testid="span-details" aria-label="Span details">
      <header>
        <button type="button" class="close" aria-label="Close details" onClick={onClose}>
          ×
        </button>
        <h2>{span.name}</h2>
        <div>
          <span class="swatch" style={{ background: serviceColor(tree.serviceColors.get(span.serviceName)) }} />
          {span.serviceName} · {span.kind}
        </div>
      </header>
      <dl class="facts">
        <dt>Duration</dt>
        <dd>{formatDurationNanos(span.durationNanos)}</dd>
        <dt>Starts at</dt>
        <dd>+{formatDurationNanos(node.startNanos)}</dd>
        <dt>Status</dt>
        <dd class={node.isError ? 'bad' : ''} data-testid="span-status">
          {span.status.code}
          {span.status.message ? `: ${span.status.message}` : ''}
        </dd>
        <dt>Span id</dt>
        <dd class="mono">{span.spanId}</dd>
        <dt>Parent</dt>
        <dd class="mono">
          {span.parentSpanId ? (
            tree.byId.has(span.parentSpanId) ? (
              <button type="button" class="link mono" onClick={() => onSelect(span.parentSpanId as string)}>
                {span.parentSpanId}
              </button>
            ) : (
              <>
                {span.parentSpanId} <span class="badge orphan">not in this trace</span>
              </>
            )
          ) : (
            'none (root)'
          )}
        </dd>
        {criticalNanos > 0 ? (
          <>
            <dt>Critical path</dt>
            <dd>{formatDurationNanos(criticalNanos)} of this span's time</dd>
          </>
        ) : null}
        {span.traceState ? (
          <>
            <dt>Trace state</dt>
            <dd class="mono">{span.traceState}</dd>
          </>
        ) : null}
      </dl>
      {node.orphan ? (
        <p class="warning">Orphan: its parent span {span.parentSpanId} never arrived (or its parent chain loops).</p>
      ) : null}
      {span.clockSkew ? <p class="warning">Clock skew: {span.clockSkew.warning}</p> : null}
      <h3>Attributes</h3>
      <Attributes attributes={span.attributes} dropped={span.droppedAttributesCount} />
      <h3>Events ({span.events.length})</h3>
      {span.events.length === 0 && !span.droppedEventsCount ? <p class="muted small">none</p> : null}
      {span.events.map((event) => (
        <div class="event">
          <div>
            <span class="muted">+{formatDurationNanos(offsetNanos(event.timeUnixNano, tree.startUnixNano))}</span>{' '}
            <strong>{event.name}</strong>
          </div>
          <Attributes attributes={event.attributes} dropped={event.droppedAttributesCount} />
        </div>
      ))}
      {span.droppedEventsCount ? <p class="muted small">{span.droppedEventsCount} events dropped by the sender</p> : null}
      <h3>Links ({span.links.length})</h3>
      {span.links.length === 0 && !span.droppedLinksCount ? <p class="muted small">none</p> : null}
      {span.links.map((link) => (
        <div class="link-item">
          {link.traceId === traceId && tree.byId.has(link.spanId) ? (
            <button type="button" class="link mono" onClick={() => onSelect(link.spanId)}>
              span {link.spanId} (this trace)
            </button>
          ) : (
            <a class="mono" href={tracePath(link.traceId, link.spanId)} title={`${link.traceId} / ${link.spanId}`}>
              trace {shortId(link.traceId)}… span {link.spanId}
            </a>
          )}
          <Attributes attributes={link.attributes} dropped={link.droppedAttributesCount} />
        </div>
      ))}
      {span.droppedLinksCount ? <p class="muted small">{span.droppedLinksCount} links dropped by the sender</p> : null}
      <h3>Resource</h3>
      <Attributes attributes={span.resource.attributes} dropped={span.resource.droppedAttributesCount} />
      {span.resource.schemaUrl ? <p class="muted small">schema {span.resource.schemaUrl}</p> : null}
      <h3>Scope</h3>
      <p class="small">
        {span.scope.name || <span class="muted">unnamed</span>}
        {span.scope.version ? ` ${span.scope.version}` : ''}
      </p>
      {span.scope.attributes.length ? <Attributes attributes={span.scope.attributes} /> : null}
    </aside>
  );
}
