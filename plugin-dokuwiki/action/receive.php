<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Incoming: the gateway's callbacks at lib/exe/ajax.php?call=wikisync&ns=<namespace>.
 *
 * - GET with hub.mode/hub.topic/hub.challenge (verification of intent): the challenge is
 *   echoed only for a subscription this site asked for (pending or active; unsubscribing),
 *   on the node it asked for (the core compares node URIs).
 * - POST: accepted only with a valid `X-Hub-Signature: sha256=` HMAC of the body under the
 *   subscription's secret, from the subscribed node (`Referer`), and never twice (a replayed
 *   signature changes nothing). A delivery naming its publisher (`X-Wikisync-Publisher`, the
 *   site the gateway authenticated) must also carry `X-Wikisync-Signature: sha256=` HMAC of
 *   publisher, "\n", body; the publisher is then handed to the core, which decides whether
 *   that site may write here. The core decides what the entry does (an entry for a page
 *   outside the namespace it came for is refused by the core).
 */
class action_plugin_wikisync_receive extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('AJAX_CALL_UNKNOWN', 'BEFORE', $this, 'handle');
    }

    /**
     * @param Event $event
     */
    public function handle(Event $event)
    {
        if ($event->data !== 'wikisync') return;
        $event->preventDefault();
        $event->stopPropagation();

        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        $health = $sync->health;
        $query = $this->query();
        $ns = (string)($query['ns'] ?? '');
        $rule = $sync->rules->get($ns);
        $method = $_SERVER['REQUEST_METHOD'] ?? 'GET';

        if (!$sync->core->isAvailable()) {
            $health->record('failure', $sync->core->problem());
            $this->reply(503, ['status' => 'error', 'reason' => 'extension_missing']);
            return;
        }
        if ($method === 'GET') {
            $this->verify($sync, $rule, $query);
            return;
        }
        if ($method !== 'POST') {
            header('Allow: GET, POST');
            $this->reply(405, ['status' => 'refused', 'reason' => 'method']);
            return;
        }
        if (!$rule || empty($rule['secret'])) {
            $health->record('refused', "callback for namespace '$ns', which is not subscribed here");
            $this->reply(404, ['status' => 'refused', 'reason' => 'not_subscribed']);
            return;
        }
        if (($rule['status'] ?? '') === 'gone') {
            // the node was deleted: nothing more can come from it (and the constant signature
            // of an empty DELETED body cannot be replayed into a second deletion)
            $this->reply(410, ['status' => 'refused', 'reason' => 'gone']);
            return;
        }
        $body = (string)file_get_contents('php://input');
        $header = (string)($_SERVER['HTTP_X_HUB_SIGNATURE'] ?? '');
        if (!preg_match('/^sha256=([0-9a-fA-F]{64})$/', trim($header), $m)) {
            $health->record('refused', "unsigned callback for '$ns'");
            $this->reply(403, ['status' => 'refused', 'reason' => 'unsigned']);
            return;
        }
        $signature = strtolower($m[1]);
        if (!hash_equals(hash_hmac('sha256', $body, $rule['secret']), $signature)) {
            $health->record('refused', "callback for '$ns' with a wrong signature");
            $this->reply(403, ['status' => 'refused', 'reason' => 'bad_signature']);
            return;
        }
        $publisher = $this->publisher($body, (string)$rule['secret']);
        if ($publisher === false) {
            $named = substr((string)($_SERVER['HTTP_X_WIKISYNC_PUBLISHER'] ?? ''), 0, 200);
            $health->record('refused', "callback for '$ns' naming publisher '$named' without a valid X-Wikisync-Signature");
            $this->reply(403, ['status' => 'refused', 'reason' => 'bad_publisher_signature']);
            return;
        }
        $referer = (string)($_SERVER['HTTP_REFERER'] ?? '');
        if (!$sync->core->sameNode($referer, (string)$rule['node'])) {
            $health->record('refused', "callback for '$ns' from another node ($referer)");
            $this->reply(403, ['status' => 'refused', 'reason' => 'wrong_node']);
            return;
        }
        // A signature is remembered for the replay window: a second delivery of the same
        // signed body is refused without touching anything (2xx, so a gateway retry of a
        // delivery that did arrive does not block the queue).
        if (!$health->rememberSignature($signature)) {
            $health->record('refused', "replayed callback for '$ns'");
            $this->reply(200, ['status' => 'refused', 'reason' => 'replay']);
            return;
        }
        try {
            $this->deliver($sync, $ns, $body, $publisher);
        } catch (Throwable $e) {
            $health->forgetSignature($signature); // the gateway retries; let that retry in
            $health->record('failure', "callback for '$ns': " . $e->getMessage());
            $this->reply(500, ['status' => 'error', 'reason' => 'internal']);
        }
    }

    /**
     * Applies one signed delivery for namespace $ns and answers the gateway.
     *
     * @param helper_plugin_wikisync_sync $sync
     * @param string $ns
     * @param string $body
     * @param string|null $publisher the site the gateway authenticated as the publisher, if any
     */
    protected function deliver($sync, $ns, $body, $publisher)
    {
        $kind = strtoupper(trim((string)($_SERVER['HTTP_EVENT'] ?? '')));
        $sync->health->recordCallback($ns);
        if ($kind === 'DELETED') {
            $redirect = helper_plugin_wikisync_gateway::linkTarget((string)($_SERVER['HTTP_LINK'] ?? ''), 'alternate');
            if ($redirect !== null) {
                // the node moved (maybe to another gateway or service): follow it there
                $error = $sync->heal->follow($ns, $redirect);
                $sync->health->record('receive');
                $this->reply(200, $error === '' ? ['status' => 'ok', 'outcome' => 'follow', 'node' => $redirect]
                    : ['status' => 'error', 'reason' => 'follow', 'message' => $error]);
                return;
            }
            $n = $sync->bulk->each($ns, ['type' => 'sourceGone', 'redirect' => null]);
            $sync->rules->update($ns, ['status' => 'gone']);
            $sync->wiki->indexWritten([$sync->pages, 'locked']);
            $sync->health->record('receive');
            $this->reply(200, ['status' => 'ok', 'outcome' => 'sourceGone', 'pages' => $n]);
            return;
        }
        if ($kind === 'RETRACTED') {
            $this->retracted($sync, $ns, $body, $publisher);
            return;
        }
        try {
            $entry = $sync->core->decode($body);
        } catch (\WikiSync\Exception $e) {
            // retrying cannot fix the entry: answer 2xx and show the failure to the admin
            $sync->health->record('failure', "undecodable entry for '$ns': " . $e->getMessage());
            $this->reply(200, ['status' => 'rejected', 'reason' => $sync->core->errorCode($e)]);
            return;
        }
        $decision = $sync->firstSync->applyEntry($entry, $ns, $publisher);
        $outcome = $decision['outcome'];
        if (($outcome['reason'] ?? '') === 'outsideNamespace') {
            // recorded for the admin page with the other ignores worth reporting
            $this->reply(200, ['status' => 'refused', 'reason' => 'outside_namespace']);
            return;
        }
        $sync->wiki->indexWritten([$sync->pages, 'locked']);
        $sync->health->record('receive');
        // a peer may answer (a merged revision, a conflict report): send it now, briefly
        $sync->flushBriefly();
        $this->reply(200, ['status' => 'ok', 'page' => $entry['page'], 'outcome' => $outcome['type']]
            + (isset($outcome['reason']) ? ['reason' => $outcome['reason']] : []));
    }

    /**
     * A bare retraction (an XMPP client removed an item): the core decides what it does to the
     * page or media file the item is about.
     *
     * @param helper_plugin_wikisync_sync $sync
     * @param string $ns
     * @param string $body the tombstone
     * @param string|null $publisher the site the gateway authenticated as the retracting one
     */
    protected function retracted($sync, $ns, $body, $publisher)
    {
        try {
            $item = $sync->core->decodeRetraction($body);
        } catch (\WikiSync\Exception $e) {
            $sync->health->record('failure', "unreadable retraction for '$ns': " . $e->getMessage());
            $this->reply(200, ['status' => 'rejected', 'reason' => $sync->core->errorCode($e)]);
            return;
        }
        $subject = $sync->core->itemSubject($item);
        if ($subject === null || $sync->rules->namespaceOf($subject['page'] ?? $subject['media']) !== $ns) {
            $sync->health->record('ignored', "retraction of $item on '$ns': not an item of this namespace");
            $this->reply(200, ['status' => 'ignored', 'reason' => 'other_item']);
            return;
        }
        $media = $subject['type'] === 'media';
        $id = $subject['page'] ?? $subject['media'];
        $d = $sync->applier->apply($id, ['type' => 'retracted', 'item' => $item, 'publisher' => $publisher], [], $media);
        $sync->health->record('receive');
        $sync->flushBriefly();
        $this->reply(200, ['status' => 'ok', 'page' => $id, 'outcome' => $d['outcome']['type']]
            + (isset($d['outcome']['reason']) ? ['reason' => $d['outcome']['reason']] : []));
    }

    /**
     * The publisher the gateway names (`X-Wikisync-Publisher`), checked against
     * `X-Wikisync-Signature: sha256=<hex HMAC-SHA256(secret, publisher "\n" body)>`: null when
     * the delivery names none, false when it names one without a valid signature.
     *
     * @param string $body
     * @param string $secret the subscription's secret
     * @return string|null|false
     */
    protected function publisher($body, $secret)
    {
        $publisher = trim((string)($_SERVER['HTTP_X_WIKISYNC_PUBLISHER'] ?? ''));
        if ($publisher === '') return null;
        $header = trim((string)($_SERVER['HTTP_X_WIKISYNC_SIGNATURE'] ?? ''));
        if (!preg_match('/^sha256=([0-9a-fA-F]{64})$/', $header, $m)) return false;
        $expected = hash_hmac('sha256', $publisher . "\n" . $body, $secret);
        return hash_equals($expected, strtolower($m[1])) ? $publisher : false;
    }

    /**
     * Verification of intent: echo hub.challenge for a subscription this site asked for.
     *
     * @param helper_plugin_wikisync_sync $sync
     * @param array|null $rule
     * @param array $query
     */
    protected function verify($sync, $rule, array $query)
    {
        $mode = (string)($query['hub.mode'] ?? '');
        $topic = (string)($query['hub.topic'] ?? '');
        $challenge = (string)($query['hub.challenge'] ?? '');
        $status = $rule['status'] ?? '';
        $wanted = $mode === 'subscribe' ? ['pending', 'active'] : ($mode === 'unsubscribe' ? ['unsubscribing'] : []);
        if (!$rule || $challenge === '' || !in_array($status, $wanted, true)
            || !$sync->core->sameNode($topic, (string)($rule['node'] ?? ''))) {
            $this->reply(404, ['status' => 'refused', 'reason' => 'not_requested']);
            return;
        }
        http_status(200);
        header('Content-Type: text/plain; charset=utf-8');
        echo $challenge;
    }

    /**
     * The query parameters exactly as sent (PHP would turn `hub.mode` into `hub_mode`).
     *
     * @return array
     */
    protected function query()
    {
        $out = [];
        foreach (explode('&', (string)($_SERVER['QUERY_STRING'] ?? '')) as $pair) {
            if ($pair === '') continue;
            $kv = explode('=', $pair, 2);
            $out[urldecode($kv[0])] = urldecode($kv[1] ?? '');
        }
        return $out;
    }

    /**
     * @param int $status
     * @param array $json
     */
    protected function reply($status, array $json)
    {
        http_status($status);
        header('Content-Type: application/json');
        echo json_encode($json);
    }
}
