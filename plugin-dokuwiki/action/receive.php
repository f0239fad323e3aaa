<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Incoming: the gateway's callbacks at lib/exe/ajax.php?call=wikisync&ns=<namespace>.
 *
 * - GET with hub.mode/hub.topic/hub.challenge (verification of intent): the challenge is
 *   echoed only for a subscription this site asked for (pending or active; unsubscribing).
 * - POST: accepted only with a valid `X-Hub-Signature: sha256=` HMAC of the body under the
 *   subscription's secret, from the subscribed node (`Referer`), and never twice (a replayed
 *   signature changes nothing). The entry must be for a page of that namespace; the core
 *   decides what it does, the sync helper carries it out.
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
        $store = $sync->store();
        $query = $this->query();
        $ns = (string)($query['ns'] ?? '');
        $rule = $store->rules()[$ns] ?? null;
        $method = $_SERVER['REQUEST_METHOD'] ?? 'GET';

        if ($method === 'GET') {
            $this->verify($rule, $query);
            return;
        }
        if ($method !== 'POST') {
            header('Allow: GET, POST');
            $this->reply(405, ['status' => 'refused', 'reason' => 'method']);
            return;
        }
        if (!$rule || !in_array($rule['role'], ['mirror', 'peer'], true) || empty($rule['secret'])) {
            $store->record('refused', "callback for namespace '$ns', which is not subscribed here");
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
            $store->record('refused', "unsigned callback for '$ns'");
            $this->reply(403, ['status' => 'refused', 'reason' => 'unsigned']);
            return;
        }
        $signature = strtolower($m[1]);
        if (!hash_equals(hash_hmac('sha256', $body, $rule['secret']), $signature)) {
            $store->record('refused', "callback for '$ns' with a wrong signature");
            $this->reply(403, ['status' => 'refused', 'reason' => 'bad_signature']);
            return;
        }
        $referer = (string)($_SERVER['HTTP_REFERER'] ?? '');
        if (!self::sameNode($referer, $rule['node'])) {
            $store->record('refused', "callback for '$ns' from another node ($referer)");
            $this->reply(403, ['status' => 'refused', 'reason' => 'wrong_node']);
            return;
        }
        // A signature is remembered for the replay window: a second delivery of the same
        // signed body is refused without touching anything (2xx, so a gateway retry of a
        // delivery that did arrive does not block the queue).
        if (!$store->rememberSignature($signature)) {
            $store->record('refused', "replayed callback for '$ns'");
            $this->reply(200, ['status' => 'refused', 'reason' => 'replay']);
            return;
        }
        if (!$sync->core()->isAvailable()) {
            $store->forgetSignature($signature);
            $store->record('failure', $sync->core()->problem());
            $this->reply(503, ['status' => 'error', 'reason' => 'extension_missing']);
            return;
        }

        try {
            $kind = strtoupper(trim((string)($_SERVER['HTTP_EVENT'] ?? '')));
            if ($kind === "DELETED") {
                $n = $sync->sourceGone($ns, null);
                $rule['status'] = 'gone';
                $store->setRule($ns, $rule);
                $sync->indexPending();
                $store->record('receive');
                $this->reply(200, ['status' => 'ok', 'outcome' => 'source_gone', 'pages' => $n]);
                return;
            }
            if ($kind === "RETRACTED") {
                // wikisync sources publish deletions as entries; a bare retraction carries no
                // revision, so it cannot be ordered against what is applied: ignored.
                $this->reply(200, ['status' => 'ignored', 'reason' => 'retraction']);
                return;
            }
            try {
                $entry = $sync->core()->decode($body);
            } catch (Throwable $e) {
                // retrying cannot fix the entry: answer 2xx and show the failure to the admin
                $store->record('failure', "undecodable entry for '$ns': " . $e->getMessage());
                $this->reply(200, ['status' => 'rejected', 'reason' => $sync->core()->errorCode($e)]);
                return;
            }
            if ($store->namespaceOf($entry['page']) !== $ns) {
                $store->record('refused', "entry for {$entry['page']} outside namespace '$ns'");
                $this->reply(200, ['status' => 'refused', 'reason' => 'outside_namespace']);
                return;
            }
            $decision = $sync->applyEntry($entry);
            $sync->indexPending();
            $store->record('receive');
            // a peer may answer (a merged revision, a conflict report): send it now, briefly
            if ($store->queued()) $sync->flushQueue(max(1, min(3, (int)$this->getConf('timeout'))), 5.0);
            $outcome = $decision['outcome'];
            $this->reply(200, ['status' => 'ok', 'page' => $entry['page'], 'outcome' => $outcome['type']]
                + (isset($outcome['reason']) ? ['reason' => $outcome['reason']] : []));
        } catch (Throwable $e) {
            $store->forgetSignature($signature); // the gateway retries; let that retry in
            $store->record('failure', "callback for '$ns': " . $e->getMessage());
            $this->reply(500, ['status' => 'error', 'reason' => 'internal']);
        }
    }

    /**
     * Verification of intent: echo hub.challenge for a subscription we asked for.
     *
     * @param array|null $rule
     * @param array $query
     */
    protected function verify($rule, array $query)
    {
        $mode = (string)($query['hub.mode'] ?? '');
        $topic = (string)($query['hub.topic'] ?? '');
        $challenge = (string)($query['hub.challenge'] ?? '');
        $status = $rule['status'] ?? '';
        $wanted = $mode === 'subscribe' ? ['pending', 'active'] : ($mode === 'unsubscribe' ? ['unsubscribing'] : []);
        if (!$rule || $challenge === '' || !in_array($status, $wanted, true) || !self::sameNode($topic, $rule['node'] ?? '')) {
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
     * Whether two xmpp node URIs name the same node (service and node, after decoding; the
     * gateway accepts several spellings and emits one).
     *
     * @param string $a
     * @param string $b
     * @return bool
     */
    public static function sameNode($a, $b)
    {
        $parse = function ($uri) {
            if (!preg_match('/^xmpp:([^?;]*);?\?(.*)$/s', trim($uri), $m)) return null;
            foreach (preg_split('/[;&]/', $m[2]) as $part) {
                if (strpos($part, 'node=') === 0) return rawurldecode($m[1]) . '|' . rawurldecode(substr($part, 5));
            }
            return null;
        };
        $x = $parse($a);
        return $x !== null && $x === $parse($b);
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
