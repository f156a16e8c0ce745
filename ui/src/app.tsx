// The shell: navigation and the page the address names.

import { SearchPage } from './pages/search';
import { ServicesPage } from './pages/services';
import { TracePage } from './pages/trace';
import { useLocation } from './router';
import { parseRoute } from './url';

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
      {link('/', 'Services', page === 'services')}
      {link('/traces', 'Traces', page === 'search' || page === 'trace')}
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
        {route.page === 'notFound' ? (
          <div class="error-panel" role="alert" data-testid="not-found">
            <strong>No page at {route.path}.</strong> The UI has <a href="/">Services</a> and <a href="/traces">Traces</a>; the
            API is under <code>/api/v1</code>.
          </div>
        ) : null}
      </main>
    </>
  );
}
