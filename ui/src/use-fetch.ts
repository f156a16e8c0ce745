// Loads data for a page: refetches when `key` changes, aborts the request it replaces, and
// keeps the previous data while the next loads so the page does not flash. `loading` is true
// from the very render in which the key changes, so stale data is never shown as current.

import { useEffect, useState } from 'preact/hooks';

export interface Fetched<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
}

interface Settled<T> {
  /** The key the data or error answers. */
  key: string | null;
  data: T | null;
  error: unknown;
}

export function useFetch<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Fetched<T> {
  const [settled, setSettled] = useState<Settled<T>>({ key: null, data: null, error: null });
  useEffect(() => {
    if (key === null) {
      setSettled({ key, data: null, error: null });
      return;
    }
    const controller = new AbortController();
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setSettled({ key, data, error: null });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setSettled({ key, data: null, error });
      },
    );
    return () => controller.abort();
    // `load` closes over what `key` names; the key alone decides when to refetch.
  }, [key]);
  const current = settled.key === key;
  return {
    data: settled.data,
    error: current ? settled.error : null,
    loading: key !== null && !current,
  };
}
