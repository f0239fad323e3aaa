// Compile-only check of index.d.ts (scripts/test-js runs `tsc --noEmit --strict` on it): the
// documented usage type-checks, and misuse does not (each @ts-expect-error must be an error).
import {
  cleanPageId, decodeEntry, encodeEntry, handle, merge, newPageState, renderConflict, sha256Hex,
  DecodeError, InvalidArgumentError, PageIdError, WikiSyncError,
  type Decision, type Entry, type Input, type MergeResult, type PageState, type SiteConfig,
} from 'wikisync';

const config: SiteConfig = {
  site: 'https://a.example/',
  rules: [{ namespace: 'handbook', role: { type: 'mirror', source: 'https://b.example/', whenGone: 'keep' } }],
  lockSeconds: 900,
  mediaType: 'text/x-dokuwiki',
};
const state: PageState = newPageState(cleanPageId('Handbook:Start'));
const input: Input = { type: 'tick', now: 1 };
const decision: Decision = handle(config, state, input);
for (const action of decision.actions) {
  switch (action.type) {
    case 'publish': {
      const xml: string = encodeEntry(action.entry);
      const back: Entry = decodeEntry(new TextEncoder().encode(xml), { maxBytes: 1 << 20 });
      if (back.kind.type === 'page') console.log(back.kind.mediaType, back.kind.text.length);
      break;
    }
    case 'write_page':
      console.log(action.text, action.author ?? 'anonymous', action.minor);
      break;
    case 'record_conflict':
      console.log(renderConflict(action.conflict));
      break;
    default:
      break;
  }
}
if (decision.outcome.type === 'ignore') console.log(decision.outcome.reason);
const m: MergeResult = merge('a', 'b', 'c', { words: true, labels: ['o', 'b', 't'], markerSize: 7 });
console.log(m.clean, m.conflicts, m.regions.length, sha256Hex(m.text));

try {
  cleanPageId('..');
} catch (e) {
  if (e instanceof PageIdError || e instanceof DecodeError) console.log(e.code);
  if (e instanceof InvalidArgumentError) { const c: 'invalid_argument' = e.code; console.log(c); }
  if (e instanceof WikiSyncError) console.log(e.message);
}

// @ts-expect-error: keys are camelCase
const snake: SiteConfig = { site: 's', rules: [], lock_seconds: 900, mediaType: 't' };
// @ts-expect-error: unknown input type
handle(config, state, { type: 'reboot', now: 1 });
// @ts-expect-error: merge options are checked
merge('a', 'b', 'c', { word: true });
console.log(snake);
