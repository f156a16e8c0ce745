// The search box of the trace view: the text (kept in the address by the page), "k of n
// matches", and previous/next buttons; Enter goes to the next match, Shift+Enter to the
// previous one.

import { matchCountText } from './search';

export function TraceSearchBox({
  text,
  current,
  count,
  onText,
  onStep,
}: {
  text: string;
  /** The current match, from 0; -1 for none. */
  current: number;
  count: number;
  onText: (text: string) => void;
  onStep: (step: 1 | -1) => void;
}) {
  const searching = text.trim() !== '';
  return (
    <div class="trace-search" role="search" data-testid="trace-search">
      <input
        type="search"
        name="find"
        value={text}
        placeholder="Find: operation, service, span id, attribute"
        aria-label="Search within the trace"
        autocomplete="off"
        spellcheck={false}
        onInput={(event) => onText((event.target as HTMLInputElement).value)}
        onKeyDown={(event) => {
          if (event.key !== 'Enter') return;
          event.preventDefault();
          onStep(event.shiftKey ? -1 : 1);
        }}
      />
      <span class={`match-count ${searching && count === 0 ? 'warning' : 'muted'}`} data-testid="match-count" aria-live="polite">
        {searching ? matchCountText(current, count) : ''}
      </span>
      <button
        type="button"
        aria-label="Previous match"
        title="Previous match (Shift+Enter)"
        data-testid="previous-match"
        disabled={count === 0}
        onClick={() => onStep(-1)}
      >
        ↑
      </button>
      <button type="button" aria-label="Next match" title="Next match (Enter)" data-testid="next-match" disabled={count === 0} onClick={() => onStep(1)}>
        ↓
      </button>
    </div>
  );
}
