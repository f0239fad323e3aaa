// TypeScript types of the npm package `wikisync` (see docs/bindings.md). Values are plain
// objects: the serde JSON form of the core's types with camelCase keys. Numbers that are
// revisions or timestamps are integers; the core allows revisions up to 2^64 - 1, JS numbers
// are exact up to 2^53 - 1 (DokuWiki revisions are Unix seconds, far below).

/** Unix time in seconds. */
export type Timestamp = number;
/** A site's id, in practice its base URL (`https://wiki-a.example.org/`). */
export type SiteId = string;

/** One revision of one page at one site. */
export interface RevisionRef {
  revision: number;
  site: SiteId;
}

/** A wikisync Atom entry (docs/protocol.md). */
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
  /** The version vector, sorted by site. */
  clock: RevisionRef[];
  minor: boolean;
  source: SiteId | null;
  kind: EntryKind;
}

/** What an entry carries. */
export type EntryKind =
  | { type: 'page'; text: string; mediaType: string }
  | { type: 'draft'; lockExpires: Timestamp; conflictWith: RevisionRef | null }
  | { type: 'unlock' }
  | { type: 'deleted'; when: Timestamp; by: string | null; comment: string | null };

/** What a mirror does with its pages when the source goes away. */
export type GonePolicy = 'keep' | 'delete';

/** This site's role for a namespace. */
export type Role =
  | { type: 'source' }
  | { type: 'mirror'; source: SiteId; whenGone: GonePolicy }
  | { type: 'peer' };

/** One namespace rule; the longest matching namespace wins, `""` matches every page. */
export interface NamespaceRule {
  namespace: string;
  role: Role;
}

/** This site's sync configuration. */
export interface SiteConfig {
  site: SiteId;
  rules: NamespaceRule[];
  /** How long a draft lock lasts, in seconds (900 by default in the core). */
  lockSeconds: number;
  /** The markup dialect, e.g. `text/x-dokuwiki`. */
  mediaType: string;
}

/** For each site, the newest of its revisions included (keys are site ids, kept as they are). */
export type Clock = Record<SiteId, number>;

/** One synced version of a page (a merge base candidate). */
export interface Snapshot {
  clock: Clock;
  text: string;
}

/** Who may edit a page right now. */
export type LockState =
  | { type: 'free' }
  | { type: 'awaiting_local_save'; editor: string; since: Timestamp; expires: Timestamp; opened: Clock }
  | { type: 'awaiting_remote_save'; site: SiteId; editor: string | null; since: Timestamp; expires: Timestamp };

/** How a merged region was decided. */
export type Resolution = 'unchanged' | 'ours' | 'theirs' | 'both' | 'words';

/** One region of a merge: resolved text, or a conflict with its three versions. */
export type Region =
  | { type: 'resolved'; text: string; resolution: Resolution }
  | { type: 'conflict'; base: string; ours: string; theirs: string };

/** A remote version that could not be merged, kept for the local editor. */
export interface PendingConflict {
  revision: RevisionRef;
  clock: Clock;
  text: string;
  regions: Region[];
  /** Label of the side shown first (`ours` in the regions). */
  left: string;
  /** Label of the side shown second (`theirs` in the regions). */
  right: string;
}

/** The sync state of one page; store it between calls and pass it back as it is. */
export interface PageState {
  page: string;
  head: RevisionRef | null;
  clock: Clock;
  text: string | null;
  history: Snapshot[];
  lock: LockState;
  conflict: PendingConflict | null;
  released: Record<SiteId, Timestamp>;
  followedSource: SiteId | null;
  sourceGone: Timestamp | null;
}

/** What a local save did to the page. */
export type Change = { type: 'text'; text: string } | { type: 'deleted' };

/** A local save, as the host reports it. */
export interface LocalEdit {
  change: Change;
  author: string | null;
  summary: string | null;
  minor: boolean;
  /** The host's revision number (DokuWiki: the save time). */
  revision: number;
}

/** One input to the sync engine for one page. */
export type Input =
  | { type: 'local_save'; edit: LocalEdit; now: Timestamp }
  | { type: 'editor_opened'; editor: string; now: Timestamp }
  | { type: 'editor_closed'; editor: string; now: Timestamp }
  | { type: 'notification'; localText: string | null; entry: Entry; now: Timestamp }
  | { type: 'tick'; now: Timestamp }
  | { type: 'source_gone'; redirect: SiteId | null; now: Timestamp };

/** Why an input changed nothing. */
export type IgnoreReason =
  | 'own_echo' | 'other_page' | 'not_synced' | 'duplicate' | 'stale' | 'not_from_source'
  | 'source_is_authoritative' | 'read_only' | 'lost_tie_break' | 'session_ended' | 'expired'
  | 'nothing_locked' | 'nothing_expired' | 'not_a_mirror';

/** Why a local action was refused. */
export type RefuseReason = 'mirror' | 'remotely_locked' | 'conflict' | 'not_synced';

/** What happened, in one word. */
export type Outcome =
  | { type: 'create' | 'update' | 'delete' | 'lock' | 'unlock' | 'merge' | 'conflict' | 'publish' | 'follow' | 'keep' }
  | { type: 'ignore'; reason: IgnoreReason }
  | { type: 'refuse'; reason: RefuseReason };

/** A message for the local users of a page. */
export type Notice =
  | { type: 'edited_elsewhere'; site: SiteId; editor: string | null; until: Timestamp }
  | { type: 'lock_lost'; site: SiteId; editor: string | null; until: Timestamp }
  | { type: 'mirrored_from'; source: SiteId }
  | { type: 'source_gone'; source: SiteId }
  | { type: 'conflict'; revision: RevisionRef }
  | { type: 'conflict_reported'; site: SiteId; revision: RevisionRef };

/** Something the host must do. */
export type Action =
  | { type: 'publish'; entry: Entry }
  | { type: 'write_page'; text: string; author: string | null; summary: string | null; minor: boolean }
  | { type: 'delete_page'; author: string | null; summary: string | null }
  | { type: 'lock_page'; site: SiteId; editor: string | null; until: Timestamp }
  | { type: 'unlock_page' }
  | { type: 'show_notice'; notice: Notice }
  | { type: 'record_conflict'; conflict: PendingConflict }
  | { type: 'clear_conflict' }
  | { type: 'refuse_local_edit'; reason: RefuseReason };

/** The result of one input: store `state`, then carry out `actions` in order. */
export interface Decision {
  outcome: Outcome;
  state: PageState;
  actions: Action[];
}

/** Options of `decodeEntry`. */
export interface DecodeOptions {
  /** Largest accepted input in bytes (default 16 MiB). */
  maxBytes?: number;
}

/** Options of `merge`. */
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

/** The result of `merge`. */
export interface MergeResult {
  /** The merged text, conflicts rendered as git-style markers. */
  text: string;
  /** How many conflict regions. */
  conflicts: number;
  /** Whether there are none. */
  clean: boolean;
  regions: Region[];
}

/** Base class of every error this package throws. */
export class WikiSyncError extends Error {
  /** A stable machine-readable code, e.g. `path_traversal`, `hash_mismatch`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions);
}
/** A page id was refused (`cleanPageId`, or a page id inside an argument). */
export class PageIdError extends WikiSyncError {}
/** `decodeEntry` refused the document. */
export class DecodeError extends WikiSyncError {}
/** An argument does not have the documented shape; `code` is `invalid_argument`. */
export class InvalidArgumentError extends WikiSyncError {
  readonly code: 'invalid_argument';
  constructor(message: string, options?: ErrorOptions);
}

/** Cleans a page id by DokuWiki's `cleanID` rules; throws `PageIdError` for ids that escape. */
export function cleanPageId(raw: string): string;
/** The Atom XML of an entry. */
export function encodeEntry(entry: Entry): string;
/** Parses an Atom entry document (string or UTF-8 bytes); throws `DecodeError`. */
export function decodeEntry(xml: string | Uint8Array, options?: DecodeOptions): Entry;
/** The SHA-256 of the UTF-8 text, lowercase hex. */
export function sha256Hex(text: string): string;
/** Three-way merge: line-based like `git merge-file`, plus a word pass inside conflicts. */
export function merge(base: string, ours: string, theirs: string, options?: MergeOptions): MergeResult;
/** The sync state of a page never synced; throws `PageIdError` for a refused id. */
export function newPageState(pageId: string): PageState;
/** Runs one sync input for one page. */
export function handle(config: SiteConfig, state: PageState, input: Input): Decision;
/** A pending conflict rendered with git-style markers. */
export function renderConflict(conflict: PendingConflict): string;
