<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Discovery: a synced page's head links to its pubsub node (dokupubsub style, for XMPP
 * clients), to the node's items on the gateway (an Atom feed), and to the gateway's WebSub hub
 * with the topic to subscribe to (`rel="hub"` and `rel="self"`, WebSub's discovery), so a new
 * mirror or any WebSub subscriber can find what to subscribe to.
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
            $items = $gateway . '/items?uri=' . rawurlencode($node);
            $event->data['link'][] = ['rel' => 'hub', 'href' => $gateway . '/hub'];
            // the topic a WebSub subscriber gives the hub: the node's feed on the gateway
            $event->data['link'][] = ['rel' => 'self', 'type' => 'application/atom+xml;type=feed', 'href' => $items];
            $event->data['link'][] = [
                'rel' => 'alternate', 'type' => 'application/atom+xml;type=feed',
                'title' => $title . ' (items)', 'href' => $items,
            ];
        }
    }
}
