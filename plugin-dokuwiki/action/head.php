<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Discovery: a synced page's head links to its pubsub node (dokupubsub style) and to the
 * node's items on the gateway, so a new mirror can find what to subscribe to.
 */
class action_plugin_wikisync_head extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('TPL_METAHEADER_OUTPUT', 'BEFORE', $this, 'addLinks');
    }

    /**
     * @param Event $event
     */
    public function addLinks(Event $event)
    {
        global $ID;
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        $ns = $sync->rules->namespaceOf((string)$ID);
        if ($ns === null) return;
        $node = (string)($sync->rules->get($ns)['node'] ?? '');
        if ($node === '') return;
        $title = 'wikisync: ' . ($ns === '' ? '*' : $ns);
        $event->data['link'][] = [
            'rel' => 'alternate', 'type' => 'application/atom+xml',
            'title' => $title, 'href' => $node,
        ];
        $gateway = rtrim((string)$this->getConf('gateway_url'), '/');
        if ($gateway !== '') {
            $event->data['link'][] = ['rel' => 'hub', 'href' => $gateway . '/hub'];
            $event->data['link'][] = [
                'rel' => 'alternate', 'type' => 'application/atom+xml;type=feed',
                'title' => $title . ' (items)',
                'href' => $gateway . '/items?uri=' . rawurlencode($node),
            ];
        }
    }
}
