<?php

// Stubs for wikisync: the WikiSync\ API of docs/bindings.md, for IDEs and static analysis.
// Kept by hand; tests/StubTest.php checks it against the loaded extension.

namespace WikiSync {
    /**
     * Base class of every wikisync error. PHP code may construct it and its subclasses like
     * any exception (the error code is then `''`).
     */
    class Exception extends \Exception {
        /** @var string */
        protected $errorCode = '';

        /**
         * The stable code of the error, e.g. `path_traversal` or `invalid_argument`.
         */
        public function getErrorCode(): string {}
    }

    /**
     * A page id was refused (`PageId::clean`, or a page id inside an argument). The code is the
     * core's `PageIdError` code, e.g. `path_traversal`.
     */
    class PageIdException extends \WikiSync\Exception {}

    /**
     * `Entry::decode` or `Entry::decodeFeed` refused the XML. The code is the core's
     * `DecodeError` code, e.g. `hash_mismatch`.
     */
    class DecodeException extends \WikiSync\Exception {}

    /**
     * `Sync::planSetup` cannot make the namespace change (`not_synced`, `not_source`,
     * `bad_node`, `not_following`), or `Sync::checkMirrorSource` found the node's items come
     * from another site (`wrong_source`).
     */
    class SetupException extends \WikiSync\Exception {}

    /**
     * `Entry::verifyMedia` refused fetched media bytes: `size_mismatch` or `hash_mismatch`.
     * Do not write them (fail the input, so that its state is not stored).
     */
    class MediaException extends \WikiSync\Exception {}

    /**
     * An argument does not have the documented shape (a missing or mistyped key, a string that
     * is not UTF-8, an unknown option, arrays nested deeper than 64). The code is always
     * `invalid_argument`.
     */
    class InvalidArgumentException extends \WikiSync\Exception {}

    /**
     * `WikiSync\Entry`: the wikisync Atom entry codec. Entries are arrays in the JSON shape of
     * the core's `Entry` (camelCase keys, as in tests/vectors/entries.json).
     */
    class Entry {
        public function __construct() {}

        /**
         * Decodes an Atom entry document; a refusal throws `WikiSync\DecodeException`.
         * `$maxBytes` overrides the default size limit.
         */
        public static function decode(string $xml, ?int $maxBytes = null): array {}

        /**
         * Decodes an Atom feed into its entries, oldest first, each
         * `['entry' => array|null, 'error' => ['code' => string, 'message' => string]|null]`
         * so that one bad entry does not spoil the others; a feed refused as a whole throws
         * `WikiSync\DecodeException`.
         */
        public static function decodeFeed(string $xml, ?int $maxBytes = null): array {}

        /**
         * Encodes an entry as an Atom entry document.
         */
        public static function encode(array $entry): string {}

        /**
         * What a node's item id names: `['type' => 'page' | 'draft', 'page' => string]` or
         * `['type' => 'media', 'media' => string]`; null for an item wikisync does not write.
         * A bare retraction (`Event: RETRACTED`) names only the item: this finds its page.
         */
        public static function itemSubject(string $itemId): ?array {}

        /**
         * The item id a bare retraction (`Event: RETRACTED`, a standalone `at:deleted-entry`)
         * names; anything else throws `WikiSync\DecodeException`.
         */
        public static function decodeRetraction(string $xml): string {}

        /**
         * Checks fetched media bytes (a string of bytes) against the `sha256` and `size` their
         * entry or `writeMedia` action announced, before the host writes them; bytes that do
         * not match throw `WikiSync\MediaException` (`size_mismatch`, `hash_mismatch`). The
         * SHA-256 of bytes is PHP's own `hash('sha256', $bytes)`.
         */
        public static function verifyMedia(string $bytes, string $sha256, int $size): void {}
    }

    /**
     * `WikiSync\Hash`: content hashes.
     */
    class Hash {
        public function __construct() {}

        /**
         * The SHA-256 of a text, as 64 lowercase hex digits (the `ws:sha256` of entries).
         */
        public static function sha256(string $text): string {}
    }

    /**
     * `WikiSync\Merge`: three-way merge.
     */
    class Merge {
        public function __construct() {}

        /**
         * Merges `$ours` and `$theirs`, two descendants of `$base`: `text` (conflicts as
         * git-style markers), `conflicts` (their count), `clean` and `regions`. Options: `words`
         * (bool, default true), `diff3` (bool), `labels` (`[ours, base, theirs]` or keyed by
         * those names), `markerSize` (int, default 7); left out, null or `[]`: the defaults.
         */
        public static function merge(string $base, string $ours, string $theirs, ?array $options = null): array {}
    }

    /**
     * `WikiSync\Node`: XMPP pubsub node URIs.
     */
    class Node {
        public function __construct() {}

        /**
         * Whether two node URIs name the same node, however each is spelled (a string that is
         * not a node URI names none).
         */
        public static function same(string $a, string $b): bool {}

        /**
         * Where a node is followed: `['gateway' => base URL or null, 'node' => node URI]`, from
         * a node URI alone (null: the gateway the namespace uses) or another gateway's feed URL;
         * anything else throws `WikiSync\SetupException` (`bad_node`).
         */
        public static function followTarget(string $reference): array {}

        /**
         * The text naming `$node` on `$gateway` (its feed URL there), or the node URI alone when
         * `$gateway` is null; throws `WikiSync\SetupException` (`bad_gateway`, `bad_node`).
         */
        public static function nodeRef(?string $gateway, string $node): string {}
    }

    /**
     * `WikiSync\PageId`: DokuWiki page ids.
     */
    class PageId {
        public function __construct() {}

        /**
         * Cleans a raw page id the way DokuWiki's `cleanID` does; an id that tries to escape
         * (`..`, `/`, an absolute path, a control character) throws `WikiSync\PageIdException`.
         */
        public static function clean(string $raw): string {}
    }

    /**
     * `WikiSync\Sync`: the sync engine for one page. A page state is the JSON text the core
     * gives: store it and pass it back unread. Times are Unix seconds.
     */
    class Sync {
        public function __construct() {}

        /**
         * Checks, before a mirror subscribes, that the node's items (`$entries`, a list of
         * entries; a page of them is enough) come from `$source`; otherwise throws
         * `WikiSync\SetupException` with code `wrong_source`.
         */
        public static function checkMirrorSource(string $source, array $entries): void {}

        /**
         * The conflict waiting for the local editor, if any.
         */
        public static function conflict(string $state): ?array {}

        /**
         * Runs one input at `$now`: `['outcome' => array, 'state' => string, 'actions' => array]`.
         * Carry out the actions in order, then store the state. A `notification` or `retracted`
         * input may carry `publisher`: the site id the gateway authenticated as the item's
         * publisher (missing or null: none reported; see docs/sync.md, "Who may write").
         */
        public static function handle(array $config, string $state, array $input, int $now): array {}

        /**
         * Whether local users may not edit the page here (it is mirrored).
         */
        public static function isReadOnly(array $config, string $pageId): bool {}

        /**
         * The namespace whose rule covers the page, or null when the page is not synced.
         */
        public static function namespaceOf(array $config, string $pageId): ?string {}

        /**
         * Whether a media file whose bytes here have the hex SHA-256 `$sha256` (null: no file)
         * still has to be published. Pass the hash always: ext-php-rs makes a trailing nullable
         * parameter optional.
         */
        public static function mediaNeedsPublish(string $state, ?string $sha256 = null): bool {}

        /**
         * Whether a page whose text here is `$text` (null: no page) still has to be published.
         * Pass the text always: ext-php-rs makes a trailing nullable parameter optional.
         */
        public static function needsPublish(string $state, ?string $text = null): bool {}

        /**
         * The state of a page never synced (the id is cleaned first).
         */
        public static function newState(string $pageId): string {}

        /**
         * The notices to show with the page at `$now`.
         */
        public static function notices(array $config, string $state, int $now): array {}

        /**
         * The steps that turn what this site has for a namespace (`$current`, null: nothing)
         * into what `$request` asks for; a change that cannot be made throws
         * `WikiSync\SetupException`.
         */
        public static function planSetup(?array $current, array $request): array {}

        /**
         * What to do with an entry the gateway refused with HTTP `$status` (0: no answer):
         * `'retry'` or `'reject'`.
         */
        public static function publishFailure(int $status): string {}

        /**
         * A pending conflict (from `conflict`) as git-style markers labelled with the revisions.
         */
        public static function renderConflict(array $conflict): string {}

        /**
         * A site id in the normal form the core compares (an http/https URL: scheme and host
         * lower-cased, default port dropped, path ending with `/`; anything else trimmed).
         */
        public static function siteId(string $raw): string {}

        /**
         * The site a node's items (`$entries`, a list of entries) come from: the `source` most
         * of them name, else the site that made most of their revisions; null for no items.
         */
        public static function sourceOfItems(array $entries): ?string {}

        /**
         * Whether an administrator should hear of an `ignore` outcome with this reason
         * (`notFromSource`, `notFromPeer`, `wrongPublisher`, `outsideNamespace`, `notSynced`,
         * `sourceIsAuthoritative`, `tooLarge`, `mediaUnavailable`), as opposed to the echoes, repeats and lock
         * bookkeeping every site sees. An unknown reason throws
         * `WikiSync\InvalidArgumentException`.
         */
        public static function worthReporting(string $reason): bool {}

        /**
         * Whether an administrator should hear of a notice (`mediaTooLarge`, `mediaConflict`,
         * `sourceGone`), beyond the page's readers.
         */
        public static function noticeWorthReporting(array $notice): bool {}

        /**
         * What to do about the subscription of `$namespace` given the site's config (its
         * `leaseSeconds` and `sourceGraceSeconds`), what the gateway said about it (a
         * `SubscriptionReport`: `active` with `expires` and `sourceSeen`, `pending`, `dropped`
         * with `reason`, `at`, `redirect`, `notFound`, `unreachable`) and the time: a
         * `SubscriptionStep` (`nothing`, `renew`, `resubscribe`, `follow` with `node`,
         * `sourceGone` — also for a mirror whose source was silent for longer than its
         * grace —, `wait`).
         */
        public static function checkSubscription(array $config, string $namespace, array $report, int $now): array {}

        /**
         * Whether this site tells the gateway it is alive for `$namespace` (`POST
         * /heartbeat`): it is the namespace's source.
         */
        public static function sendsHeartbeat(array $config, string $namespace): bool {}
    }
}
