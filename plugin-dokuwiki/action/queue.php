<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * DokuWiki's background task runner (the 1×1 image every page view loads) retries the
 * outgoing queue, so entries queued while the gateway was away are sent without an admin, and
 * checks this site's subscriptions every `heal_interval` seconds (renewals, re-subscriptions
 * after a drop, a node that moved or went).
 */
class action_plugin_wikisync_queue extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('INDEXER_TASKS_RUN', 'BEFORE', $this, 'retry');
    }

    /**
     * @param Event $event
     */
    public function retry(Event $event)
    {
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        if ($sync->queue->length()) $sync->queue->flush(max(1, (int)$this->getConf('timeout')), 20.0);
        if ($sync->core->isAvailable()) $sync->heal->checkAll(max(1, (int)$this->getConf('heal_interval')));
        if (mt_rand(0, 99) === 0) $sync->health->pruneSignatures();
    }
}
