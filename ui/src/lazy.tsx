// Pages that bring a large library (the dependency map's graph layout, the charts) are loaded
// on first visit, so the first paint of the other pages does not pay for them.

import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorPanel, Loading } from './components/messages';

/** Wraps a dynamically imported page: shows a loading line, then the page, or the failure in words. */
export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>, what: string): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  return function LazyPage(props: P) {
    const [, setReady] = useState(0);
    const [error, setError] = useState<unknown>(null);
    useEffect(() => {
      if (loaded) return;
      load().then(
        (page) => {
          loaded = page;
          setReady(1);
        },
        (failure: unknown) => setError(failure),
      );
    }, []);
    if (error) return <ErrorPanel error={`the ${what} page's script did not load (${String(error)}); reload the page`} what={`the ${what}`} />;
    const Page = loaded;
    return Page ? <Page {...props} /> : <Loading what={`the ${what}`} />;
  };
}
