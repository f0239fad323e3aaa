<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * First sync and catch-up of a subscribed namespace: the node's items, page by page (the
 * gateway links each page of `/items` to the next), decoded by the core, and every entry
 * (page or media file) through the core like a callback, oldest first.
 * Pages are written first and indexed in one pass afterwards (DokuWiki's indexer dominates
 * the time); on the command line several processes can write at once.
 */
class FirstSync
{
    /** @var Rules */
    protected $rules;
    /** @var \helper_plugin_wikisync_gateway */
    protected $gateway;
    /** @var \helper_plugin_wikisync_core */
    protected $core;
    /** @var Applier */
    protected $applier;
    /** @var Wiki */
    protected $wiki;
    /** @var PageStore */
    protected $pages;
    /** @var Health */
    protected $health;
    /** @var callable function (array $notice): string, a notice in words */
    protected $describe;
    /** @var callable function (string $reason): string, why an entry was ignored, in words */
    protected $explain;

    /**
     * @param Rules $rules
     * @param \helper_plugin_wikisync_gateway $gateway
     * @param \helper_plugin_wikisync_core $core
     * @param Applier $applier
     * @param Wiki $wiki
     * @param PageStore $pages
     * @param Health $health
     * @param callable $describe function (array $notice): string, a notice in words
     * @param callable $explain function (string $reason): string, an IgnoreReason in words
     */
    public function __construct(Rules $rules, $gateway, $core, Applier $applier, Wiki $wiki, PageStore $pages, Health $health,
                                callable $describe, callable $explain)
    {
        $this->describe = $describe;
        $this->explain = $explain;
        $this->rules = $rules;
        $this->gateway = $gateway;
        $this->core = $core;
        $this->applier = $applier;
        $this->wiki = $wiki;
        $this->pages = $pages;
        $this->health = $health;
    }

    /**
     * Fetches namespace $ns's node and applies every entry.
     *
     * @param string $ns
     * @param callable|null $progress function (int $done, int $total, string $id)
     * @param bool $index add the written pages to the search index now (else bin/indexer.php
     *                    or the indexer run by page views does it)
     * @param callable|null $indexProgress function (int $done, int $total, string $id)
     * @param int $jobs processes writing pages at once (command line only)
     * @return array counts by outcome, plus 'error', 'seconds' (writing), 'indexed' and
     *               'index_seconds'
     */
    public function pull($ns, $progress = null, $index = true, $indexProgress = null, $jobs = 1)
    {
        $rule = $this->rules->get($ns);
        if (!$rule || empty($rule['node'])) return ['error' => "namespace '$ns' has no node"];
        $r = $this->gateway->forRule($rule)->allItems($rule['node']);
        if (!$r['ok']) {
            $this->health->record('failure', $r['error']);
            return ['error' => $r['error']];
        }
        $items = [];
        try {
            // pages come newest first and each decodes oldest first: the last page first
            foreach (array_reverse($r['feeds']) as $feed) {
                $decoded = $this->core->decodeFeed($feed);
                $publishers = self::feedPublishers($feed);
                if (count($publishers) !== count($decoded)) {
                    $this->health->record('failure', "pull $ns: the publishers of the items could not be read; taken as unknown");
                    $publishers = array_fill(0, count($decoded), null);
                }
                foreach ($decoded as $i => $item) {
                    $items[] = $item + ['publisher' => $publishers[$i]];
                }
            }
        } catch (\WikiSync\Exception $e) {
            $error = "the items of '$ns' are not a feed: " . $e->getMessage();
            $this->health->record('failure', $error);
            return ['error' => $error];
        }
        $start = microtime(true);
        $count = ['error' => ''];
        if ($jobs > 1 && count($items) >= 100 && PHP_SAPI === 'cli' && function_exists('pcntl_fork')) {
            $count += $this->applyParallel($items, $ns, $jobs, $progress);
        } else {
            $count += $this->applyAll($items, $ns, $progress, count($items), 1);
        }
        $count['seconds'] = microtime(true) - $start;
        $start = microtime(true);
        if ($index) {
            $count['indexed'] = $this->wiki->indexWritten([$this->pages, 'locked'], $indexProgress);
        } else {
            $count['indexed'] = 0;
            $this->wiki->takeWritten();
        }
        $count['index_seconds'] = microtime(true) - $start;
        $this->rules->update($ns, ['last_sync' => time()]);
        $this->health->record('sync');
        return $count;
    }

    /**
     * Applies decoded feed items in order.
     *
     * @param array[] $items the core's feed items (entry or error)
     * @param string $ns the namespace they were fetched for
     * @param callable|null $progress
     * @param int $total for progress
     * @param int $step progress units per item (the number of parallel jobs)
     * @return array counts by outcome
     */
    protected function applyAll(array $items, $ns, $progress, $total, $step)
    {
        $count = [];
        $done = 0;
        foreach ($items as $item) {
            $entry = $item['entry'];
            if ($entry === null) {
                $outcome = 'error:' . $item['error']['code'];
                $this->health->record('failure', "pull $ns: " . $item['error']['message']);
            } else {
                try {
                    $outcome = self::outcomeKey($this->applyEntry($entry, $ns, $item['publisher'] ?? null));
                } catch (\Throwable $e) {
                    $outcome = 'error:' . $this->core->errorCode($e);
                    $this->health->record('failure', "pull $ns: {$entry['page']}: " . $e->getMessage());
                }
            }
            $count[$outcome] = ($count[$outcome] ?? 0) + 1;
            $done = min($total, $done + $step);
            if ($progress) $progress($done, $total, $entry['page'] ?? '?');
        }
        return $count;
    }

    /** The namespace of what the gateway adds to the entries of /items. */
    const GATEWAY_NS = 'urn:x-wikisync:gateway:1';

    /**
     * The publisher the gateway names for each entry of a /items feed
     * (`<publisher xmlns="urn:x-wikisync:gateway:1">SITE</publisher>`, null for none), in the
     * order the core's decodeFeed() gives the entries: oldest first. Only carries the value
     * over; the core decides what it allows.
     *
     * @param string $feed
     * @return array (string|null)[]
     */
    public static function feedPublishers($feed)
    {
        $doc = new \DOMDocument();
        // no network, no entity expansion: the core has refused a DOCTYPE already
        if (!@$doc->loadXML($feed, LIBXML_NONET) || !$doc->documentElement) return [];
        $root = $doc->documentElement;
        $entries = $root->localName === 'feed' ? iterator_to_array($root->childNodes) : [$root];
        $out = [];
        foreach ($entries as $node) {
            if (!($node instanceof \DOMElement)) continue;
            $atom = $node->namespaceURI === 'http://www.w3.org/2005/Atom' && $node->localName === 'entry';
            $tomb = $node->namespaceURI === 'http://purl.org/atompub/tombstones/1.0' && $node->localName === 'deleted-entry';
            if (!$atom && !$tomb) continue;
            $publisher = null;
            foreach ($node->childNodes as $child) {
                if ($child instanceof \DOMElement && $child->namespaceURI === self::GATEWAY_NS
                    && $child->localName === 'publisher') {
                    $publisher = trim($child->textContent);
                }
            }
            $out[] = $publisher === '' ? null : $publisher;
        }
        return array_reverse($out);
    }

    /**
     * Applies one entry received for namespace $ns (a callback, or an item of a pull): the
     * page's text is read under its lock, and the core decides.
     *
     * @param array $entry the decoded entry
     * @param string $ns
     * @param string|null $publisher the site the gateway authenticated as its publisher, if any
     *                               (the core decides whether it may write here)
     * @return array the decision
     */
    public function applyEntry(array $entry, $ns, $publisher = null)
    {
        $id = $entry['page'];
        $media = in_array($entry['kind']['type'], ['media', 'mediaDeleted'], true);
        $decision = $this->applier->apply($id, function () use ($id, $entry, $ns, $media, $publisher) {
            return ['type' => 'notification', 'localText' => $media ? null : $this->wiki->text($id),
                'entry' => $entry, 'namespace' => $ns, 'publisher' => $publisher];
        }, $this->reporting($id), $media);
        $outcome = $decision['outcome'];
        if ($outcome['type'] === 'ignore' && $this->core->ignoreWorthReporting($outcome['reason'])) {
            $this->health->record('ignored', "$id from {$entry['revision']['site']} ignored: "
                . ($this->explain)($outcome['reason']) . " ({$outcome['reason']})");
        }
        return $decision;
    }

    /**
     * Handlers that put the notices an administrator should hear of on the admin page.
     *
     * @param string $id
     * @return array see Applier::apply()
     */
    public function reporting($id)
    {
        return ['showNotice' => function ($action) use ($id) {
            if ($this->core->noticeWorthReporting($action['notice'])) {
                $this->health->record('refused', "$id: " . ($this->describe)($action['notice']));
            }
        }];
    }

    /**
     * "create", "ignore:duplicate", … : a decision's outcome as a counter key.
     *
     * @param array $decision
     * @return string
     */
    public static function outcomeKey(array $decision)
    {
        $o = $decision['outcome'];
        return isset($o['reason']) ? "{$o['type']}:{$o['reason']}" : $o['type'];
    }

    /**
     * applyAll() in $jobs forked processes (one slice of the items each); the parent collects
     * their counts and the pages to index.
     *
     * @param array[] $items
     * @param string $ns
     * @param int $jobs
     * @param callable|null $progress
     * @return array counts by outcome
     */
    protected function applyParallel(array $items, $ns, $jobs, $progress)
    {
        $slices = array_fill(0, $jobs, []);
        foreach ($items as $i => $item) $slices[$i % $jobs][] = $item;
        $children = [];
        foreach ($slices as $k => $slice) {
            $out = tempnam(sys_get_temp_dir(), 'wikisync-pull');
            $pid = pcntl_fork();
            if ($pid === 0) { // child: the first one reports progress for all
                $count = $this->applyAll($slice, $ns, $k === 0 ? $progress : null, count($items), $jobs);
                file_put_contents($out, json_encode(['count' => $count, 'index' => $this->wiki->takeWritten()]));
                exit(0);
            }
            if ($pid < 0) { // no fork: this slice here
                $count = $this->applyAll($slice, $ns, $progress, count($items), 1);
                file_put_contents($out, json_encode(['count' => $count, 'index' => []]));
                continue;
            }
            $children[$pid] = $out;
        }
        foreach (array_keys($children) as $pid) pcntl_waitpid($pid, $status);
        $count = [];
        foreach ($children as $out) {
            $r = json_decode((string)@file_get_contents($out), true);
            @unlink($out);
            if (!is_array($r)) {
                $count['error:worker'] = ($count['error:worker'] ?? 0) + 1;
                continue;
            }
            foreach ($r['count'] as $k => $v) $count[$k] = ($count[$k] ?? 0) + $v;
            $this->wiki->addWritten($r['index']);
        }
        return $count;
    }
}
