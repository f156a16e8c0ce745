// A form's draft of state that lives in the address: edited freely, and replaced by the
// address' state when that changes (a link, back or forward, a submitted search), but not
// when the form mounts, so that what is typed before the first effect runs is kept.

import { useEffect, useRef, useState } from 'preact/hooks';

export function useDraft<S>(state: S, key: string) {
  const [draft, setDraft] = useState(state);
  const shown = useRef(key);
  useEffect(() => {
    if (shown.current !== key) {
      shown.current = key;
      setDraft(state);
    }
  }, [key]);
  return [draft, setDraft] as const;
}
