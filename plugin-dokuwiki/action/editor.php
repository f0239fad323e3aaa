<?php

use dokuwiki\Action\Exception\ActionAbort;
use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Edit sessions on pages of a peer namespace: opening the editor publishes a draft (the lock
 * the other peers show), cancelling publishes the unlock (a save publishes it through the
 * save hook), and the conflict choices (keep mine, take theirs, merge) posted from the editor
 * as `do=wikisync_conflict`.
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
     * a peer, never gets this far): the core takes the lock for the peers and publishes the
     * draft. Should the core know of a remote editor that DokuWiki's lock file no longer
     * shows, the lock file is written again and the editor refused like DokuWiki does.
     *
     * @param Event $event
     */
    public function opened(Event $event)
    {
        global $ID;
        if (!in_array($event->data, ['edit', 'preview'], true)) return;
        $sync = $this->sync();
        if (!$sync->isPeerPage((string)$ID)) return;
        $d = $sync->editorOpened($ID, $sync->editorName());
        if ($d === null || $d['outcome']['type'] !== 'refuse') return;
        $lock = $d['state']['lock'] ?? [];
        if (($lock['type'] ?? '') !== 'awaiting_remote_save') return;
        $sync->lockFile($ID, $lock['editor'] ?? null, (string)$lock['site'], (int)$lock['expires']);
        global $INFO;
        $INFO['locked'] = checklock($ID);
        if ($INFO['locked']) throw new ActionAbort('locked');
    }

    /**
     * DokuWiki's editor refreshes its lock (and saves a draft) while the user types: renew
     * the peers' lock too (the helper publishes a renewal only when half of it has passed).
     * When an editor at another site holds the page now (its draft won the tie-break against
     * this editor's, or this editor's lock lapsed), the editor is told at once: DokuWiki
     * shows the refresh's errors under the edit box.
     *
     * @param Event $event
     */
    public function refreshed(Event $event)
    {
        $id = (string)($event->data['id'] ?? '');
        $sync = $this->sync();
        if ($id === '' || !$sync->isPeerPage($id)) return;
        if (!checklock($id)) {
            $sync->editorOpened($id, $sync->editorName());
            return;
        }
        $lock = $sync->store()->pageState($id)['lock'] ?? [];
        if (($lock['type'] ?? '') === 'awaiting_remote_save' && (int)$lock['expires'] > time()) {
            $event->data['errors'][] = sprintf($this->getLang('lock_lost_editor'), (string)$lock['site'],
                (string)($lock['editor'] ?? '?'), dformat((int)$lock['expires']));
            // DokuWiki passes a draft's errors to the editor only for a draft it reports as
            // not saved: the draft file is written all the same (the typed text is kept)
            $event->data['hasBeenSaved'] = false;
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
            if ($sync->isPeerPage((string)$ID)) $sync->editorClosed($ID, $sync->editorName());
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
        global $ID, $INPUT, $TEXT, $INFO;
        $event->data = 'show';
        $sync = $this->sync();
        if ($INPUT->server->str('REQUEST_METHOD') !== 'POST' || !checkSecurityToken()) return;
        if (auth_quickaclcheck($ID) < AUTH_EDIT) {
            msg($this->getLang('conflict_denied'), -1);
            return;
        }
        if ($sync->conflict($ID) === null) {
            msg($this->getLang('conflict_none'), 0);
            return;
        }
        $holder = checklock($ID);
        if ($holder) {
            msg(sprintf($this->getLang('conflict_locked'), hsc($holder)), -1);
            return;
        }
        $choice = $INPUT->post->str('choice');
        // a refused save's conflict: the panel posts the editor's text with the choice
        $editorText = $INPUT->post->has('wikitext') ? cleanText($INPUT->post->str('wikitext')) : null;
        $r = $sync->resolveConflict($ID, $choice, $sync->editorName(), $editorText);
        if (!$r['ok']) {
            msg(sprintf($this->getLang('refused'), hsc($r['error'])), -1);
            return;
        }
        if ($choice === 'merge') {
            $TEXT = $r['text'];
            $event->data = 'edit';
            return;
        }
        unlock($ID);
        $INFO = pageinfo();
        msg($this->getLang($choice === 'mine' ? 'resolved_mine' : 'resolved_theirs'), 1);
    }
}
