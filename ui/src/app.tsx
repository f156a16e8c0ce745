// The shell: navigation and the page the address names.

import { lazyPage } from './lazy';
import { SearchPage } from './pages/search';
import { ServicesPage } from './pages/services';
import { TracePage } from './pages/trace';
import { useLocation } from './router';
import { parseRoute } from './url';

const MapPage = lazyPage(() => import('./pages/map').then((module) => module.MapPage), 'dependency map');
const AlertsPage = lazyPage(() => import('./pages/alerts').then((module) => module.AlertsPage), 'alerts');
const LogsPage = lazyPage(() => import('./pages/logs').then((module) => module.LogsPage), 'logs');
const MetricsPage = lazyPage(() => import('./pages/metrics').then((module) => module.MetricsPage), 'metrics explorer');
const ServicePage = lazyPage(() => import('./pages/service').then((module) => module.ServicePage), 'service');

function Nav({ page }: { page: string }) {
  const link = (href: string, label: string, active: boolean) => (
    <a href={href} class={active ? 'active' : ''} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <nav class="top-nav">
      <a href="/" class="brand">
        Sightline
      </a>
      {link('/', 'Services', page === 'services' || page === 'service')}
      {link('/map', 'Dependency map', page === 'map')}
      {link('/traces', 'Traces', page === 'search' || page === 'trace')}
      {link('/logs', 'Logs', page === 'logs')}
      {link('/metrics-explorer', 'Metrics', page === 'metrics')}
      {link('/alerts', 'Alerts', page === 'alerts')}
    </nav>
  );
}

export function App() {
  const location = useLocation();
  const route = parseRoute(location.pathname);
  return (
    <>
      <Nav page={route.page} />
      <main>
        {route.page === 'services' ? <ServicesPage search={location.search} /> : null}
        {route.page === 'search' ? <SearchPage search={location.search} /> : null}
        {route.page === 'trace' ? <TracePage key={route.traceId} traceId={route.traceId} search={location.search} /> : null}
        {route.page === 'map' ? <MapPage search={location.search} /> : null}
        {route.page === 'alerts' ? <AlertsPage search={location.search} /> : null}
        {route.page === 'logs' ? <LogsPage search={location.search} /> : null}
        {route.page === 'metrics' ? <MetricsPage search={location.search} /> : null}
        {route.page === 'service' ? <ServicePage key={route.name} name={route.name} search={location.search} /> : null}
        {route.page === 'notFound' ? (
          <div class="error-panel" role="alert" data-testid="not-found">
            <strong>No page at {route.path}.</strong> The UI has <a href="/">Services</a>, the <a href="/map">Dependency map</a>, <a href="/traces">Traces</a>,{' '}
            <a href="/logs">Logs</a>, <a href="/metrics-explorer">Metrics</a> and <a href="/alerts">Alerts</a>; the
            API is under <code>/api/v1</code>.
          </div>
        ) : null}
      </main>
    </>
  );
}
