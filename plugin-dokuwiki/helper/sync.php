<?php

use dokuwiki\ChangeLog\PageChangeLog;
use dokuwiki\Extension\Plugin;

/**
 * Carries out what the core decides: turns DokuWiki events into core inputs, and the core's
 * actions into DokuWiki operations (saveWikiText, lock files, the page's sync state, the queue).
 *
 * No decision is taken here: outcomes come from helper_plugin_wikisync_core.
 */
class helper_plugin_wikisync_sync extends Plugin
{
    /** @var bool true while a page from the gateway is being written (loop guard) */
    protected static $applying = false;

    /** @var string|null a page whose next save must write a revision even if its text is unchanged */
    protected static $forceRevision = null;

    /** @var helper_plugin_wikisync_core */
    protected $core;
    /** @var helper_plugin_wikisync_store */
    protected $store;
    /** @var helper_plugin_wikisync_gateway */
    protected $gateway;

    /** @var string[] pages written during this request, to be indexed at the end */
    protected $toIndex = [];

    public function __construct()
    {
        $this->core = plugin_load('helper', 'wikisync_core');
        $this->store = plugin_load('helper', 'wikisync_store');
        $this->gateway = plugin_load('helper', 'wikisync_gateway');
    }

    /**
     * Whether a write from the gateway is in progress (its save must not be re-published).
     *
     * @return bool
     */
    public static function isApplying()
    {
        return self::$applying;
    }

    /**
     * Whether the save of $id in progress must write a revision although its text did not
     * change (a conflict resolved by keeping the text here): DokuWiki then records it in the
     * changelog and the attic like any edit, so the published revision is a real one.
     *
     * @param string $id
     * @return bool
     */
    public static function forcesRevision($id)
    {
        return self::$forceRevision !== null && self::$forceRevision === $id;
    }

    /**
     * @return helper_plugin_wikisync_store
     */
    public function store()
    {
        return $this->store;
    }

    /**
     * @return helper_plugin_wikisync_core
     */
    public function core()
    {
        return $this->core;
    }

    /**
     * @return helper_plugin_wikisync_gateway
     */
    public function gateway()
    {
        return $this->gateway;
    }

    // ------------------------------------------------------------------ configuration

    /**
     * Makes this site the source of a namespace: creates its node on the gateway (unless one
     * is given) and records the rule.
     *
     * @param string $ns namespace ('' = the whole wiki)
     * @param string $node an existing node URI to publish to, or '' to create one
     * @return array ok, error, node
     */
    public function addSource($ns, $node = '')
    {
        $ns = cleanID($ns);
        $old = $this->store->rules()[$ns] ?? null;
        if ($old && $old['role'] !== 'source') {
            // this site took over from its source: stop receiving, keep the pages and state
            $this->removeNamespace($ns);
            if ($node === '') $node = (string)$old['node'];
        }
        if ($node === '') {
            $r = $this->gateway->createNode();
            if (!$r['ok']) return ['ok' => false, 'error' => $r['error'], 'node' => ''];
            $node = $r['uri'];
        }
        $this->store->setRule($ns, ['role' => 'source', 'node' => $node, 'since' => time()]);
        return ['ok' => true, 'error' => '', 'node' => $node];
    }

    /**
     * Makes this site a mirror of a namespace published by $source on $node: records the
     * rule, then subscribes (the gateway verifies the callback with a challenge, which this
     * site answers because the rule is pending). The first sync is pull($ns).
     *
     * @param string $ns
     * @param string $node
     * @param string $source the source's site id
     * @param string $whenGone keep|delete
     * @return array ok, error
     */
    public function addMirror($ns, $node, $source, $whenGone = 'keep')
    {
        $ns = cleanID($ns);
        $rule = [
            'role' => 'mirror', 'node' => trim($node), 'source' => trim($source),
            'when_gone' => $whenGone === 'delete' ? 'delete' : 'keep',
            'secret' => bin2hex(random_bytes(32)), 'status' => 'pending', 'since' => time(),
        ];
        if (strpos($rule['node'], 'xmpp:') !== 0 || $rule['source'] === '') {
            return ['ok' => false, 'error' => 'a node URI (xmpp:…) and the source site id are required'];
        }
        $this->store->setRule($ns, $rule);
        $r = $this->gateway->subscribe($rule['node'], $this->store->callbackUrl($ns), $rule['secret']);
        $rule['status'] = $r['ok'] ? 'active' : 'failed';
        $this->store->setRule($ns, $rule);
        if (!$r['ok']) $this->store->record('failure', $r['error']);
        return ['ok' => $r['ok'], 'error' => $r['error']];
    }

    /**
     * Makes this site a peer of a namespace: everyone edits, drafts lock, concurrent edits
     * merge. All peers publish to and subscribe to the same node: the first peer creates it
     * (no $node given), the others join with its URI. Saves publish as on a source; the core
     * decides what incoming entries do (merge, conflict, lock).
     *
     * @param string $ns
     * @param string $node an existing node URI to join, or '' to create one
     * @return array ok, error, node
     */
    public function addPeer($ns, $node = '')
    {
        $ns = cleanID($ns);
        $node = trim($node);
        if ($node === '') {
            $r = $this->gateway->createNode();
            if (!$r['ok']) return ['ok' => false, 'error' => $r['error'], 'node' => ''];
            $node = $r['uri'];
        } elseif (strpos($node, 'xmpp:') !== 0) {
            return ['ok' => false, 'error' => 'a node URI (xmpp:…) is required', 'node' => ''];
        }
        $rule = [
            'role' => 'peer', 'node' => $node,
            'secret' => bin2hex(random_bytes(32)), 'status' => 'pending', 'since' => time(),
        ];
        $this->store->setRule($ns, $rule);
        $r = $this->gateway->subscribe($node, $this->store->callbackUrl($ns), $rule['secret']);
        $rule['status'] = $r['ok'] ? 'active' : 'failed';
        $this->store->setRule($ns, $rule);
        if (!$r['ok']) $this->store->record('failure', $r['error']);
        return ['ok' => $r['ok'], 'error' => $r['error'], 'node' => $node];
    }

    /**
     * Hands the source role of a namespace to another site: every page is republished naming
     * the new source (mirrors follow it), then this site becomes a mirror of the new source
     * on the same node. The new source takes over with `source NS --node <node>`.
     *
     * @param string $ns
     * @param string $newSource the new source's site id
     * @param callable|null $progress function (int $done, int $total, string $id)
     * @return array ok, error, pages
     */
    public function moveSource($ns, $newSource, $progress = null)
    {
        $rule = $this->store->rules()[$ns] ?? null;
        if (!$rule || $rule['role'] !== 'source') return ['ok' => false, 'error' => "this site is not the source of '$ns'", 'pages' => 0];
        $pages = $this->listPages($ns, true);
        $n = 0;
        foreach ($pages as $i => $id) {
            $d = $this->applyInput($id, function ($state) use ($newSource) {
                if ($state === null) return null; // never synced: nothing to announce
                return ['type' => 'announce_source_move', 'new_source' => $newSource, 'now' => time()];
            });
            if ($d !== null) $n++;
            if ($progress) $progress($i + 1, count($pages), $id);
        }
        $f = $this->flushQueue(10, 3600.0);
        if ($f['error'] !== '') return ['ok' => false, 'error' => $f['error'], 'pages' => $n];
        $r = $this->addMirror($ns, $rule['node'], $newSource, 'keep');
        return ['ok' => $r['ok'], 'error' => $r['error'], 'pages' => $n];
    }

    /**
     * Retires a source namespace: deletes its node on the gateway, so mirrors apply their
     * keep/delete policy (`Event: DELETED`), and forgets the rule. Pages stay here.
     *
     * @param string $ns
     * @return array ok, error
     */
    public function retireSource($ns)
    {
        $rule = $this->store->rules()[$ns] ?? null;
        if (!$rule || $rule['role'] !== 'source') return ['ok' => false, 'error' => "this site is not the source of '$ns'"];
        $r = $this->gateway->deleteNode($rule['node']);
        if (!$r['ok']) return ['ok' => false, 'error' => $r['error']];
        $this->store->setRule($ns, null);
        return ['ok' => true, 'error' => ''];
    }

    /**
     * Stops syncing a namespace (unsubscribing first when this site receives it). Pages stay.
     *
     * @param string $ns
     * @return array ok, error
     */
    public function removeNamespace($ns)
    {
        $rule = $this->store->rules()[$ns] ?? null;
        if (!$rule) return ['ok' => false, 'error' => "namespace '$ns' is not synced"];
        $error = '';
        if ($rule['role'] !== 'source' && ($rule['status'] ?? '') === 'active') {
            $rule['status'] = 'unsubscribing';
            $this->store->setRule($ns, $rule);
            $r = $this->gateway->unsubscribe($rule['node'], $this->store->callbackUrl($ns));
            $error = $r['ok'] ? '' : $r['error'];
        }
        $this->store->setRule($ns, null);
        return ['ok' => true, 'error' => $error];
    }

    // ------------------------------------------------------------------ outgoing

    /**
     * A local save or delete happened (COMMON_WIKIPAGE_SAVE, after): ask the core, queue what
     * it publishes, and try to send the queue at once (short timeout).
     *
     * @param string $id
     * @param string|null $text the new text, null when deleted
     * @param string $summary
     * @param bool $minor
     * @param int $revision DokuWiki's new revision (the save time)
     * @param string $user REMOTE_USER
     * @param bool $flush send the queue now
     * @return array|null the decision, or null when the page is not synced
     */
    public function localSave($id, $text, $summary, $minor, $revision, $user, $flush = true)
    {
        if ($this->store->namespaceOf($id) === null) return null;
        if (!$this->core->isAvailable()) {
            $this->store->record('failure', "save of $id not published: " . $this->core->problem());
            return null;
        }
        $decision = $this->coreInput($id, 'save of', function () use ($text, $summary, $minor, $revision, $user) {
            return [
                'type' => 'local_save',
                'edit' => [
                    'change' => $text === null ? ['type' => 'deleted'] : ['type' => 'text', 'text' => $text],
                    'author' => $user === '' ? null : $user,
                    'summary' => $summary === '' ? null : $summary,
                    'minor' => (bool)$minor,
                    'revision' => (int)$revision,
                ],
                'now' => time(),
            ];
        });
        if ($decision !== null && $flush) $this->flushQueue(max(1, (int)$this->getConf('timeout')));
        return $decision;
    }

    // ------------------------------------------------------------------ editor sessions (peers)

    /**
     * Whether a page is in a namespace this site edits together with peers.
     *
     * @param string $id
     * @return bool
     */
    public function isPeerPage($id)
    {
        $rule = $this->store->ruleFor($id);
        return $rule !== null && $rule['role'] === 'peer';
    }

    /**
     * The name an editor has in locks and drafts: the user, or the address of an anonymous one.
     *
     * @return string
     */
    public function editorName()
    {
        global $INPUT;
        $user = $INPUT->server->str('REMOTE_USER');
        return $user !== '' ? $user : clientIP(true);
    }

    /**
     * A local editor opened (or refreshed) a page of a peer namespace: the core takes the lock
     * and publishes a draft, which the other peers show as a lock. A refresh inside the first
     * half of the lock changes nothing (the editor's lock refresh runs every minute or so).
     *
     * @param string $id
     * @param string $editor
     * @return array|null the decision, or null when nothing was asked of the core
     */
    public function editorOpened($id, $editor)
    {
        if (!$this->isPeerPage($id) || !$this->core->isAvailable()) return null;
        $half = $this->store->siteConfig()['lock_seconds'] / 2;
        return $this->editorInput($id, 'editor opened on', function ($state) use ($editor, $half) {
            $held = $state['lock'] ?? ['type' => 'free'];
            if (($held['type'] ?? '') === 'awaiting_local_save' && ($held['editor'] ?? '') === $editor
                && (int)$held['expires'] - time() > $half) {
                return null;
            }
            return ['type' => 'editor_opened', 'editor' => $editor, 'now' => time()];
        });
    }

    /**
     * The local editor left a page without saving: the core releases the lock and publishes
     * the unlock. Only the editor holding the lock can release it.
     *
     * @param string $id
     * @param string $editor
     * @return array|null the decision, or null when this editor holds no lock on the page
     */
    public function editorClosed($id, $editor)
    {
        if (!$this->isPeerPage($id) || !$this->core->isAvailable()) return null;
        return $this->editorInput($id, 'editor closed on', function ($state) use ($editor) {
            $held = $state['lock'] ?? ['type' => 'free'];
            if (($held['type'] ?? '') !== 'awaiting_local_save' || ($held['editor'] ?? '') !== $editor) {
                return null;
            }
            return ['type' => 'editor_closed', 'editor' => $editor, 'now' => time()];
        });
    }

    /**
     * Gives the core one editor input for a page (see coreInput), then sends the queue with a
     * short timeout: the draft should reach the peers before the user starts typing.
     *
     * @param string $id
     * @param string $what for the failure record
     * @param callable $input function (array $state): ?array
     * @return array|null the decision, or null when nothing was asked or it failed
     */
    protected function editorInput($id, $what, callable $input)
    {
        $decision = $this->coreInput($id, $what, $input);
        if ($decision !== null) $this->flushQueue(max(1, min(3, (int)$this->getConf('timeout'))), 5.0);
        return $decision;
    }

    /**
     * Gives the core one input for a page, under the page's lock: `$input` receives the page's
     * state and returns the input, or null to ask nothing. The new state is stored and the
     * actions carried out; a failure is recorded for the admin page.
     *
     * @param string $id
     * @param string $what for the failure record ("save of", "editor opened on", ...)
     * @param callable $input function (array $state): ?array
     * @return array|null the decision, or null when nothing was asked or it failed
     */
    protected function coreInput($id, $what, callable $input)
    {
        $lock = $this->store->lockPage($id);
        try {
            $state = $this->store->pageState($id) ?? $this->core->newState($id);
            $in = $input($state);
            if ($in === null) return null;
            $decision = $this->core->handle($this->store->siteConfig(), $state, $in);
            $this->store->setPageState($id, $decision['state']);
            $this->carryOut($id, $decision['actions']);
            return $decision;
        } catch (Throwable $e) {
            $this->store->record('failure', "$what $id: " . $e->getMessage());
            return null;
        } finally {
            $this->store->unlockPage($lock);
        }
    }

    /**
     * Before a local save of a peer page is written: asks the core (it is pure, so this is
     * a dry run) whether it accepts the save. A refusal (an editor at another site holds the
     * page, or the page changed under the editor and the save does not merge) is carried out
     * (the conflict recorded, the notice shown) and returned, so the caller stops the save;
     * an accepted save is decided for real once written (localSave).
     *
     * @param string $id
     * @param string|null $text null: a deletion
     * @param string $summary
     * @param bool $minor
     * @param string $user
     * @return array|null the refusing decision, or null when the save may go ahead
     */
    public function refusal($id, $text, $summary, $minor, $user)
    {
        if (!$this->isPeerPage($id) || !$this->core->isAvailable()) return null;
        $lock = $this->store->lockPage($id);
        try {
            $state = $this->store->pageState($id);
            if ($state === null) return null;
            $decision = $this->core->handle($this->store->siteConfig(), $state, [
                'type' => 'local_save',
                'edit' => [
                    'change' => $text === null ? ['type' => 'deleted'] : ['type' => 'text', 'text' => $text],
                    'author' => $user === '' ? null : $user,
                    'summary' => $summary === '' ? null : $summary,
                    'minor' => (bool)$minor,
                    'revision' => time(),
                ],
                'now' => time(),
            ]);
            if ($decision['outcome']['type'] !== 'refuse') return null;
            $this->store->setPageState($id, $decision['state']);
            $this->carryOut($id, $decision['actions']);
            if (($decision['outcome']['reason'] ?? '') === 'conflict') {
                // the editor's side of the conflict: the page holds the other side
                $this->store->setPageExtra($id, 'editor_text',
                    ['text' => (string)$text, 'user' => $user, 'time' => time()]);
            }
            return $decision;
        } catch (Throwable $e) {
            $this->store->record('failure', "save of $id: " . $e->getMessage());
            return null;
        } finally {
            $this->store->unlockPage($lock);
        }
    }

    /**
     * The pending conflict of a page (the remote version that did not merge), or null.
     *
     * @param string $id
     * @return array|null the core's PendingConflict
     */
    public function conflict($id)
    {
        $state = $this->store->pageState($id);
        return is_array($state['conflict'] ?? null) ? $state['conflict'] : null;
    }

    /**
     * Resolves a page's pending conflict the way the local editor chose. The caller has
     * checked the security token and the edit permission.
     *
     * - mine: a conflict from a remote revision: the text here stays; a conflict from a save
     *   that did not merge: the editor's text ($editorText, else the one kept when the save
     *   was refused) is saved;
     * - theirs: the other side is saved here (a remote revision's text, or the page's current
     *   text when the editor's save was refused);
     * - merge: nothing is saved yet: returns the merged text with conflict markers for the
     *   editor; saving it (a save with a pending conflict resolves it) publishes it.
     *
     * mine and theirs are saved as a DokuWiki revision by the local user (even when the text
     * does not change here), which the save hook publishes: its clock includes the other
     * version, so every peer takes it. The core clears the conflict (clear_conflict).
     *
     * @param string $id
     * @param string $choice mine|theirs|merge
     * @param string $user
     * @param string|null $editorText the editor's text posted with the choice (save conflicts)
     * @return array ok, error, text (merge: the text for the editor)
     */
    public function resolveConflict($id, $choice, $user, $editorText = null)
    {
        $conflict = $this->conflict($id);
        if ($conflict === null) return ['ok' => false, 'error' => 'no_conflict', 'text' => ''];
        $site = (string)($conflict['revision']['site'] ?? '?');
        $here = $this->pageText($id);
        switch ($choice) {
            case 'merge':
                return ['ok' => true, 'error' => '', 'text' => \WikiSync\Sync::renderConflict($conflict)];
            case 'theirs':
                $summary = sprintf($this->getLang('sum_theirs'), $site);
                $d = $this->saveResolution($id, $conflict['text'], $summary, $user);
                break;
            case 'mine':
                $summary = sprintf($this->getLang('sum_mine'), $site);
                if (self::isSaveConflict($conflict)) {
                    // a save that did not merge: "mine" is the editor's text, not the page's
                    $mine = $editorText ?? ($this->store->pageExtra($id, 'editor_text')['text'] ?? null);
                    if (!is_string($mine)) return ['ok' => false, 'error' => 'no_editor_text', 'text' => ''];
                    $d = $this->saveResolution($id, $mine, $summary, $user);
                } else {
                    $d = $this->saveResolution($id, $here ?? '', $summary, $user);
                }
                break;
            default:
                return ['ok' => false, 'error' => 'bad_choice', 'text' => ''];
        }
        $ok = $d !== null && $d['outcome']['type'] === 'publish';
        return ['ok' => $ok, 'error' => $ok ? '' : 'refused', 'text' => ''];
    }

    /**
     * Whether a pending conflict comes from a local save that did not merge with a change
     * made while its editor was open (the page holds the other side; the editor's text is
     * the one that was refused), rather than from a remote revision.
     *
     * @param array $conflict the core's PendingConflict
     * @return bool
     */
    public static function isSaveConflict(array $conflict)
    {
        return ($conflict['right'] ?? '') === 'editor';
    }

    /**
     * Saves the text that resolves a conflict as a DokuWiki revision (even when it equals
     * the text here: DokuWiki would write nothing, and the entry published would name a
     * revision that exists nowhere), which the save hook publishes. A page that stays
     * deleted has no revision to write: the resolution is published directly.
     *
     * @param string $id
     * @param string $text
     * @param string $summary
     * @param string $user
     * @return array|null the decision (outcome publish when resolved)
     */
    protected function saveResolution($id, $text, $summary, $user)
    {
        if ($text === '' && $this->pageText($id) === null) {
            return $this->localSave($id, null, $summary, false, time(), $user);
        }
        $this->waitForNextSecond($id);
        self::$forceRevision = $id;
        try {
            saveWikiText($id, $text, $summary);
        } finally {
            self::$forceRevision = null;
        }
        return ['outcome' => ['type' => $this->conflict($id) === null ? 'publish' : 'refuse']];
    }

    /**
     * DokuWiki revisions are whole seconds: a save in the second of the page's last revision
     * would overwrite that revision's changelog entry. Waits for the next second.
     *
     * @param string $id
     */
    protected function waitForNextSecond($id)
    {
        $file = wikiFN($id);
        clearstatcache(true, $file);
        $last = @filemtime($file);
        if ($last !== false && $last >= time()) time_sleep_until($last + 1.02);
    }

    /**
     * Publishes every page of a source namespace that the gateway does not have yet (bulk
     * publish of an existing wiki). Progress goes to $progress(done, total, id).
     *
     * @param string $ns
     * @param callable|null $progress
     * @return array counts: published, unchanged, failed
     */
    public function publishAll($ns, $progress = null)
    {
        $pages = $this->listPages($ns);
        $count = ['published' => 0, 'unchanged' => 0, 'failed' => 0];
        $total = count($pages);
        foreach ($pages as $i => $id) {
            $text = $this->pageText($id);
            $state = $this->store->pageState($id);
            if ($state !== null && isset($state['head']) && ($state['text'] ?? null) === $text) {
                $count['unchanged']++;
            } else {
                $info = (new PageChangeLog($id))->getRevisionInfo(@filemtime(wikiFN($id))) ?: [];
                $d = $this->localSave($id, $text, (string)($info['sum'] ?? ''), false,
                    (int)@filemtime(wikiFN($id)), (string)($info['user'] ?? ''), false);
                $d === null ? $count['failed']++ : $count['published']++;
            }
            if ($progress) $progress($i + 1, $total, $id);
        }
        return $count;
    }

    /**
     * Sends queued entries in order until the queue is empty, the gateway fails, or the time
     * is up. Only one request sends at a time (others return at once).
     *
     * @param int $timeout seconds per request
     * @param float $budget seconds in total
     * @param callable|null $progress function (int $sent, int $total)
     * @return array sent, left, error
     */
    public function flushQueue($timeout = 3, $budget = 10.0, $progress = null)
    {
        $fh = fopen($this->store->dir() . '/queue.lock', 'c');
        if (!flock($fh, LOCK_EX | LOCK_NB)) {
            fclose($fh);
            return ['sent' => 0, 'left' => count($this->store->queued()), 'error' => 'busy'];
        }
        $start = microtime(true);
        $sent = 0;
        $error = '';
        $total = count($this->store->queued());
        // entries queued by other requests while this one sends (they found the lock taken)
        // are picked up by the next round
        $done = [];
        while ($error === '' && microtime(true) - $start <= $budget
            && ($files = array_diff($this->store->queued(), array_keys($done)))) {
            $total = max($total, $sent + count($files));
            foreach ($files as $file) {
                $done[$file] = true;
                if (microtime(true) - $start > $budget) break;
                $job = $this->store->readQueued($file);
                if ($job === null) { // vanished or unreadable
                    @unlink($file);
                    continue;
                }
                $r = $this->gateway->publish($job['node'], $job['xml'], $timeout);
                if ($r['ok']) {
                    @unlink($file);
                    $sent++;
                    if ($progress) $progress($sent, $total);
                    continue;
                }
                if (in_array($r['status'], [400, 404, 413, 415], true)) {
                    // refused for good: retrying cannot help; keep it visible to the admin
                    $this->store->rejectQueued($file);
                    $this->store->record('failure', "entry for {$job['page']} refused: {$r['error']}");
                    continue;
                }
                $error = $r['error'];
                $this->store->record('failure', $error);
                break;
            }
        }
        if ($sent > 0) $this->store->record('publish');
        flock($fh, LOCK_UN);
        fclose($fh);
        return ['sent' => $sent, 'left' => count($this->store->queued()), 'error' => $error];
    }

    // ------------------------------------------------------------------ incoming

    /**
     * Applies one entry (from a callback or a pull) to its page. The caller has checked that
     * the entry belongs to namespace $ns.
     *
     * @param array $entry the decoded entry
     * @return array the decision
     */
    public function applyEntry(array $entry)
    {
        $id = $entry['page'];
        return $this->applyInput($id, function () use ($id, $entry) {
            return [
                'type' => 'notification',
                'local_text' => $this->pageText($id),
                'entry' => $entry,
                'now' => time(),
            ];
        });
    }

    /**
     * Gives the core one input for a page under the page's lock and applies the decision: the
     * actions first, then the new state, so that an action that fails (its exception
     * propagates) leaves the old state and the input can be tried again. `$input` receives
     * the stored state (null before the first sync) and returns the input, or null to do
     * nothing.
     *
     * @param string $id
     * @param callable $input function (?array $state): ?array
     * @return array|null the decision, or null when nothing was asked
     */
    protected function applyInput($id, callable $input)
    {
        $lock = $this->store->lockPage($id);
        try {
            $state = $this->store->pageState($id);
            $in = $input($state);
            if ($in === null) return null;
            $decision = $this->core->handle($this->store->siteConfig(), $state ?? $this->core->newState($id), $in);
            $this->carryOut($id, $decision['actions']);
            $this->store->setPageState($id, $decision['state']);
            return $decision;
        } finally {
            $this->store->unlockPage($lock);
        }
    }

    /**
     * The node of namespace $ns went away (Event: DELETED): each page of it that this site
     * mirrors goes through the core's source-gone input (keep or delete, or follow).
     *
     * @param string $ns
     * @param string|null $redirect the new source's site id, if known
     * @return int pages handled
     */
    public function sourceGone($ns, $redirect)
    {
        $n = 0;
        foreach ($this->listPages($ns, true) as $id) {
            $d = $this->applyInput($id, function ($state) use ($redirect) {
                if ($state === null) return null; // never synced from the source
                return ['type' => 'source_gone', 'redirect' => $redirect, 'now' => time()];
            });
            if ($d !== null) $n++;
        }
        return $n;
    }

    /**
     * First sync / catch-up of a subscribed namespace: one GET of the node's items, then every
     * entry goes through the core like a callback. Progress: $progress(done, total, id).
     *
     * Pages are written first, then added to the search index in one pass (DokuWiki's
     * indexer dominates the time; $index = false leaves it to bin/indexer.php or to the
     * indexer that runs when a page is viewed).
     *
     * @param string $ns
     * @param callable|null $progress function (int $done, int $total, string $id)
     * @param bool $index
     * @param callable|null $indexProgress function (int $done, int $total, string $id)
     * @param int $jobs processes writing pages at once (command line only; each page is
     *                  one item, so no two processes touch the same page)
     * @return array counts by outcome, plus 'error', 'seconds' (writing) and 'index_seconds'
     */
    public function pull($ns, $progress = null, $index = true, $indexProgress = null, $jobs = 1)
    {
        $rule = $this->store->rules()[$ns] ?? null;
        if (!$rule || empty($rule['node'])) return ['error' => "namespace '$ns' has no node"];
        $r = $this->gateway->items($rule['node']);
        if (!$r['ok']) {
            $this->store->record('failure', $r['error']);
            return ['error' => $r['error']];
        }
        $start = microtime(true);
        $entries = array_reverse($this->splitFeed($r['body'])); // oldest first
        $count = ['error' => ''];
        if ($jobs > 1 && count($entries) >= 100 && PHP_SAPI === 'cli' && function_exists('pcntl_fork')) {
            $count += $this->applyParallel($entries, $ns, $jobs, $progress);
        } else {
            $count += $this->applyAll($entries, $ns, $progress, count($entries), 1);
        }
        $count['seconds'] = microtime(true) - $start;
        $start = microtime(true);
        if ($index) {
            $count['indexed'] = $this->indexPending($indexProgress);
        } else {
            $count['indexed'] = 0;
            $this->toIndex = [];
        }
        $count['index_seconds'] = microtime(true) - $start;
        $rule['last_sync'] = time();
        $this->store->setRule($ns, $rule);
        $this->store->record('sync');
        return $count;
    }

    /**
     * Applies entries of namespace $ns in order; pages written are remembered for indexing.
     *
     * @param string[] $entries entry documents
     * @param string $ns
     * @param callable|null $progress
     * @param int $total for progress
     * @param int $step progress units per entry (the number of parallel jobs)
     * @return array counts by outcome
     */
    protected function applyAll(array $entries, $ns, $progress, $total, $step)
    {
        $count = [];
        $done = 0;
        foreach ($entries as $xml) {
            $entry = null;
            try {
                $entry = $this->core->decode($xml);
                if ($this->store->namespaceOf($entry['page']) !== $ns) {
                    $outcome = 'outside_namespace';
                } else {
                    $d = $this->applyEntry($entry);
                    $outcome = $d['outcome']['type'] === 'ignore'
                        ? 'ignore:' . $d['outcome']['reason'] : $d['outcome']['type'];
                }
            } catch (Throwable $e) {
                $outcome = 'error:' . $this->core->errorCode($e);
                $this->store->record('failure', "pull $ns: " . $e->getMessage());
            }
            $count[$outcome] = ($count[$outcome] ?? 0) + 1;
            $done = min($total, $done + $step);
            if ($progress) $progress($done, $total, $entry['page'] ?? '?');
        }
        return $count;
    }

    /**
     * applyAll() in $jobs forked processes (one slice of the pages each); the parent collects
     * their counts and the pages to index.
     *
     * @param string[] $entries
     * @param string $ns
     * @param int $jobs
     * @param callable|null $progress
     * @return array counts by outcome
     */
    protected function applyParallel(array $entries, $ns, $jobs, $progress)
    {
        $slices = array_fill(0, $jobs, []);
        foreach ($entries as $i => $xml) $slices[$i % $jobs][] = $xml;
        $children = [];
        foreach ($slices as $k => $slice) {
            $out = tempnam(sys_get_temp_dir(), 'wikisync-pull');
            $pid = pcntl_fork();
            if ($pid === 0) { // child: the first one reports progress for all
                $count = $this->applyAll($slice, $ns, $k === 0 ? $progress : null, count($entries), $jobs);
                file_put_contents($out, json_encode(['count' => $count, 'index' => $this->toIndex]));
                exit(0);
            }
            if ($pid < 0) { // no fork: do this slice here
                $count = $this->applyAll($slice, $ns, $progress, count($entries), 1);
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
            $this->toIndex = array_merge($this->toIndex, $r['index']);
        }
        return $count;
    }

    /**
     * The entries of an Atom feed as standalone entry documents (namespaces kept).
     *
     * @param string $feed
     * @return string[]
     */
    public function splitFeed($feed)
    {
        $out = [];
        $dom = new DOMDocument();
        if (!@$dom->loadXML($feed, LIBXML_NONET | LIBXML_PARSEHUGE)) return $out;
        foreach ($dom->documentElement->childNodes as $node) {
            if ($node->nodeType !== XML_ELEMENT_NODE || $node->localName !== 'entry'
                || $node->namespaceURI !== 'http://www.w3.org/2005/Atom') continue;
            $doc = new DOMDocument('1.0', 'utf-8');
            $doc->appendChild($doc->importNode($node, true));
            // libxml writes a CR of text content literally, and a parser reads a literal CR
            // as LF: every CR here came from a character reference, so write it as one again
            $out[] = str_replace("\r", '&#13;', $doc->saveXML());
        }
        return $out;
    }

    // ------------------------------------------------------------------ actions

    /**
     * Carries out the core's actions in order.
     *
     * @param string $id
     * @param array $actions
     */
    public function carryOut($id, array $actions)
    {
        foreach ($actions as $action) {
            switch ($action['type']) {
                case 'publish':
                    $this->queueEntry($id, $action['entry']);
                    break;
                case 'write_page':
                    $this->writePage($id, $action['text'], $action['author'] ?? null,
                        $action['summary'] ?? null, !empty($action['minor']));
                    break;
                case 'delete_page':
                    $this->writePage($id, '', $action['author'] ?? null, $action['summary'] ?? null, false);
                    break;
                case 'lock_page':
                    $this->lockFile($id, $action['editor'] ?? null, (string)$action['site'], (int)$action['until']);
                    break;
                case 'unlock_page':
                    // only a remote editor's lock: a local editor may have locked the page since
                    if ($this->remoteLockHolder($id) !== null) @unlink(wikiLockFN($id));
                    break;
                case 'show_notice':
                    $old = $this->store->pageExtra($id, 'notice');
                    if (($action['notice']['type'] ?? '') === 'edited_elsewhere' && ($old['type'] ?? '') === 'lock_lost'
                        && ($old['site'] ?? null) === ($action['notice']['site'] ?? null)) {
                        break; // the same remote edit: "you lost the lock to it" says more
                    }
                    $this->store->setPageExtra($id, 'notice', ['time' => time()] + $action['notice']);
                    break;
                case 'record_conflict':
                    $this->store->setPageExtra($id, 'conflict', $action['conflict']);
                    break;
                case 'clear_conflict':
                    $this->store->setPageExtra($id, 'conflict', null);
                    $this->store->setPageExtra($id, 'editor_text', null); // a refused save's text
                    break;
                case 'refuse_local_edit':
                    msg(sprintf($this->getLang('refused'), hsc($action['reason'])), -1);
                    break;
            }
        }
    }

    /**
     * Queues an entry the core wants published, completing the page's title and link.
     *
     * @param string $id
     * @param array $entry
     */
    protected function queueEntry($id, array $entry)
    {
        $rule = $this->store->ruleFor($id);
        if (!$rule || empty($rule['node'])) {
            $this->store->record('failure', "no node configured for $id; entry not published");
            return;
        }
        $title = p_get_first_heading($id, METADATA_DONT_RENDER);
        if (is_string($title) && $title !== '') $entry['title'] = $title;
        $entry['link'] = wl($id, ['rev' => $entry['revision']['revision']], true, '&');
        $this->store->enqueue($rule['node'], $id, $this->core->encode($entry));
    }

    /**
     * Writes (or, with an empty text, deletes) a page through saveWikiText() as the remote
     * author, so history, changelog and index show the remote author and summary. The save
     * event this triggers is not re-published.
     *
     * @param string $id
     * @param string $text
     * @param string|null $author
     * @param string|null $summary
     * @param bool $minor
     */
    protected function writePage($id, $text, $author, $summary, $minor)
    {
        global $INPUT;
        $this->waitForNextSecond($id);

        $user = preg_replace('/[\t\r\n]+/', ' ', (string)$author);
        if ($user === '') $user = 'wikisync';
        $prevUser = $INPUT->server->str('REMOTE_USER');
        $prevServer = $_SERVER['REMOTE_USER'] ?? null;
        $INPUT->server->set('REMOTE_USER', $user);
        $_SERVER['REMOTE_USER'] = $user;
        self::$applying = true;
        try {
            saveWikiText($id, $text, (string)$summary, $minor);
        } finally {
            self::$applying = false;
            $INPUT->server->set('REMOTE_USER', $prevUser);
            if ($prevServer === null) {
                unset($_SERVER['REMOTE_USER']);
            } else {
                $_SERVER['REMOTE_USER'] = $prevServer;
            }
        }
        if ($text !== '' && $this->getConf('index_on_apply')) $this->toIndex[] = $id;
    }

    /**
     * Adds the pages written in this request to the search index.
     *
     * @param callable|null $progress function (int $done, int $total, string $id)
     * @return int pages indexed
     */
    public function indexPending($progress = null)
    {
        $ids = array_values(array_unique($this->toIndex));
        $this->toIndex = [];
        foreach ($ids as $i => $id) {
            // indexing renders the page's metadata and writes back the persistent part it
            // read first: under the page's lock, so a concurrent callback's state is not lost
            $lock = $this->store->lockPage($id);
            try {
                idx_addPage($id);
            } finally {
                $this->store->unlockPage($lock);
            }
            if ($progress) $progress($i + 1, count($ids), $id);
        }
        return count($ids);
    }

    /**
     * A DokuWiki lock file held by a remote editor until $until (DokuWiki expires locks
     * `locktime` seconds after the file's mtime).
     *
     * @param string $id
     * @param string|null $editor
     * @param string $site
     * @param int $until
     */
    public function lockFile($id, $editor, $site, $until)
    {
        global $conf;
        $file = wikiLockFN($id);
        // one line: checklock() compares a second line with the local session id
        $clean = function ($s) {
            return trim(preg_replace('/[\x00-\x1f\x7f]+/', ' ', (string)$s));
        };
        io_saveFile($file, ($clean($editor) ?: '?') . ' @ ' . ($clean($site) ?: '?'));
        @touch($file, $until - (int)$conf['locktime']);
    }

    /**
     * The holder of a page's DokuWiki lock file when it is a remote editor's lock written by
     * lockFile() ("editor @ site": local user names cannot contain spaces), else null.
     *
     * @param string $id
     * @return string|null
     */
    public function remoteLockHolder($id)
    {
        $file = wikiLockFN($id);
        if (!is_file($file)) return null;
        $holder = (string)io_readFile($file, false);
        return strpos($holder, ' @ ') !== false && strpos($holder, "\n") === false ? $holder : null;
    }

    /**
     * The page's exact bytes, or null when it does not exist (rawWiki() strips CRs).
     *
     * @param string $id
     * @return string|null
     */
    public function pageText($id)
    {
        $file = wikiFN($id);
        if (!file_exists($file)) return null;
        $text = io_readFile($file, false);
        return is_string($text) ? $text : null;
    }

    /**
     * The existing pages of a namespace ('' = all), sorted.
     *
     * @param string $ns
     * @param bool $withMeta also pages that only have sync state (deleted ones)
     * @return string[]
     */
    public function listPages($ns, $withMeta = false)
    {
        global $conf;
        $dir = utf8_encodeFN(str_replace(':', '/', $ns));
        $data = [];
        search($data, $conf['datadir'], 'search_allpages', ['skipacl' => true], $dir);
        $ids = array_map(function ($p) {
            return $p['id'];
        }, $data);
        if ($withMeta) {
            $base = $conf['metadir'] . ($dir === '' ? '' : "/$dir");
            $it = is_dir($base) ? new RecursiveIteratorIterator(new RecursiveDirectoryIterator($base,
                FilesystemIterator::SKIP_DOTS)) : [];
            foreach ($it as $f) {
                if (substr($f->getFilename(), -5) !== '.meta') continue;
                $rel = substr($f->getPathname(), strlen($conf['metadir']) + 1, -5);
                if (strpos($rel, '_wikisync') === 0) continue;
                $ids[] = pathID(utf8_decodeFN($rel));
            }
            $ids = array_values(array_unique($ids));
        }
        sort($ids, SORT_STRING);
        return $ids;
    }
}
