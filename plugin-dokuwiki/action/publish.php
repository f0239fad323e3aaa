<?php

use dokuwiki\Action\Exception\ActionAbort;
use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;
use dokuwiki\plugin\wikisync\classes\Wiki;

/**
 * Outgoing: a save of a synced page is first checked by the core (`saveRequested`: a
 * mirror's page, a page an editor elsewhere or another local editor holds, a save that does
 * not merge with a change made while its editor was open are refused before anything is
 * written; from the edit form the editor comes back with the user's text), then, once
 * written, published (`localSave`).
 */
class action_plugin_wikisync_publish extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'BEFORE', $this, 'check');
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'BEFORE', $this, 'forceRevision');
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'AFTER', $this, 'publish');
    }

    /**
     * @return helper_plugin_wikisync_sync
     */
    protected function sync()
    {
        return plugin_load('helper', 'wikisync_sync');
    }

    /**
     * Asks the core whether the save may be written; a refusal is carried out (a conflict
     * recorded with the user's text, the reason shown) and the save stopped.
     *
     * @param Event $event
     */
    public function check(Event $event)
    {
        if (Wiki::isApplying()) return; // a write from the gateway
        $d = $event->data;
        $sync = $this->sync();
        if (!$sync->isSynced($d['id'])) {
            // without the extension, a mirror's pages still stay read-only
            if (!$sync->core->isAvailable() && $sync->rules->isReadOnly($d['id'])) $this->stop($event);
            return;
        }
        $deleted = $d['changeType'] === DOKU_CHANGE_TYPE_DELETE;
        $decision = $sync->localInput($d['id'], [
            'type' => 'saveRequested',
            'change' => $deleted ? ['type' => 'deleted'] : ['type' => 'text', 'text' => $d['newContent']],
            'editor' => $sync->editorName(),
        ], 'save of', $sync->messageHandlers());
        if ($decision !== null && $decision['outcome']['type'] === 'refuse') $this->stop($event);
    }

    /**
     * Stops a save; from the edit form, the editor comes back with the user's text.
     *
     * @param Event $event
     */
    protected function stop(Event $event)
    {
        global $ACT;
        $event->preventDefault();
        $event->stopPropagation();
        if ($ACT === 'save') throw new ActionAbort('edit');
    }

    /**
     * A conflict resolved by keeping the text here changes nothing on the page, and DokuWiki
     * writes no revision for an unchanged text: make it write one, so the revision this site
     * publishes is one its history shows.
     *
     * @param Event $event
     */
    public function forceRevision(Event $event)
    {
        if (Wiki::forcesRevision($event->data['id'])) $event->data['contentChanged'] = true;
    }

    /**
     * @param Event $event
     */
    public function publish(Event $event)
    {
        if (Wiki::isApplying()) return; // a write from the gateway: no echo
        $d = $event->data;
        if (empty($d['newRevision'])) return; // nothing was written
        global $INPUT;
        $deleted = $d['changeType'] === DOKU_CHANGE_TYPE_DELETE;
        $this->sync()->localSave($d['id'], $deleted ? null : $d['newContent'], (string)$d['summary'],
            $d['changeType'] === DOKU_CHANGE_TYPE_MINOR_EDIT, (int)$d['newRevision'], $INPUT->server->str('REMOTE_USER'));
    }
}
