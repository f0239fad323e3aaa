<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Outgoing: every local save, minor edit or deletion of a synced page is handed to the core,
 * and what it publishes is queued and sent with a short timeout. Saves in a mirrored
 * namespace that do not come from the gateway are refused before they happen.
 */
class action_plugin_wikisync_publish extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('COMMON_WIKIPAGE_SAVE', 'BEFORE', $this, 'refuseMirrored');
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
