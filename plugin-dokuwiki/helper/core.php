<?php

use dokuwiki\Extension\Plugin;

/**
 * The only code that calls the wikisync PHP extension (`WikiSync\…`, see docs/bindings.md).
 *
 * Every decision is the core's; this class converts nothing and decides nothing, it only
 * guards against a missing extension so that DokuWiki shows a clear message instead of a
 * fatal error. Page states are the core's opaque JSON text.
 */
class helper_plugin_wikisync_core extends Plugin
{
    /**
     * Whether the extension (this version of its API) is loaded in this PHP process.
     *
     * @return bool
     */
    public function isAvailable()
    {
        return class_exists('\WikiSync\Sync', false) && class_exists('\WikiSync\Node', false)
            && method_exists('\WikiSync\Sync', 'notices') && method_exists('\WikiSync\Node', 'followTarget');
    }

    /**
     * A sentence for administrators when the extension is missing, else ''.
     *
     * @return string
     */
    public function problem()
    {
        if ($this->isAvailable()) return '';
        return sprintf($this->getLang('noext'), PHP_VERSION, php_ini_loaded_file() ?: '-');
    }

    /**
     * @throws RuntimeException when the extension is not loaded
     */
    protected function need()
    {
        if (!$this->isAvailable()) throw new RuntimeException($this->problem());
    }

    /**
     * A fresh state for a page never synced.
     *
     * @param string $page
     * @return string
     */
    public function newState($page)
    {
        $this->need();
        return \WikiSync\Sync::newState($page);
    }

    /**
     * Runs one input through the core.
     *
     * @param array $config SiteConfig
     * @param string $state
     * @param array $input Input
     * @param int $now Unix seconds
     * @return array Decision: outcome, state (string), actions
     */
    public function handle(array $config, $state, array $input, $now)
    {
        $this->need();
        return \WikiSync\Sync::handle($config, $state, $input, (int)$now);
    }

    /**
     * What to show with a page now.
     *
     * @param array $config
     * @param string $state
     * @return array Notice list
     */
    public function notices(array $config, $state)
    {
        $this->need();
        return \WikiSync\Sync::notices($config, $state, time());
    }

    /**
     * The conflict waiting for the local editor, or null.
     *
     * @param string $state
     * @return array|null PendingConflict
     */
    public function conflict($state)
    {
        $this->need();
        return \WikiSync\Sync::conflict($state);
    }

    /**
     * @param array $conflict PendingConflict
     * @return string the merge with conflict markers
     */
    public function renderConflict(array $conflict)
    {
        $this->need();
        return \WikiSync\Sync::renderConflict($conflict);
    }

    /**
     * @param string $state
     * @param string|null $text the page's text here
     * @return bool whether the page still needs publishing
     */
    public function needsPublish($state, $text)
    {
        $this->need();
        return \WikiSync\Sync::needsPublish($state, $text);
    }

    /**
     * @param int $status HTTP status of the gateway (0: no answer)
     * @return string retry|reject
     */
    public function publishFailure($status)
    {
        $this->need();
        return \WikiSync\Sync::publishFailure((int)$status);
    }

    /**
     * @param array $config
     * @param string $id
     * @return string|null the namespace the page is synced with
     */
    public function namespaceOf(array $config, $id)
    {
        $this->need();
        return \WikiSync\Sync::namespaceOf($config, $id);
    }

    /**
     * @param array $config
     * @param string $id
     * @return bool whether local users may not edit the page
     */
    public function isReadOnly(array $config, $id)
    {
        $this->need();
        return \WikiSync\Sync::isReadOnly($config, $id);
    }

    /**
     * The steps of a namespace change; throws WikiSync\SetupException when it cannot be made.
     *
     * @param array|null $current NamespaceSetup
     * @param array $request SetupRequest
     * @return array SetupStep list
     */
    public function planSetup($current, array $request)
    {
        $this->need();
        return \WikiSync\Sync::planSetup($current, $request);
    }

    /**
     * Entry (array) to Atom XML.
     *
     * @param array $entry
     * @return string
     */
    public function encode(array $entry)
    {
        $this->need();
        return \WikiSync\Entry::encode($entry);
    }

    /**
     * Atom XML to an entry (array); throws WikiSync\DecodeException when refused.
     *
     * @param string $xml
     * @return array
     */
    public function decode($xml)
    {
        $this->need();
        return \WikiSync\Entry::decode($xml);
    }

    /**
     * An Atom feed's entries, oldest first: each ['entry' => array|null, 'error' => array|null];
     * throws WikiSync\DecodeException when the document is not a feed.
     *
     * @param string $xml
     * @return array
     */
    public function decodeFeed($xml)
    {
        $this->need();
        return \WikiSync\Entry::decodeFeed($xml);
    }

    /**
     * Checks fetched media bytes against what their entry announced; throws
     * WikiSync\MediaException (size_mismatch, hash_mismatch) when they are not those.
     *
     * @param string $bytes
     * @param string $sha256
     * @param int $size
     */
    public function verifyMedia($bytes, $sha256, $size)
    {
        $this->need();
        \WikiSync\Entry::verifyMedia($bytes, $sha256, (int)$size);
    }

    /**
     * The item id a bare retraction (Event: RETRACTED) names.
     *
     * @param string $xml
     * @return string
     */
    public function decodeRetraction($xml)
    {
        $this->need();
        return \WikiSync\Entry::decodeRetraction($xml);
    }

    /**
     * What an item id names: ['type' => page|draft|media, 'page'|'media' => id], or null.
     *
     * @param string $itemId
     * @return array|null
     */
    public function itemSubject($itemId)
    {
        $this->need();
        return \WikiSync\Entry::itemSubject($itemId);
    }

    /**
     * @param string $state a media file's state
     * @param string|null $sha256 the hex SHA-256 of the file here, null when there is none
     * @return bool whether it still needs publishing
     */
    public function mediaNeedsPublish($state, $sha256)
    {
        $this->need();
        return \WikiSync\Sync::mediaNeedsPublish($state, $sha256);
    }

    /**
     * Throws WikiSync\SetupException (wrong_source) when a node's items do not come from
     * $source.
     *
     * @param string $source
     * @param array $entries decoded entries
     */
    public function checkMirrorSource($source, array $entries)
    {
        $this->need();
        \WikiSync\Sync::checkMirrorSource($source, $entries);
    }

    /**
     * The site a node's items come from, as far as they say.
     *
     * @param array $entries
     * @return string|null
     */
    public function sourceOfItems(array $entries)
    {
        $this->need();
        return \WikiSync\Sync::sourceOfItems($entries);
    }

    /**
     * What to do about a subscription, given what the gateway said (check_subscription).
     *
     * @param array $report SubscriptionReport
     * @param array $config SiteConfig (its lease and source grace)
     * @param string $ns the namespace subscribed
     * @return array SubscriptionStep
     */
    public function checkSubscription(array $report, array $config, $ns)
    {
        $this->need();
        return \WikiSync\Sync::checkSubscription($config, (string)$ns, $report, time());
    }

    /**
     * Whether this site tells the gateway it is alive for namespace $ns (it is its source).
     *
     * @param array $config SiteConfig
     * @param string $ns
     * @return bool
     */
    public function sendsHeartbeat(array $config, $ns)
    {
        $this->need();
        return \WikiSync\Sync::sendsHeartbeat($config, (string)$ns);
    }

    /**
     * Whether an administrator should hear of a notification ignored for $reason.
     *
     * @param string $reason an IgnoreReason
     * @return bool
     */
    public function ignoreWorthReporting($reason)
    {
        $this->need();
        return \WikiSync\Sync::worthReporting((string)$reason);
    }

    /**
     * Whether an administrator should hear of a notice (beyond the page's readers).
     *
     * @param array $notice
     * @return bool
     */
    public function noticeWorthReporting(array $notice)
    {
        $this->need();
        return \WikiSync\Sync::noticeWorthReporting($notice);
    }

    /**
     * Whether two node URIs name the same node (the service compared without case).
     *
     * @param string $a
     * @param string $b
     * @return bool
     */
    public function sameNode($a, $b)
    {
        $this->need();
        return \WikiSync\Node::same((string)$a, (string)$b);
    }

    /**
     * Where a node is followed: a node URI alone (gateway null: the gateway the namespace
     * uses) or another gateway's feed URL.
     *
     * @param string $ref
     * @return array gateway (base URL or null), node (node URI)
     * @throws \WikiSync\SetupException bad_node
     */
    public function followTarget($ref)
    {
        $this->need();
        return \WikiSync\Node::followTarget((string)$ref);
    }

    /**
     * The text naming $node on $gateway (its feed URL there), or the node URI alone.
     *
     * @param string|null $gateway
     * @param string $node
     * @return string
     * @throws \WikiSync\SetupException bad_gateway, bad_node
     */
    public function nodeRef($gateway, $node)
    {
        $this->need();
        return \WikiSync\Node::nodeRef($gateway === null ? null : (string)$gateway, (string)$node);
    }

    /**
     * The stable error code of an exception thrown by the extension, or 'internal'.
     *
     * @param Throwable $e
     * @return string
     */
    public function errorCode(Throwable $e)
    {
        if ($e instanceof \WikiSync\Exception) return (string)$e->getErrorCode();
        return 'internal';
    }
}
