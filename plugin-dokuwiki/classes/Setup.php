<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * Changes what this site does for a namespace (publish it, mirror it, edit it with peers,
 * hand the source role on, move it to another node or gateway, retire it, stop): the core
 * plans the steps (`planSetup`), this class carries them out against the gateway and the sync
 * table, in order, and stops at the first that fails.
 *
 * Like the node in use, the gateway in use starts as the namespace's (its rule's `gateway`,
 * else the site's) and changes with a `useGateway` step; `setRole` records both.
 */
class Setup
{
    /** @var Rules */
    protected $rules;
    /** @var \helper_plugin_wikisync_gateway */
    protected $gateway;
    /** @var \helper_plugin_wikisync_core */
    protected $core;
    /** @var Health */
    protected $health;
    /** @var callable function (string $ns, string $newSource, ?callable $progress): array (announce) */
    protected $announce;
    /** @var callable function (string $ns, ?callable $progress): array (first sync) */
    protected $firstSync;
    /** @var callable function (string $ns, array $input, ?callable $progress): int (every page) */
    protected $each;
    /** @var callable function (string $ns, ?callable $progress): array ok, error, pages (republish) */
    protected $republish;
    /** @var int the lease asked for, in seconds */
    protected $lease;

    /**
     * @param Rules $rules
     * @param \helper_plugin_wikisync_gateway $gateway
     * @param \helper_plugin_wikisync_core $core
     * @param Health $health
     * @param callable $announce function (string $ns, string $newSource, ?callable $progress):
     *                           array ok, error, pages — every page announces the move and
     *                           the queue is sent
     * @param callable $firstSync function (string $ns, ?callable $progress): array with 'error'
     * @param callable $each function (string $ns, array $input, ?callable $progress): int, the
     *                       same input for every page and media file of a namespace
     * @param int $lease the subscription lease asked for, in seconds
     * @param callable $republish function (string $ns, ?callable $progress): array ok, error,
     *                            pages — every page and media file publishes its current
     *                            revision to the namespace's node and the queue is sent
     */
    public function __construct(Rules $rules, $gateway, $core, Health $health, callable $announce, callable $firstSync,
                                callable $each, $lease, callable $republish)
    {
        $this->republish = $republish;
        $this->each = $each;
        $this->lease = (int)$lease;
        $this->rules = $rules;
        $this->gateway = $gateway;
        $this->core = $core;
        $this->health = $health;
        $this->announce = $announce;
        $this->firstSync = $firstSync;
    }

    /**
     * Plans and carries out a change of namespace $ns.
     *
     * @param string $ns a clean namespace ('' = the whole wiki)
     * @param array $request the core's SetupRequest
     * @param array $options sync: false skips a planned first sync; progress: function
     *                       (int $done, int $total, string $id) for announcing and syncing;
     *                       token: the publisher token for the namespace's gateway when it
     *                       is not the site's (the one a `useGateway` step names, else the
     *                       one in use; kept with the rule)
     * @return array ok, error, node (the node in use), gateway (its gateway's URL), pages
     *               (announced or republished), sync (the first sync's counts, when one ran)
     */
    public function run($ns, array $request, array $options = [])
    {
        $out = ['ok' => true, 'error' => '', 'node' => '', 'gateway' => '', 'pages' => 0, 'sync' => null];
        try {
            $steps = $this->core->planSetup($this->rules->setupOf($ns), $request);
        } catch (\Throwable $e) {
            // refused (WikiSync\SetupException), a malformed request, or no extension
            return ['ok' => false, 'error' => $e->getMessage()] + $out;
        }
        $progress = $options['progress'] ?? null;
        $before = $this->rules->get($ns) ?? [];
        $node = (string)($before['node'] ?? '');
        // the gateway in use: its URL (null: the site's) and the token kept for it
        $gateway = ($before['gateway'] ?? '') === '' ? null : (string)$before['gateway'];
        // a token given is for the gateway in use (kept only for another gateway than the site's)
        $token = ($options['token'] ?? '') !== '' ? (string)$options['token'] : ($before['token'] ?? null);
        $gw = $this->gateway->at($gateway, $token);
        foreach ($steps as $step) {
            $error = '';
            switch ($step['type']) {
                case 'unsubscribe':
                    $this->rules->update($ns, ['status' => 'unsubscribing']);
                    $r = $gw->unsubscribe($step['node'], $this->rules->callbackUrl($ns));
                    // a deleted node has no subscription left to end; else go on: stop receiving here
                    if (!$r['ok'] && !in_array($r['code'], ['node_not_found', 'no_subscription'], true)) {
                        $this->health->record('failure', $r['error']);
                    }
                    $this->rules->update($ns, ['status' => 'left']);
                    break;
                case 'useGateway':
                    $gateway = $step['gateway'];
                    $token = $gateway === null ? null : ($options['token'] ?? null);
                    $gw = $this->gateway->at($gateway, $token);
                    break;
                case 'createNode':
                    $r = $gw->createNode();
                    $r['ok'] ? $node = $r['uri'] : $error = $r['error'];
                    break;
                case 'useNode':
                    $node = $step['node'];
                    break;
                case 'setRole':
                    $old = $this->rules->get($ns) ?? [];
                    $this->rules->set($ns, [
                        'role' => $step['role'], 'readOnly' => $step['readOnly'], 'node' => $node,
                        'since' => time(), 'status' => 'active',
                    ] + array_filter(['gateway' => $gateway, 'token' => $token], function ($v) {
                        return $v !== null && $v !== '';
                    }) + array_intersect_key($old, ['last_sync' => true]));
                    break;
                case 'subscribe':
                    $secret = bin2hex(random_bytes(32));
                    $this->rules->update($ns, ['secret' => $secret, 'status' => 'pending']);
                    $error = $this->subscribe($ns, $node, $secret);
                    break;
                case 'checkSource':
                    $error = $this->checkSource($gw, $node, (string)$step['source']);
                    break;
                case 'followSource':
                    ($this->each)($ns, ['type' => 'sourceGone', 'redirect' => (string)$step['source']], $progress);
                    break;
                case 'announceSourceMove':
                    $r = ($this->announce)($ns, (string)$step['newSource'], $progress);
                    $out['pages'] = $r['pages'];
                    if (!$r['ok']) $error = $r['error'];
                    break;
                case 'deleteNode':
                    $r = $gw->deleteNode($node);
                    if (!$r['ok']) $error = $r['error'];
                    break;
                case 'republish':
                    $r = ($this->republish)($ns, $progress);
                    $out['pages'] = $r['pages'];
                    if (!$r['ok']) {
                        $error = "not every page reached the new node $node ({$r['error']}): they wait in the queue; "
                            . 'send it (cli.php flush), then delete the previous node with a redirect to the new one '
                            . '(docs/dokuwiki.md, "Moving a source to another gateway")';
                    }
                    break;
                case 'redirectNode':
                    $error = $this->redirect($step, $before, $gw, $node);
                    break;
                case 'forgetRule':
                    $this->rules->set($ns, null);
                    break;
                case 'firstSync':
                    if (($options['sync'] ?? true) === false) break;
                    $out['sync'] = ($this->firstSync)($ns, $progress);
                    $error = $out['sync']['error'];
                    break;
                default:
                    $error = "unknown setup step {$step['type']}";
            }
            if ($error !== '') {
                $this->health->record('failure', $error);
                return ['ok' => false, 'error' => $error, 'node' => $node, 'gateway' => $gw->url()] + $out;
            }
        }
        return ['node' => $node, 'gateway' => $gw->url()] + $out;
    }

    /**
     * Deletes the namespace's previous node with a redirect to the node in use (the
     * `redirectNode` step): the node URI, or with `feed` its feed URL on the gateway in use.
     *
     * @param array $step
     * @param array $before the namespace's rule before the change (the previous gateway's token)
     * @param \helper_plugin_wikisync_gateway $gw the gateway in use
     * @param string $node the node in use
     * @return string '' or the error
     */
    protected function redirect(array $step, array $before, $gw, $node)
    {
        $previous = $step['gateway'];
        $token = $previous !== null && $previous === ($before['gateway'] ?? null) ? ($before['token'] ?? null) : null;
        try {
            $redirect = $this->core->nodeRef($step['feed'] ? $gw->url() : null, $node);
        } catch (\WikiSync\Exception $e) {
            return $e->getMessage();
        }
        $r = $this->gateway->at($previous, $token)->deleteNode((string)$step['node'], $redirect);
        return $r['ok'] ? '' : "the namespace is published to $node now, but the previous node {$step['node']} "
            . "could not be deleted with its redirect to $redirect, so its mirrors do not follow yet: {$r['error']}";
    }

    /**
     * Subscribes (or renews) the namespace's callback to $node with $secret and a lease; the
     * gateway verifies the callback with a challenge, answered while the rule is pending.
     *
     * @param string $ns
     * @param string $node
     * @param string $secret
     * @return string '' or the error
     */
    public function subscribe($ns, $node, $secret)
    {
        $gw = $this->gateway->forRule($this->rules->get($ns));
        $r = $gw->subscribe($node, $this->rules->callbackUrl($ns), $secret, $this->lease);
        $this->rules->update($ns, $r['ok']
            ? ['status' => 'active', 'expires' => $r['expires'], 'dropped' => null]
            : ['status' => 'failed']);
        return $r['ok'] ? '' : $r['error'];
    }

    /**
     * Whether the node's items come from $source (the core's check), before a mirror
     * subscribes to them.
     *
     * @param \helper_plugin_wikisync_gateway $gw the gateway in use
     * @param string $node
     * @param string $source
     * @return string '' or why not
     */
    protected function checkSource($gw, $node, $source)
    {
        $r = $gw->items($node, 100);
        if (!$r['ok']) return "cannot read the node's items: {$r['error']}";
        try {
            $entries = [];
            foreach ($this->core->decodeFeed($r['body']) as $item) {
                if ($item['entry'] !== null) $entries[] = $item['entry'];
            }
            $this->core->checkMirrorSource($source, $entries);
        } catch (\WikiSync\Exception $e) {
            return $this->core->errorCode($e) . ': ' . $e->getMessage();
        }
        return '';
    }
}
