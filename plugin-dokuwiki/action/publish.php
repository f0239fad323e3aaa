<?php

use dokuwiki\Action\Exception\ActionAbort;
use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Outgoing: every local save, minor edit or deletion of a synced page is handed to the core,
 * and what it publishes is queued and sent with a short timeout. Saves in a mirrored
 * namespace that do not come from the gateway are refused before they happen, and so are saves
 * of a peer page that the core refuses (an editor at another site holds it, or the page changed
 * under the editor and the save does not merge: the conflict is recorded and the editor shown
 * again with the user's text).
 */
class action_plugin_wikisync_publish extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'BEFORE', $this, 'refuseMirrored');
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'BEFORE', $this, 'refusePeer');
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'BEFORE', $this, 'forceRevision');
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'AFTER', $this, 'publish');
    }

    /**
     * A mirrored page is written only by the gateway: other saves (plugins, scripts that skip
     * the ACL check) are stopped here.
     *
     * @param Event $event
     */
    public function refuseMirrored(Event $event)
    {
        if (helper_plugin_wikisync_sync::isApplying()) return;
        /** @var helper_plugin_wikisync_store $store */
        $store = plugin_load('helper', 'wikisync_store');
        $rule = $store->ruleFor($event->data['id']);
        if (!$rule || $rule['role'] !== 'mirror') return;
        $event->preventDefault();
        $event->stopPropagation();
        msg(sprintf($this->getLang('mirror_readonly'), hsc($rule['source'])), -1);
    }

    /**
     * A save of a peer page goes ahead only when the core accepts it (asked before the write,
     * so a refused text is never written). From the edit form, the editor comes back with the
     * user's text (nothing typed is lost) and the reason; elsewhere the save is only stopped.
     *
     * @param Event $event
     */
    public function refusePeer(Event $event)
    {
        if (helper_plugin_wikisync_sync::isApplying()) return;
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        $d = $event->data;
        if (!$sync->isPeerPage($d['id'])) return;
        $deleted = $d['changeType'] === DOKU_CHANGE_TYPE_DELETE;
        $refusal = $sync->refusal($d['id'], $deleted ? null : $d['newContent'], (string)$d['summary'],
            $d['changeType'] === DOKU_CHANGE_TYPE_MINOR_EDIT, $sync->editorName());
        if ($refusal === null) return;
        $event->preventDefault();
        $event->stopPropagation();
        global $ACT;
        if ($ACT === 'save') throw new ActionAbort('edit');
    }

    /**
     * A conflict resolved by keeping the text here changes nothing on the page, and DokuWiki
     * writes no revision for an unchanged text: make it write one (changelog, attic), so the
     * revision this site publishes is one its history shows.
     *
     * @param Event $event
     */
    public function forceRevision(Event $event)
    {
        if (helper_plugin_wikisync_sync::forcesRevision($event->data['id'])) {
            $event->data['contentChanged'] = true;
        }
    }

    /**
     * @param Event $event
     */
    public function publish(Event $event)
    {
        if (helper_plugin_wikisync_sync::isApplying()) return; // a write from the gateway: no echo
        $d = $event->data;
        if (empty($d['newRevision'])) return; // nothing was written
        global $INPUT;
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        $deleted = $d['changeType'] === DOKU_CHANGE_TYPE_DELETE;
        $sync->localSave(
            $d['id'],
            $deleted ? null : $d['newContent'],
            (string)$d['summary'],
            $d['changeType'] === DOKU_CHANGE_TYPE_MINOR_EDIT,
            (int)$d['newRevision'],
            $INPUT->server->str('REMOTE_USER')
        );
    }
}
