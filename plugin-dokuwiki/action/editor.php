<?php

use dokuwiki\Action\Exception\ActionAbort;
use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Edit sessions: opening the editor and its lock refreshes are the core's `editorOpened`
 * (on a peer page it publishes a draft, the lock the other peers show; renewals when the core
 * says they are due), cancelling is `editorClosed`, and the conflict choices (keep mine, take
 * theirs, merge) posted from the editor as `do=wikisync_conflict` are `resolveConflict`.
 */
class action_plugin_wikisync_editor extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('ACTION_ACT_PREPROCESS', 'BEFORE', $this, 'before');
        $controller->register_hook('ACTION_ACT_PREPROCESS', 'AFTER', $this, 'opened');
        $controller->register_hook('DRAFT_SAVE', 'AFTER', $this, 'refreshed');
    }

    /**
     * @return helper_plugin_wikisync_sync
     */
    protected function sync()
    {
        return plugin_load('helper', 'wikisync_sync');
    }

    /**
     * The editor is open (DokuWiki took its local lock; a page locked by anybody, here or at
     * a peer, never gets this far). Should the core know of an editor elsewhere that
     * DokuWiki's lock file no longer shows, its refusal writes the lock file again, and the
     * editor is refused like DokuWiki does.
     *
     * @param Event $event
     */
    public function opened(Event $event)
    {
        global $ID, $INFO;
        if (!in_array($event->data, ['edit', 'preview'], true)) return;
        $sync = $this->sync();
        if (!$sync->isSynced((string)$ID)) return;
        $d = $sync->localInput($ID, ['type' => 'editorOpened', 'editor' => $sync->editorName()], 'editor opened on');
        // the draft should reach the peers before the user starts typing
        $sync->flushBriefly();
        if ($d === null || $d['outcome']['type'] !== 'refuse') return;
        $INFO['locked'] = checklock($ID);
        if ($INFO['locked']) throw new ActionAbort('locked');
    }

    /**
     * DokuWiki's editor refreshes its lock (and saves a draft) while the user types: so does
     * the core (it renews the peers' lock when due). When an editor at another site holds the
     * page now (its draft won against this editor's, or this editor's lock lapsed), the editor
     * is told at once: DokuWiki shows a draft's errors under the edit box.
     *
     * @param Event $event
     */
    public function refreshed(Event $event)
    {
        $id = (string)($event->data['id'] ?? '');
        $sync = $this->sync();
        if ($id === '' || !$sync->isSynced($id)) return;
        if (!checklock($id)) {
            $sync->localInput($id, ['type' => 'editorOpened', 'editor' => $sync->editorName()], 'editor refreshed on');
            $sync->flushBriefly();
        }
        $state = $sync->pages->state($id);
        if ($state === null) return;
        foreach ($sync->core->notices($sync->rules->siteConfig(), $state) as $notice) {
            if ($notice['type'] !== 'lockLost' && $notice['type'] !== 'editedElsewhere') continue;
            $event->data['errors'][] = sprintf($this->getLang('lock_lost_editor'), (string)$notice['site'],
                (string)($notice['editor'] ?? '?'), dformat((int)$notice['until']));
            // DokuWiki passes a draft's errors to the editor only for a draft it reports as
            // not saved: the draft file is written all the same (the typed text is kept)
            $event->data['hasBeenSaved'] = false;
            return;
        }
    }

    /**
     * Cancelling releases the lock; the conflict choices are handled here.
     *
     * @param Event $event
     */
    public function before(Event $event)
    {
        global $ID;
        if (in_array($event->data, ['cancel', 'draftdel'], true)) {
            $sync = $this->sync();
            if ($sync->isSynced((string)$ID)) {
                $sync->localInput($ID, ['type' => 'editorClosed', 'editor' => $sync->editorName()], 'editor closed on');
                $sync->flushBriefly();
            }
            return;
        }
        if ($event->data === 'wikisync_conflict') $this->choose($event);
    }

    /**
     * A conflict choice (POST do=wikisync_conflict, choice=mine|theirs|merge): needs the
     * security token and the permission to edit the page. mine and theirs save and publish
     * the resolution and show the page; merge opens the editor on the merged text with its
     * conflict markers, and saving that resolves the conflict.
     *
     * @param Event $event
     */
    protected function choose(Event $event)
    {
        global $ID, $INPUT, $INFO;
        $event->data = 'show';
        $sync = $this->sync();
        if ($INPUT->server->str('REQUEST_METHOD') !== 'POST' || !checkSecurityToken()) return;
        if (auth_quickaclcheck($ID) < AUTH_EDIT) {
            msg($this->getLang('conflict_denied'), -1);
            return;
        }
        if (!$sync->isSynced((string)$ID) || $sync->conflict($ID) === null) {
            msg($this->getLang('conflict_none'), 0);
            return;
        }
        $holder = checklock($ID);
        if ($holder) {
            msg(sprintf($this->getLang('conflict_locked'), hsc($holder)), -1);
            return;
        }
        $choice = ['mine' => 'keep', 'theirs' => 'take', 'merge' => 'merge'][$INPUT->post->str('choice')] ?? null;
        if ($choice === null) {
            msg(sprintf($this->getLang('refused'), 'bad_choice'), -1);
            return;
        }
        $editor = $sync->editorName();
        $resolved = false;
        $d = $sync->localInput($ID, function () use ($sync, $INPUT, $ID, $choice) {
            return [
                'type' => 'resolveConflict', 'choice' => $choice, 'localText' => $sync->wiki->text($ID),
                // a refused save's conflict: the panel posts the editor's text with the choice
                'editorText' => $INPUT->post->has('wikitext') ? cleanText($INPUT->post->str('wikitext')) : null,
            ];
        }, 'conflict choice on', [
            'openEditor' => function ($a) use ($event) {
                global $TEXT;
                $TEXT = $a['text'];
                $event->data = 'edit';
            },
            'saveResolution' => function ($a) use ($sync, $ID, $editor, &$resolved) {
                $summary = sprintf($this->getLang($a['choice'] === 'keep' ? 'sum_mine' : 'sum_theirs'), $a['site']);
                if ($a['text'] === null && $sync->wiki->text($ID) === null) {
                    // the page stays deleted: there is no revision to write, the deletion is published
                    $sync->localSave($ID, null, $summary, false, time(), $editor);
                } else {
                    $sync->wiki->saveAsLocalUser($ID, (string)$a['text'], $summary);
                }
                $resolved = $sync->conflict($ID) === null;
            },
        ]);
        if ($d === null || $event->data === 'edit') return;
        if (!$resolved) {
            msg(sprintf($this->getLang('refused'), 'refused'), -1);
            return;
        }
        unlock($ID);
        $INFO = pageinfo();
        msg($this->getLang($choice === 'keep' ? 'resolved_mine' : 'resolved_theirs'), 1);
    }
}
