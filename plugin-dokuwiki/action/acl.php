<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Mirrors are read-only: on a page the core says is read-only here (a mirror's), nobody
 * (admins included) gets more than read permission. Pages are written there only by the
 * gateway, through saveWikiText(), which does not check permissions.
 */
class action_plugin_wikisync_acl extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('AUTH_ACL_CHECK', 'AFTER', $this, 'capMirrored');
    }

    /**
     * @param Event $event
     */
    public function capMirrored(Event $event)
    {
        if ($event->result <= AUTH_READ) return;
        $id = (string)$event->data['id'];
        if ($id === '') return;
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        // "ns:*" (namespace checks: media uploads, page creation) asks about a page inside ns
        $page = substr($id, -2) === ':*' ? substr($id, 0, -1) . 'x' : $id;
        if ($sync->rules->isReadOnly($page)) $event->result = AUTH_READ;
    }
}
