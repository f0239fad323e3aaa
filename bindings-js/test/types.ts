// Compile-only check of index.d.ts (scripts/test-js runs `tsc --noEmit --strict` on it): the
// documented usage type-checks, every union is handled exhaustively (a `never` default), and
// misuse does not compile (each @ts-expect-error must be an error). That the unions name
// exactly the core's variants is checked by bindings-js/tests/types.rs.
import {
  init, initSync, cleanPageId, decodeEntry, decodeFeed, encodeEntry, handle, isReadOnly, merge,
  namespaceOf, needsPublish, newPageState, notices, planSetup, publishFailure, renderConflict,
  sameNode, sha256Hex, sha256HexBytes, verifyMedia, itemSubject, normalizeSiteId, mediaNeedsPublish,
  sourceOfItems, checkMirrorSource, worthReporting, noticeWorthReporting, checkSubscription,
  sendsHeartbeat, decodeRetraction, followTarget, nodeRef, PageState,
  DecodeError, InvalidArgumentError, MediaError, PageIdError, SetupError, WikiSyncError,
  type Action, type Decision, type Entry, type FeedItem, type IgnoreReason, type Input, type ItemSubject,
  type MediaErrorCode, type MergeResult, type NamespaceSetup, type Notice, type Outcome, type PageStateJSON,
  type PageIdErrorCode, type PendingConflict, type PublishFailure, type RefuseReason, type SetupRequest,
  type SetupStep, type SiteConfig, type SiteId,
} from 'wikisync';

const unreachable = (value: never): never => {
  throw new Error(`unhandled ${JSON.stringify(value)}`);
};

await init();
await init(new URL('https://cdn.example/wikisync_js_bg.wasm'));
await init(fetch('https://cdn.example/wikisync_js_bg.wasm'));
initSync(new Uint8Array(0));
initSync();

const config: SiteConfig = {
  site: 'https://a.example/',
  rules: [
    { namespace: 'handbook', role: { type: 'mirror', source: 'https://b.example/', whenGone: 'keep' } },
    { namespace: 'blog', role: { type: 'source' } },
    { namespace: '', role: { type: 'peer', peers: ['https://b.example/'] } },
  ],
  lockSeconds: 900,
  mediaType: 'text/x-dokuwiki',
  pageUrl: 'https://a.example/doku.php?id={page}&rev={revision}',
  mediaUrl: 'https://a.example/media-fetch?media={media}&rev={revision}&sha256={sha256}',
  mediaInlineMax: 64 * 1024,
  mediaMax: 32 << 20,
};

function describeNotice(notice: Notice): string {
  switch (notice.type) {
    case 'editedElsewhere':
    case 'lockLost':
      return `${notice.editor ?? 'someone'} at ${notice.site} until ${notice.until}`;
    case 'mirroredFrom':
    case 'sourceGone':
      return notice.source;
    case 'conflict':
      return `${notice.revision.site}@${notice.revision.revision}`;
    case 'editedLocally':
      return `${notice.editor} until ${notice.until}`;
    case 'conflictReported':
      return `${notice.site} could not merge ${notice.revision.revision}`;
    case 'mediaTooLarge':
      return `${notice.size} > ${notice.max}`;
    case 'mediaConflict':
      return `${notice.kept.site} kept over ${notice.replaced.site}`;
    default:
      return unreachable(notice);
  }
}

function describeOutcome(outcome: Outcome): string {
  switch (outcome.type) {
    case 'ignore': {
      const reason: IgnoreReason = outcome.reason;
      return reason;
    }
    case 'refuse': {
      const reason: RefuseReason = outcome.reason;
      return reason;
    }
    case 'create': case 'update': case 'delete': case 'lock': case 'unlock': case 'merge':
    case 'conflict': case 'publish': case 'follow': case 'restore': case 'keep': case 'accept':
    case 'resolve':
      return outcome.type;
    default:
      return unreachable(outcome);
  }
}

// One apply path: carry out the actions in order, then keep the state.
function carryOut(decision: Decision): PageState {
  for (const action of decision.actions) {
    switch (action.type) {
      case 'publish': {
        const xml: string = encodeEntry(action.entry);
        const back: Entry = decodeEntry(new TextEncoder().encode(xml), { maxBytes: 1 << 20 });
        if (back.kind.type === 'page') console.log(back.kind.mediaType, back.kind.text.length);
        break;
      }
      case 'writePage':
        console.log(action.text, action.author ?? 'anonymous', action.summary, action.minor);
        break;
      case 'deletePage':
        console.log(action.author, action.summary);
        break;
      case 'lockPage':
        console.log(action.site, action.editor, action.until);
        break;
      case 'unlockPage':
        console.log(action.site, action.editor);
        break;
      case 'showNotice':
        console.log(describeNotice(action.notice));
        break;
      case 'recordConflict': {
        const conflict: PendingConflict = action.conflict;
        console.log(conflict.origin.type, renderConflict(conflict));
        break;
      }
      case 'clearConflict':
        break;
      case 'refuseLocalEdit':
        console.log(action.reason);
        break;
      case 'saveResolution':
        console.log(action.text ?? '(deleted)', action.choice, action.site);
        break;
      case 'openEditor':
        console.log(action.text);
        break;
      case 'writeMedia': {
        // Inline bytes (base64) or fetched ones: verified before they are written.
        const bytes = action.data !== null ? Uint8Array.from(atob(action.data), (c) => c.charCodeAt(0)) : new Uint8Array(0);
        verifyMedia(bytes, action.sha256, action.size);
        console.log(action.mediaType, action.url ?? '(inline)', action.author, action.summary);
        break;
      }
      case 'deleteMedia':
        console.log(action.author, action.summary);
        break;
      default:
        unreachable(action);
    }
  }
  console.log(describeOutcome(decision.outcome));
  return decision.state;
}

const entry: Entry = decodeEntry('<entry/>');
const inputs: Input[] = [
  { type: 'localSave', edit: { change: { type: 'text', text: 'x' }, author: 'me', summary: null, minor: false, revision: 1 } },
  { type: 'localSave', edit: { change: { type: 'deleted' }, minor: true, revision: 2, title: 'Start' } },
  { type: 'saveRequested', change: { type: 'text', text: 'x' }, editor: 'me' },
  { type: 'editorOpened', editor: 'me' },
  { type: 'editorClosed', editor: 'me' },
  { type: 'notification', localText: null, entry },
  { type: 'notification', localText: 'x', entry, namespace: 'handbook' },
  { type: 'notification', localText: 'x', entry, publisher: 'https://b.example/' },
  { type: 'tick' },
  { type: 'sourceGone', redirect: null },
  { type: 'announceSourceMove', newSource: 'https://c.example/' },
  { type: 'resolveConflict', choice: 'merge', localText: 'x', editorText: null },
  { type: 'mediaSaved', edit: { change: { type: 'file', data: btoa('PNG'), mediaType: 'image/png' }, author: 'me', revision: 3 } },
  { type: 'mediaSaved', edit: { change: { type: 'deleted' }, revision: 4 } },
  { type: 'retracted', item: 'urn:x-wikisync:page:handbook:start' },
  { type: 'retracted', item: 'urn:x-wikisync:page:handbook:start', publisher: null },
  { type: 'republish' },
];
let state: PageState = newPageState(cleanPageId('Handbook:Start'));
for (const input of inputs) state = carryOut(handle(config, state, input, Date.now()));
state = carryOut(handle(config, state, { type: 'tick' }));

const page: string = state.page;
const pending: PendingConflict | null = state.conflict;
const stored: string = JSON.stringify(state);
const fromObject: PageState = PageState.fromJSON(state.toJSON());
const fromText: PageState = PageState.fromJSON(stored);
const json: PageStateJSON = JSON.parse(stored);
console.log(page, pending?.left, fromObject.page, fromText.page, json);
for (const notice of notices(config, state)) console.log(describeNotice(notice));
const upToDate: boolean = needsPublish(state, 'x') || needsPublish(state, null);
const retry: PublishFailure = publishFailure(503);
const ns: string | null = namespaceOf(config, page);
const readOnly: boolean = isReadOnly(config, page);
console.log(upToDate, retry === 'retry', ns, readOnly, sameNode('xmpp:a?;node=b', 'xmpp:A?node=b'));

const current: NamespaceSetup = { role: { type: 'source' }, node: 'xmpp:ps.example?;node=n', subscribed: false };
const target: { gateway: string | null; node: string } = followTarget('http://gw2.example/items?uri=xmpp%3Aps2%3F%3Bnode%3Dn');
console.log(target.gateway, target.node);
const requests: SetupRequest[] = [
  { type: 'source' }, { type: 'source', node: 'xmpp:ps.example?;node=n' },
  { type: 'mirror', node: 'xmpp:ps.example?;node=n', source: 'https://b.example/' },
  { type: 'mirror', node: 'xmpp:ps.example?;node=n', source: 'https://b.example/', whenGone: 'delete' },
  { type: 'peer', node: null }, { type: 'moveSource', newSource: 'https://c.example/' },
  { type: 'retire' }, { type: 'remove' },
  { type: 'follow', node: 'xmpp:ps2.example?;node=n', source: 'https://d.example/' },
  { type: 'follow', node: 'xmpp:ps2.example?;node=n' },
  { type: 'follow', node: 'http://gw2.example/items?uri=xmpp%3Aps2.example%3F%3Bnode%3Dn', source: null },
  { type: 'source', gateway: 'http://gw2.example' }, { type: 'peer', node: null, gateway: null },
  { type: 'relocate', gateway: 'http://gw2.example' }, { type: 'relocate', node: 'xmpp:ps.example?;node=m' },
];
for (const request of requests) {
  for (const step of [...planSetup(current, request), ...planSetup(null, request)] satisfies SetupStep[]) {
    switch (step.type) {
      case 'unsubscribe': case 'useNode': console.log(step.node); break;
      case 'setRole': console.log(step.role.type, step.readOnly); break;
      case 'announceSourceMove': console.log(step.newSource); break;
      case 'followSource': case 'checkSource': console.log(step.source); break;
      case 'useGateway': console.log(step.gateway ?? 'the site\'s gateway'); break;
      case 'redirectNode': console.log(step.feed ? nodeRef(step.gateway ?? 'http://gw.example', step.node) : step.node); break;
      case 'createNode': case 'subscribe': case 'deleteNode': case 'forgetRule': case 'firstSync': case 'republish': break;
      default: unreachable(step);
    }
  }
}

const items: FeedItem[] = decodeFeed('<feed/>', { maxBytes: 1 << 20 });
for (const item of items) {
  if (item.entry !== null) console.log(item.entry.page);
  else console.log(item.error.code, item.error.message);
}
const m: MergeResult = merge('a', 'b', 'c', { words: true, labels: ['o', 'b', 't'], markerSize: 7 });
const named: MergeResult = merge('a', 'b', 'c', { diff3: true, labels: { ours: 'o', base: 'b', theirs: 't' } });
console.log(m.clean, m.conflicts, m.regions.length, named.text, sha256Hex(m.text));

// Whole-wiki helpers: media bytes, item ids of retractions, a redirected node's source.
const png: Uint8Array = new Uint8Array([0x89, 0x50]);
verifyMedia(png, sha256HexBytes(png), png.byteLength);
const toPublish: boolean = mediaNeedsPublish(state, sha256HexBytes(png)) || mediaNeedsPublish(state, null);
const subject: ItemSubject | null = itemSubject('urn:x-wikisync:media:wiki:logo.png');
if (subject?.type === 'media') console.log(subject.media);
else if (subject !== null) console.log(subject.page);
const entries: Entry[] = items.flatMap((i) => (i.entry === null ? [] : [i.entry]));
const source: SiteId | null = sourceOfItems(entries);
if (source !== null) checkMirrorSource(normalizeSiteId(source), entries);
console.log(toPublish, worthReporting('notFromSource'), noticeWorthReporting({ type: 'mirroredFrom', source: 'a' }));
const retracted: string = decodeRetraction('<at:deleted-entry/>');
const step = checkSubscription(config, 'wiki', { type: 'dropped', reason: 'failureBudget', at: 5, redirect: null });
console.log(sendsHeartbeat(config, 'wiki'));
switch (step.type) {
  case 'follow': console.log(step.node, retracted); break;
  case 'nothing': case 'renew': case 'resubscribe': case 'sourceGone': case 'wait': break;
  default: { const never: never = step; console.log(never); }
}

try {
  cleanPageId('..');
} catch (e) {
  if (e instanceof PageIdError) { const c: PageIdErrorCode = e.code; console.log(c); }
  if (e instanceof DecodeError && e.code === 'hash_mismatch') console.log(e.message);
  if (e instanceof SetupError && e.code === 'wrong_source') console.log(e.message);
  if (e instanceof MediaError) { const c: MediaErrorCode = e.code; console.log(c); }
  if (e instanceof InvalidArgumentError) { const c: 'invalid_argument' = e.code; console.log(c); }
  if (e instanceof WikiSyncError) console.log(e.code, e.message);
}

// @ts-expect-error: keys are camelCase
const snake: SiteConfig = { site: 's', rules: [], lock_seconds: 900, mediaType: 't' };
// @ts-expect-error: tag values are camelCase
handle(config, state, { type: 'local_save', edit: inputs[0] });
// @ts-expect-error: unknown input type
handle(config, state, { type: 'reboot' });
// @ts-expect-error: the time is a number of milliseconds
handle(config, state, { type: 'tick' }, new Date());
// @ts-expect-error: a state is a PageState, not its stored form
handle(config, state.toJSON(), { type: 'tick' });
// @ts-expect-error: states come from newPageState and PageState.fromJSON
new PageState();
// @ts-expect-error: merge options are checked
merge('a', 'b', 'c', { word: true });
// @ts-expect-error: a SetupError code is one of three
const code: SetupError['code'] = 'not_a_code';
// @ts-expect-error: an ignore reason is one of the core's
worthReporting('bored');
// @ts-expect-error: a drop reason is one of the gateway's
checkSubscription(config, 'wiki', { type: 'dropped', reason: 'bored', at: 5, redirect: null });
// @ts-expect-error: media bytes are a Uint8Array
sha256HexBytes('text');
const action: Action = { type: 'clearConflict' };
console.log(snake, code, action);
