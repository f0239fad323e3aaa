<?php

// Stubs for wikisync

namespace WikiSync {
    /**
     * `WikiSync\Entry::decode` refused the XML. The code is the core's `DecodeError::code()`.
     */
    class DecodeException extends \WikiSync\Exception {
        public function __construct() {}

        /**
         * The stable machine-readable code of the error, e.g. `hash_mismatch`.
         *
         * @return string
         */
        public function getErrorCode(): string {}
    }

    /**
     * `WikiSync\Entry`: the wikisync Atom entry codec.
     */
    class Entry {
        public function __construct() {}

        /**
         * Decodes an Atom entry document (UTF-8 bytes) into an entry array; refusals throw
         * `WikiSync\DecodeException` with the core's code. `$maxBytes` overrides the default size
         * limit.
         *
         * @param string $xml
         * @param int|null $maxBytes
         * @return array
         */
        public static function decode(string $xml, ?int $maxBytes = null): array {}

        /**
         * Encodes an entry (an array in the serde JSON shape of the core's `Entry`) as an Atom
         * entry document.
         *
         * @param array $entry
         * @return string
         */
        public static function encode(array $entry): string {}
    }

    /**
     * Base class of every wikisync error: `WikiSync\Exception extends \Exception`.
     */
    class Exception extends \Exception {
        public function __construct() {}

        /**
         * The stable machine-readable code of the error (the core's `code()`, e.g.
         * `hash_mismatch`, `path_traversal`, `invalid_argument`).
         *
         * @return string
         */
        public function getErrorCode(): string {}
    }

    /**
     * `WikiSync\Hash`: content hashes.
     */
    class Hash {
        public function __construct() {}

        /**
         * The SHA-256 of a UTF-8 text, as 64 lowercase hex digits (the `ws:sha256` of entries).
         *
         * @param string $text
         * @return string
         */
        public static function sha256(string $text): string {}
    }

    /**
     * An argument does not have the documented shape (a missing or mistyped key, a string that
     * is not UTF-8, an unknown option). The code is always `invalid_argument`.
     */
    class InvalidArgumentException extends \WikiSync\Exception {
        public function __construct() {}

        /**
         * The stable machine-readable code of the error: `invalid_argument`.
         *
         * @return string
         */
        public function getErrorCode(): string {}
    }

    /**
     * `WikiSync\Merge`: three-way merge.
     */
    class Merge {
        public function __construct() {}

        /**
         * Merges `$ours` and `$theirs`, two descendants of `$base`. Returns `text` (conflicts
         * rendered as git-style markers), `conflicts` (their count), `clean` and `regions`.
         * Options: `words` (bool, default true), `diff3` (bool), `labels` (`[ours, base, theirs]`
         * or keyed by those names), `marker_size` (int, default 7).
         *
         * @param string $base
         * @param string $ours
         * @param string $theirs
         * @param array|null $options
         * @return array
         */
        public static function merge(string $base, string $ours, string $theirs, ?array $options = null): array {}
    }

    /**
     * `WikiSync\PageId`: DokuWiki page ids.
     */
    class PageId {
        public function __construct() {}

        /**
         * Cleans a raw page id the way DokuWiki's `cleanID` does, refusing ids that try to escape
         * (`..`, `/`, absolute paths, control characters) with a `WikiSync\PageIdException`.
         *
         * @param string $raw
         * @return string
         */
        public static function clean(string $raw): string {}
    }

    /**
     * A page id was refused (`WikiSync\PageId::clean`, or a page id inside an argument). The code
     * is the core's `PageIdError::code()`.
     */
    class PageIdException extends \WikiSync\Exception {
        public function __construct() {}

        /**
         * The stable machine-readable code of the error, e.g. `path_traversal`.
         *
         * @return string
         */
        public function getErrorCode(): string {}
    }

    /**
     * `WikiSync\Sync`: the sync engine for one page.
     */
    class Sync {
        public function __construct() {}

        /**
         * Runs one input (`notification`, `local_save`, `editor_opened`, `editor_closed`, `tick`,
         * `source_gone`, `announce_source_move`) for a page and returns the decision: `outcome`,
         * the new `state` (store it) and the `actions` to carry out in order.
         *
         * @param array $config
         * @param array $state
         * @param array $input
         * @return array
         */
        public static function handle(array $config, array $state, array $input): array {}

        /**
         * A fresh sync state for a page that has never been synced (the id is cleaned first).
         *
         * @param string $pageId
         * @return array
         */
        public static function newState(string $pageId): array {}

        /**
         * Renders a pending conflict (the `conflict` of a page state) as git-style markers
         * labelled with the two revisions.
         *
         * @param array $conflict
         * @return string
         */
        public static function renderConflict(array $conflict): string {}
    }
}
