// TypeScript types of the npm package `wikisync` (see docs/bindings.md). Values are plain
// objects in the serde JSON form of the core's types: keys and tag values in camelCase, every
// map a list sorted by its key. Each type names the Rust type it mirrors. Numbers that are
// revisions or timestamps are integers; the core allows revisions up to 2^64 - 1, JS numbers
// are exact up to 2^53 - 1 (DokuWiki revisions are Unix seconds, far below).

// ---- loading ----

/** What `init` loads the WebAssembly module from. */
export type InitSource = BufferSource | WebAssembly.Module | Response | PromiseLike<Response> | URL | string;

/**
 * Loads the WebAssembly module; every other function throws a `WikiSyncError` with code
 * `not_initialized` until it resolved. Without a source: in Node the package's `.wasm` is read
 * from disk, elsewhere it is fetched next to the package's files. Later calls resolve at once.
 */
export function init(source?: InitSource): Promise<void>;
/** Loads the WebAssembly module at once from its bytes (in Node, by default the package's). */
export function initSync(bytes?: BufferSource | WebAssembly.Module): void;

// ---- values ----

/** Unix time in whole seconds (`wikisync_core::time::Timestamp`), as in entries and actions. */
export type Timestamp = number;
/** Unix time in milliseconds, what `Date.now()` gives: the `now` of each call (fractions dropped). */
export type Milliseconds = number;
/** A site's id, in practice its base URL (`https://wiki-a.example.org/`). */
export type SiteId = string;

/** One revision of one page at one site (`RevisionRef`). */
export interface RevisionRef {
  revision: number;
  site: SiteId;
}

/** A version vector: for each site, its newest revision included, sorted by site. */
export type Clock = RevisionRef[];

/** A wikisync Atom entry (`Entry`, docs/protocol.md). */
export interface Entry {
  atomId: string;
  /** The cleaned page id. */
  page: string;
  title: string;
  updated: Timestamp;
  author: string | null;
  summary: string | null;
  link: string | null;
  revision: RevisionRef;
  base: RevisionRef | null;
  clock: Clock;
  minor: boolean;
  source: SiteId | null;
  kind: EntryKind;
}

/** Bytes in JSON: standard base64 with padding (RFC 4648 §4). */
export type Base64 = string;

/** What an entry carries (`EntryKind`). */
export type EntryKind =
  | { type: 'page'; text: string; mediaType: string }
  | { type: 'draft'; lockExpires: Timestamp; conflictWith: RevisionRef | null }
  | { type: 'unlock' }
  | { type: 'deleted'; when: Timestamp; by: string | null; comment: string | null }
  | {
      /** A media file (`page` holds its id): its bytes inside (`data`) or by reference (`url`). */
      type: 'media';
      mediaType: string;
      /** The hex SHA-256 the bytes have. */
      sha256: string;
      /** How many bytes. */
      size: number;
      data: Base64 | null;
      url: string | null;
    }
  | { type: 'mediaDeleted'; when: Timestamp; by: string | null; comment: string | null };

/** What a node's item id names (`entry::ItemSubject`), from `itemSubject`. */
export type ItemSubject =
  | { type: 'page'; page: string }
  | { type: 'draft'; page: string }
  | { type: 'media'; media: string };

/** Why the gateway dropped a subscription (`DropReason`). */
export type DropReason = 'gone' | 'failureBudget' | 'leaseExpired' | 'unsubscribed' | 'nodeDeleted';

/** What the gateway said about a subscription (`SubscriptionReport`); times in seconds. */
export type SubscriptionReport =
  /** `sourceSeen`: the node's last sign of life from its publisher (null: the gateway cannot tell). */
  | { type: 'active'; expires: Timestamp | null; sourceSeen?: Timestamp | null }
  | { type: 'pending' }
  | { type: 'dropped'; reason: DropReason; at: Timestamp; redirect: string | null }
  | { type: 'notFound' }
  | { type: 'unreachable' };

/** What to do about a subscription (`SubscriptionStep`), from `checkSubscription`. */
export type SubscriptionStep =
  | { type: 'nothing' }
  | { type: 'renew' }
  | { type: 'resubscribe' }
  | { type: 'follow'; node: string }
  | { type: 'sourceGone' }
  | { type: 'wait' };

/** One entry of a feed (`wire::FeedItem`): the entry, or why it was refused. */
export type FeedItem =
  | { entry: Entry; error: null }
  | { entry: null; error: { code: DecodeErrorCode; message: string } };

/** What a mirror does with its pages when the source goes away (`GonePolicy`). */
export type GonePolicy = 'keep' | 'delete';

/** This site's role for a namespace (`Role`). */
export type Role =
  | { type: 'source' }
  | { type: 'mirror'; source: SiteId; whenGone: GonePolicy }
  /**
   * `peers`: the peer set, the other sites that may write the namespace's pages when the gateway
   * reports an entry's authenticated publisher (missing or empty: every site the gateway lets
   * publish on the node).
   */
  | { type: 'peer'; peers?: SiteId[] };

/** One namespace rule (`NamespaceRule`); the longest matching namespace wins, `""` matches every page. */
export interface NamespaceRule {
  namespace: string;
  role: Role;
}

/** This site's sync configuration (`SiteConfig`). */
export interface SiteConfig {
  site: SiteId;
  rules: NamespaceRule[];
  /** How long a draft lock lasts, in seconds (900: DokuWiki's own lock). */
  lockSeconds: number;
  /** The markup dialect, e.g. `text/x-dokuwiki`. */
  mediaType: string;
  /** The URL of a page revision here, with `{page}` and `{revision}` placeholders. */
  pageUrl?: string | null;
  /**
   * Where other sites fetch a media file revision from here, with `{media}`, `{revision}` and
   * `{sha256}` placeholders; files over `mediaInlineMax` travel by this reference. Without
   * it every file travels inside its entry.
   */
  mediaUrl?: string | null;
  /** The largest media file carried inside its entry, in bytes (default 65536). */
  mediaInlineMax?: number;
  /** The largest media file synced at all, in bytes (default 32 MiB). */
  mediaMax?: number;
  /** The subscription lease asked of the gateway, in seconds (default 10 days). */
  leaseSeconds?: number;
  /**
   * How long a mirror goes on without a sign of life from its source before it applies its
   * when-gone policy, in seconds (default 30 days; 0: never).
   */
  sourceGraceSeconds?: number;
}

/** How a merged region was decided (`merge::Resolution`). */
export type Resolution = 'unchanged' | 'ours' | 'theirs' | 'both' | 'words';

/** One region of a merge (`merge::Region`): resolved text, or a conflict with its three versions. */
export type Region =
  | { type: 'resolved'; text: string; resolution: Resolution }
  | { type: 'conflict'; base: string; ours: string; theirs: string };

/** Where a pending conflict came from (`ConflictOrigin`). */
export type ConflictOrigin =
  | { type: 'remote' }
  | { type: 'localSave'; editor: string | null; text: string | null };

/** A version that could not be merged, kept for the local editor (`PendingConflict`). */
export interface PendingConflict {
  origin: ConflictOrigin;
  /** The other side's revision. */
  revision: RevisionRef;
  clock: Clock;
  /** The other side's text (`""`: deleted). */
  text: string;
  regions: Region[];
  /** Label of the side shown first (`ours` in the regions). */
  left: string;
  /** Label of the side shown second (`theirs` in the regions). */
  right: string;
}

/** The stored form of a page state: opaque, store it and give it back to `PageState.fromJSON`. */
export interface PageStateJSON {
  readonly [key: string]: unknown;
}

/**
 * The sync state of one page (`PageState`), kept inside WebAssembly. Hosts store `toJSON()`
 * and never read inside it; what to show comes from `notices` and `conflict`.
 */
export class PageState {
  private constructor();
  /** The state `toJSON()` gave, as the object or its JSON text (also earlier versions' form). */
  static fromJSON(value: PageStateJSON | string): PageState;
  /** The object to store; `JSON.stringify(state)` calls it. */
  toJSON(): PageStateJSON;
  /** The page id. */
  readonly page: string;
  /** The conflict waiting for the local editor, or null. */
  readonly conflict: PendingConflict | null;
}

/** What a local save did to the page (`Change`). */
export type Change = { type: 'text'; text: string } | { type: 'deleted' };

/** A local save, as the host reports it (`LocalEdit`). */
export interface LocalEdit {
  change: Change;
  author?: string | null;
  summary?: string | null;
  minor: boolean;
  /** The host's revision number (DokuWiki: the save time, Unix seconds). */
  revision: number;
  /** The page's title as the host shows it, if it has one. */
  title?: string | null;
}

/** What a local media edit did (`MediaChange`): the new bytes, or the deletion. */
export type MediaChange = { type: 'file'; data: Base64; mediaType: string } | { type: 'deleted' };

/** A local upload, overwrite or deletion of a media file (`LocalMediaEdit`). */
export interface LocalMediaEdit {
  change: MediaChange;
  author?: string | null;
  summary?: string | null;
  /** The host's revision number (DokuWiki: the upload time, Unix seconds). */
  revision: number;
}

/** How the local editor resolves a pending conflict (`ConflictChoice`). */
export type ConflictChoice = 'keep' | 'take' | 'merge';

/** One input to the sync engine for one page (`Input`); docs/sync.md says what each does. */
export type Input =
  | { type: 'localSave'; edit: LocalEdit }
  | { type: 'saveRequested'; change: Change; editor?: string | null }
  | { type: 'editorOpened'; editor: string }
  | { type: 'editorClosed'; editor: string }
  | {
      type: 'notification';
      localText: string | null;
      entry: Entry;
      /** The namespace whose subscription delivered the entry. */
      namespace?: string | null;
      /**
       * The entry's publisher as the gateway authenticated it (a site id), when it reports one;
       * missing or null: none reported, the entry's claimed origin is taken as it is.
       */
      publisher?: SiteId | null;
    }
  | { type: 'tick' }
  | { type: 'sourceGone'; redirect?: SiteId | null }
  | { type: 'announceSourceMove'; newSource: SiteId }
  | { type: 'mediaSaved'; edit: LocalMediaEdit }
  /**
   * The item of the page or media file was retracted from its node: `item` is its id (the `ref` of
   * the tombstone); `publisher`: who retracted it, as the gateway authenticated them, if it says.
   */
  | { type: 'retracted'; item: string; publisher?: SiteId | null }
  /** The namespace moved to another node (the `republish` setup step): a source or peer publishes the current revision there. */
  | { type: 'republish' }
  | { type: 'resolveConflict'; choice: ConflictChoice; localText: string | null; editorText?: string | null };

/** Why an input changed nothing (`IgnoreReason`). */
export type IgnoreReason =
  | 'ownEcho' | 'otherPage' | 'notSynced' | 'duplicate' | 'stale' | 'notFromSource'
  | 'sourceIsAuthoritative' | 'readOnly' | 'lostTieBreak' | 'sessionEnded' | 'expired'
  | 'nothingLocked' | 'nothingExpired' | 'notAMirror' | 'notLockHolder' | 'renewalNotDue'
  | 'outsideNamespace' | 'neverSynced' | 'noConflict' | 'noPeers' | 'tooLarge'
  | 'mediaUnavailable' | 'lockItem' | 'notFromPeer' | 'wrongPublisher';

/** Why a local action was refused (`RefuseReason`). */
export type RefuseReason =
  | 'mirror' | 'remotelyLocked' | 'conflict' | 'notSynced' | 'notSource' | 'lockedLocally'
  | 'tooLarge';

/** What happened, in one word (`Outcome`). */
export type Outcome =
  | {
      type: 'create' | 'update' | 'delete' | 'lock' | 'unlock' | 'merge' | 'conflict' | 'publish'
        | 'follow' | 'restore' | 'keep' | 'accept' | 'resolve';
    }
  | { type: 'ignore'; reason: IgnoreReason }
  | { type: 'refuse'; reason: RefuseReason };

/** A message for the local users of a page (`Notice`). */
export type Notice =
  | { type: 'editedElsewhere'; site: SiteId; editor: string | null; until: Timestamp }
  | { type: 'lockLost'; site: SiteId; editor: string | null; until: Timestamp }
  | { type: 'mirroredFrom'; source: SiteId }
  | { type: 'sourceGone'; source: SiteId }
  | { type: 'conflict'; revision: RevisionRef }
  | { type: 'mediaTooLarge'; size: number; max: number }
  | { type: 'mediaConflict'; kept: RevisionRef; replaced: RevisionRef }
  | { type: 'editedLocally'; editor: string; until: Timestamp }
  | { type: 'conflictReported'; site: SiteId; revision: RevisionRef };

/** Something the host must do (`Action`), in order. */
export type Action =
  | { type: 'publish'; entry: Entry }
  | { type: 'writePage'; text: string; author: string | null; summary: string | null; minor: boolean }
  | { type: 'deletePage'; author: string | null; summary: string | null }
  | { type: 'lockPage'; site: SiteId; editor: string | null; until: Timestamp }
  | { type: 'unlockPage'; site: SiteId; editor: string | null }
  | { type: 'showNotice'; notice: Notice }
  | { type: 'recordConflict'; conflict: PendingConflict }
  | { type: 'clearConflict' }
  | { type: 'refuseLocalEdit'; reason: RefuseReason }
  | { type: 'saveResolution'; text: string | null; choice: ConflictChoice; site: SiteId }
  | { type: 'openEditor'; text: string }
  | {
      /**
       * Write this media file: its bytes are `data`, or are fetched from `url` (at most `size`
       * of them); either way only if `verifyMedia(bytes, sha256, size)` accepts them, else
       * fail the input (do not keep its state).
       */
      type: 'writeMedia';
      mediaType: string;
      sha256: string;
      size: number;
      data: Base64 | null;
      url: string | null;
      author: string | null;
      summary: string | null;
    }
  | { type: 'deleteMedia'; author: string | null; summary: string | null };

/** The result of one input: carry out `actions` in order, then keep `state`. */
export interface Decision {
  outcome: Outcome;
  state: PageState;
  actions: Action[];
}

/** What to do with an entry the gateway refused (`PublishFailure`). */
export type PublishFailure = 'retry' | 'reject';

/** What this site has for a namespace now (`NamespaceSetup`). */
export interface NamespaceSetup {
  role: Role;
  node: string | null;
  /** The base URL of the gateway serving the node, when it is not the site's own (from a `useGateway` step). */
  gateway?: string | null;
  subscribed: boolean;
}

/** What the administrator asks for a namespace (`SetupRequest`). */
export type SetupRequest =
  /** A `node` is a node URI (on the gateway the namespace uses) or the feed URL of a gateway (`followTarget`), and `gateway` creates or finds the node on another gateway. */
  | { type: 'source'; node?: string | null; gateway?: string | null }
  | { type: 'mirror'; node: string; source: SiteId; whenGone?: GonePolicy }
  | { type: 'peer'; node?: string | null; gateway?: string | null }
  | { type: 'moveSource'; newSource: SiteId }
  /** Move a source namespace to `node`, or to a node created on `gateway`: publish every page there, then redirect the old node to it. */
  | { type: 'relocate'; node?: string | null; gateway?: string | null }
  | { type: 'retire' }
  | { type: 'remove' }
  /** The node was deleted with a redirect to `node` (a node URI or the feed URL of another gateway): follow it there (`source`: from `sourceOfItems`). */
  | { type: 'follow'; node: string; source?: SiteId | null };

/**
 * One step of a namespace change, in order (`SetupStep`); steps after `createNode`/`useNode` act on that node,
 * steps after `useGateway` on that gateway (before one: the gateway of the namespace, else of the site).
 */
export type SetupStep =
  | { type: 'unsubscribe'; node: string }
  /** Use the gateway at this base URL (null: the one of the site) for every call about the namespace from now on, and record it with the rule at `setRole`. */
  | { type: 'useGateway'; gateway: string | null }
  | { type: 'createNode' }
  | { type: 'useNode'; node: string }
  /** A mirror checks what the node carries before subscribing: `checkMirrorSource(source, entries)`. */
  | { type: 'checkSource'; source: SiteId }
  | { type: 'setRole'; role: Role; readOnly: boolean }
  | { type: 'subscribe' }
  | { type: 'announceSourceMove'; newSource: SiteId }
  | { type: 'deleteNode' }
  /** Give every page and media file of the namespace the input `republish`, then send the queue. */
  | { type: 'republish' }
  /** Delete the previous `node` (on `gateway`, null: the gateway of the site) with a redirect to the node in use: `nodeRef(feed ? gateway in use : null, node in use)`. */
  | { type: 'redirectNode'; node: string; gateway: string | null; feed: boolean }
  | { type: 'forgetRule' }
  /** Give every page of the namespace the input `sourceGone` with `redirect` = `source`. */
  | { type: 'followSource'; source: SiteId }
  | { type: 'firstSync' };

/** Options of `decodeEntry` and `decodeFeed`. */
export interface DecodeOptions {
  /** Largest accepted input in bytes (default 16 MiB). */
  maxBytes?: number;
}

/** Options of `merge`; unknown keys are refused. */
export interface MergeOptions {
  /** Word-level pass inside line conflicts (default true). */
  words?: boolean;
  /** Keep conflicts whole and render the base section, like `git merge-file --diff3`. */
  diff3?: boolean;
  /** Marker labels (default ours, base, theirs). */
  labels?: { ours: string; base: string; theirs: string } | [ours: string, base: string, theirs: string];
  /** Marker length (default 7). */
  markerSize?: number;
}

/** The result of `merge` (`wire::MergeReport`). */
export interface MergeResult {
  /** The merged text, conflicts rendered as git-style markers. */
  text: string;
  /** How many conflict regions. */
  conflicts: number;
  /** Whether there are none. */
  clean: boolean;
  regions: Region[];
}

// ---- errors ----

/** The codes of `PageIdError` (`PageIdError::code`). */
export type PageIdErrorCode =
  | 'empty' | 'too_long' | 'segment_too_long' | 'control_character' | 'absolute_path'
  | 'path_separator' | 'path_traversal';
/** The codes of `DecodeError` (`DecodeError::code`). */
export type DecodeErrorCode =
  | 'too_large' | 'malformed_xml' | 'doctype' | 'unknown_entity' | 'not_an_entry' | 'not_a_feed'
  | 'missing_element' | 'duplicate_element' | 'missing_page_id' | 'bad_page_id'
  | 'unclean_page_id' | 'bad_timestamp' | 'bad_revision' | 'bad_value' | 'bad_content'
  | 'conflicting_kind' | 'size_mismatch' | 'hash_mismatch';
/** The codes of `SetupError` (`SetupError::code`). */
export type SetupErrorCode =
  | 'not_synced' | 'not_source' | 'bad_node' | 'bad_gateway' | 'two_gateways' | 'same_node' | 'wrong_source'
  | 'not_following';
/** The codes of `MediaError` (`entry::MediaError::code`). */
export type MediaErrorCode = 'size_mismatch' | 'hash_mismatch';

/** Base class of every error this package throws. */
export class WikiSyncError extends Error {
  /** A stable machine-readable code, e.g. `path_traversal`, `hash_mismatch`, `not_initialized`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions);
}
/** A page id was refused (`cleanPageId`, or a page id inside an argument). */
export class PageIdError extends WikiSyncError {
  readonly code: PageIdErrorCode;
}
/** `decodeEntry`/`decodeFeed` refused the document. */
export class DecodeError extends WikiSyncError {
  readonly code: DecodeErrorCode;
}
/** `planSetup` refused the namespace change, or `checkMirrorSource` the node. */
export class SetupError extends WikiSyncError {
  readonly code: SetupErrorCode;
}
/** `verifyMedia` refused fetched media bytes. */
export class MediaError extends WikiSyncError {
  readonly code: MediaErrorCode;
}
/** An argument does not have the documented shape, or a `PageState` was used up by `handle`. */
export class InvalidArgumentError extends WikiSyncError {
  readonly code: 'invalid_argument';
  constructor(message: string, options?: ErrorOptions);
}

// ---- operations ----

/** Cleans a page id by DokuWiki's `cleanID` rules; throws `PageIdError` for ids that escape. */
export function cleanPageId(raw: string): string;
/** The Atom XML of an entry. */
export function encodeEntry(entry: Entry): string;
/** Parses an Atom entry document (string or UTF-8 bytes); throws `DecodeError`. */
export function decodeEntry(xml: string | Uint8Array, options?: DecodeOptions): Entry;
/** Every entry of an Atom feed, oldest first, each decoded on its own; throws `DecodeError` for a bad feed. */
export function decodeFeed(xml: string | Uint8Array, options?: DecodeOptions): FeedItem[];
/** The SHA-256 of the UTF-8 text, lowercase hex. */
export function sha256Hex(text: string): string;
/** The SHA-256 of bytes (a media file's `sha256`), lowercase hex. */
export function sha256HexBytes(bytes: Uint8Array): string;
/** Checks fetched media bytes against the `sha256` and `size` announced; throws `MediaError`. */
export function verifyMedia(bytes: Uint8Array, sha256: string, size: number): void;
/** What a node's item id names (the `ref` of a bare retraction), or null for another item. */
export function itemSubject(itemId: string): ItemSubject | null;
/** A site id in the normal form the core compares. */
export function normalizeSiteId(raw: string): SiteId;
/** Three-way merge: line-based like `git merge-file`, plus a word pass inside conflicts. */
export function merge(base: string, ours: string, theirs: string, options?: MergeOptions): MergeResult;
/** The sync state of a page never synced; throws `PageIdError` for a refused id. */
export function newPageState(pageId: string): PageState;
/**
 * Runs one input for one page at `now`. Takes `state` over (handing it in again throws
 * `InvalidArgumentError`): carry out `decision.actions` in order, then keep `decision.state`.
 */
export function handle(config: SiteConfig, state: PageState, input: Input, now?: Milliseconds): Decision;
/** What to show with the page at `now`. */
export function notices(config: SiteConfig, state: PageState, now?: Milliseconds): Notice[];
/** A pending conflict rendered with git-style markers. */
export function renderConflict(conflict: PendingConflict): string;
/** Whether a page whose text here is `localText` (null: no page) still has to be published. */
export function needsPublish(state: PageState, localText: string | null): boolean;
/** Whether a media file whose bytes here have this SHA-256 (null: no file) still has to be published. */
export function mediaNeedsPublish(state: PageState, sha256: string | null): boolean;
/** What to do with an entry the gateway refused with this HTTP status (0: no answer). */
export function publishFailure(status: number): PublishFailure;
/** The namespace a page is synced with (`""`: the whole wiki), or null. */
export function namespaceOf(config: SiteConfig, pageId: string): string | null;
/** Whether local users may not edit the page here (a mirror). */
export function isReadOnly(config: SiteConfig, pageId: string): boolean;
/** The steps that turn the namespace's `current` setup (null: none) into `request`; throws `SetupError`. */
export function planSetup(current: NamespaceSetup | null, request: SetupRequest): SetupStep[];
/** The site a node's items come from (the `source` most of them name, else their most frequent author site), or null. */
export function sourceOfItems(entries: Entry[]): SiteId | null;
/** Throws `SetupError` (`wrong_source`) when the node's items come from another site than `source`. */
export function checkMirrorSource(source: SiteId, entries: Entry[]): void;
/** Whether an administrator should hear of an `ignore` outcome with this reason. */
export function worthReporting(reason: IgnoreReason): boolean;
/** Whether an administrator should hear of a notice (beyond the page's readers). */
export function noticeWorthReporting(notice: Notice): boolean;
/**
 * What to do about the subscription of `namespace` given the site's config (its `leaseSeconds`
 * and `sourceGraceSeconds`), what the gateway said about it (`GET /subscription`) and `now`.
 */
export function checkSubscription(config: SiteConfig, namespace: string, report: SubscriptionReport, now?: Milliseconds): SubscriptionStep;
/** Whether this site tells the gateway it is alive for `namespace` (it is the namespace's source). */
export function sendsHeartbeat(config: SiteConfig, namespace: string): boolean;
/** The item id a bare retraction (`Event: RETRACTED`) names; throws `DecodeError` otherwise. */
export function decodeRetraction(xml: string): string;
/** Whether two XMPP node URIs name the same node (every spelling old clients send). */
export function sameNode(a: string, b: string): boolean;
/** Where a node is followed: a node URI alone (`gateway` null: on the gateway the namespace uses) or another gateway's feed URL; throws `SetupError` (`bad_node`) for anything else. */
export function followTarget(ref: string): { gateway: string | null; node: string };
/** The text naming `node` on `gateway`: its feed URL there, or (gateway null) the node URI; both canonical. Throws `SetupError` (`bad_gateway`, `bad_node`). */
export function nodeRef(gateway: string | null, node: string): string;
