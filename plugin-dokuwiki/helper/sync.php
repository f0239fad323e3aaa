<?php

use dokuwiki\Extension\Plugin;
use dokuwiki\plugin\wikisync\classes\Applier;
use dokuwiki\plugin\wikisync\classes\Bulk;
use dokuwiki\plugin\wikisync\classes\FirstSync;
use dokuwiki\plugin\wikisync\classes\Heal;
use dokuwiki\plugin\wikisync\classes\Health;
use dokuwiki\plugin\wikisync\classes\PageStore;
use dokuwiki\plugin\wikisync\classes\Queue;
use dokuwiki\plugin\wikisync\classes\Rules;
use dokuwiki\plugin\wikisync\classes\Setup;
use dokuwiki\plugin\wikisync\classes\Wiki;

/**
 * The plugin's services for one request, and the inputs DokuWiki's events give the core.
 * Every input goes through the Applier (carry out the actions, then store the state); what
 * each does is the core's decision. The classes doing the work are in `classes/`, one
 * concern each: Rules (the sync table), PageStore (page states), Queue (outgoing), Wiki
 * (DokuWiki's pages and locks), Applier, FirstSync, Bulk, Setup, Health.
 */
class helper_plugin_wikisync_sync extends Plugin
{
    /** @var helper_plugin_wikisync_core */
    public $core;
    /** @var helper_plugin_wikisync_gateway */
    public $gateway;
    /** @var Rules */
    public $rules;
    /** @var PageStore */
    public $pages;
    /** @var Queue */
    public $queue;
    /** @var Health */
    public $health;
    /** @var Wiki */
    public $wiki;
    /** @var Applier */
    public $applier;
    /** @var FirstSync */
    public $firstSync;
    /** @var Bulk */
    public $bulk;
    /** @var Setup */
    public $setup;
    /** @var Heal */
    public $heal;

    public function __construct()
    {
        global $conf;
        $dir = $conf['metadir'] . '/_wikisync';
        if (!is_dir($dir)) io_mkdir_p($dir);
        $this->core = plugin_load('helper', 'wikisync_core');
        $this->gateway = plugin_load('helper', 'wikisync_gateway');
        $this->wiki = new Wiki((bool)$this->getConf('index_on_apply'));
        $this->rules = new Rules($dir, $this->core, $this->siteId(), max(10, (int)$conf['locktime']),
            $this->wiki->pageUrlTemplate(), [
                'mediaUrl' => $this->wiki->mediaUrlTemplate(),
                'mediaMax' => (int)round(max(0.001, (float)$this->getConf('media_max_mb')) * 1024 * 1024),
                'leaseSeconds' => $this->leaseSeconds(),
                'sourceGraceSeconds' => (int)round(max(0, (float)$this->getConf('source_grace_days')) * 86400),
            ]);
        $this->pages = new PageStore($dir);
        $this->health = new Health($dir, (int)$this->getConf('replay_window'));
        $this->queue = new Queue($dir, $this->gateway, $this->core, $this->health);
        $this->applier = new Applier($this->pages, $this->rules, $this->queue, $this->wiki, $this->core, $this->health,
            $this->gateway);
        $this->firstSync = new FirstSync($this->rules, $this->gateway, $this->core, $this->applier, $this->wiki,
            $this->pages, $this->health, function ($notice) {
                return html_entity_decode(strip_tags($this->noticeHtml($notice)), ENT_QUOTES, 'UTF-8');
            }, function ($reason) {
                return $this->getLang('ignored_' . $reason) ?: 'the core ignores it';
            });
        $this->bulk = new Bulk($this->rules, $this->pages, $this->wiki, $this->applier, $this->core);
        $each = function ($ns, $input, $progress = null) {
            return $this->bulk->each($ns, $input, $progress);
        };
        $lease = $this->leaseSeconds();
        $this->setup = new Setup($this->rules, $this->gateway, $this->core, $this->health,
            [$this, 'announceMove'], function ($ns, $progress) {
                return $this->firstSync->pull($ns, $progress);
            }, $each, $lease, [$this, 'republish']);
        $this->heal = new Heal($dir, $this->rules, $this->gateway, $this->core, $this->health, $this->setup,
            function ($ns) {
                return $this->firstSync->pull($ns);
            }, $each);
    }

    /**
     * The subscription lease this site asks for, in seconds (the `lease_days` setting).
     *
     * @return int
     */
    protected function leaseSeconds()
    {
        return (int)round(max(1, (float)$this->getConf('lease_days')) * 86400);
    }

    /**
     * This site's id (the `site_id` setting, else the wiki's base URL).
     *
     * @return string
     */
    public function siteId()
    {
        $site = trim((string)$this->getConf('site_id'));
        return $site !== '' ? $site : DOKU_URL;
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
     * Whether the core can be asked about page $id: the extension is loaded and the page is
     * in a synced namespace (the core's answer).
     *
     * @param string $id
     * @return bool
     */
    public function isSynced($id)
    {
        return $this->core->isAvailable() && $this->rules->namespaceOf($id) !== null;
    }

    /**
     * Gives the core one input for a page from a local user's request; a failure is recorded
     * for the admin page instead of breaking the user's request.
     *
     * @param string $id
     * @param array|callable $input see Applier::apply()
     * @param string $what for the failure record
     * @param array $handlers see Applier::apply()
     * @param bool $media the input is about the media file $id
     * @return array|null the decision, or null when it failed
     */
    public function localInput($id, $input, $what, array $handlers = [], $media = false)
    {
        try {
            return $this->applier->apply($id, $input, $handlers, $media);
        } catch (Throwable $e) {
            $this->health->record('failure', "$what $id: " . $e->getMessage());
            return null;
        }
    }

    /**
     * A local save was written (COMMON_WIKIPAGE_SAVE, after): the core publishes it; the queue
     * is sent at once with a short timeout.
     *
     * @param string $id
     * @param string|null $text null: deleted
     * @param string $summary
     * @param bool $minor
     * @param int $revision DokuWiki's new revision (the save time)
     * @param string $user REMOTE_USER
     * @return array|null the decision
     */
    public function localSave($id, $text, $summary, $minor, $revision, $user)
    {
        if (!$this->core->isAvailable()) {
            // which pages are synced cannot be asked: say it for every save while rules exist
            if ($this->rules->all()) $this->health->record('failure', "save of $id not published: " . $this->core->problem());
            return null;
        }
        if ($this->rules->namespaceOf($id) === null) return null;
        $d = $this->localInput($id, Bulk::localSave($text, $summary, $minor, $revision, $user, $this->wiki->title($id)),
            'save of');
        if ($d !== null) $this->flushBriefly();
        return $d;
    }

    /**
     * Sends the queue with a short timeout (after a save, a draft, a callback's answer).
     */
    public function flushBriefly()
    {
        if ($this->queue->length()) $this->queue->flush(max(1, min(3, (int)$this->getConf('timeout'))), 5.0);
    }

    /**
     * Every page of namespace $ns announces that $newSource is its source now, then the
     * queue is sent (Setup's announceSourceMove step).
     *
     * @param string $ns
     * @param string $newSource
     * @param callable|null $progress
     * @return array ok, error, pages
     */
    public function announceMove($ns, $newSource, $progress = null)
    {
        $n = $this->bulk->each($ns, ['type' => 'announceSourceMove', 'newSource' => $newSource], $progress);
        $f = $this->queue->flush(10, 3600.0);
        return ['ok' => $f['error'] === '', 'error' => $f['error'], 'pages' => $n];
    }

    /**
     * Every page and media file of namespace $ns publishes its current revision to the
     * namespace's node (it moved there), then the queue is sent (Setup's republish step).
     *
     * @param string $ns
     * @param callable|null $progress
     * @return array ok, error, pages
     */
    public function republish($ns, $progress = null)
    {
        $n = $this->bulk->each($ns, ['type' => 'republish'], $progress);
        $f = $this->queue->flush(10, 3600.0);
        $error = $f['error'] !== '' ? $f['error'] : ($f['left'] > 0 ? "{$f['left']} entries left in the queue" : '');
        return ['ok' => $error === '', 'error' => $error, 'pages' => $n];
    }

    /**
     * What to show with page $id now (the core's notices), as HTML lines.
     *
     * @param string $id
     * @return string[]
     */
    public function noticeLines($id)
    {
        if (!$this->isSynced($id)) return [];
        $state = $this->pages->state($id) ?? $this->core->newState($id);
        return array_map([$this, 'noticeHtml'], $this->core->notices($this->rules->siteConfig(), $state));
    }

    /**
     * The pending conflict of page $id, or null.
     *
     * @param string $id
     * @return array|null PendingConflict
     */
    public function conflict($id)
    {
        $state = $this->pages->state($id);
        return $state === null || !$this->core->isAvailable() ? null : $this->core->conflict($state);
    }

    /**
     * Every page with a conflict waiting for an editor (the core's answer for each state).
     *
     * @return array page id => PendingConflict
     */
    public function conflictedPages()
    {
        $out = [];
        if (!$this->core->isAvailable()) return $out;
        foreach ($this->pages->withState() as $id) {
            $conflict = $this->core->conflict((string)$this->pages->state($id));
            if ($conflict !== null) $out[$id] = $conflict;
        }
        return $out;
    }

    /**
     * One notice of the core as HTML.
     *
     * @param array $notice
     * @return string
     */
    public function noticeHtml(array $notice)
    {
        $site = function ($key) use ($notice) {
            return $this->siteLink((string)($notice[$key] ?? '?'));
        };
        switch ($notice['type']) {
            case 'mirroredFrom':
                return sprintf($this->getLang('mirrored_from'), $site('source'));
            case 'sourceGone':
                return sprintf($this->getLang('source_gone'), $site('source'));
            case 'editedElsewhere':
                return sprintf($this->getLang('edited_elsewhere'), $site('site'), hsc($notice['editor'] ?? '?'),
                    dformat((int)$notice['until']));
            case 'lockLost':
                return sprintf($this->getLang('lock_lost'), $site('site'), hsc($notice['editor'] ?? '?'));
            case 'editedLocally':
                return sprintf($this->getLang('edited_locally'), hsc($notice['editor']), dformat((int)$notice['until']));
            case 'conflictReported':
                return sprintf($this->getLang('conflict_reported'), $site('site'));
            case 'conflict':
                return sprintf($this->getLang('conflict_pending'),
                    $this->siteLink((string)($notice['revision']['site'] ?? '?')));
            case 'mediaTooLarge':
                return sprintf($this->getLang('media_too_large'), round($notice['size'] / 1048576, 2),
                    round($notice['max'] / 1048576, 2));
            case 'mediaConflict':
                return sprintf($this->getLang('media_conflict'), $this->siteLink((string)$notice['kept']['site']),
                    $this->siteLink((string)$notice['replaced']['site']));
            default:
                return hsc($notice['type']);
        }
    }

    /**
     * A site id as HTML: a link when it is a URL.
     *
     * @param string $site
     * @return string
     */
    public function siteLink($site)
    {
        if (preg_match('#^https?://#', $site)) return '<a href="' . hsc($site) . '" class="urlextern">' . hsc($site) . '</a>';
        return hsc($site);
    }

    /**
     * Handlers that show the person saving or editing why the core refused (DokuWiki's msg()).
     *
     * @return array see Applier::apply()
     */
    public function messageHandlers()
    {
        return [
            'refuseLocalEdit' => function ($a) {
                msg(sprintf($this->getLang('refused'), hsc($a['reason'])), -1);
            },
            'showNotice' => function ($a) {
                msg($this->noticeHtml($a['notice']), -1);
            },
        ];
    }
}
