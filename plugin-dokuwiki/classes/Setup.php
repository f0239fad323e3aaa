<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * Changes what this site does for a namespace (publish it, mirror it, edit it with peers,
 * hand the source role on, retire it, stop): the core plans the steps (`planSetup`), this
 * class carries them out against the gateway and the sync table, in order, and stops at the
 * first that fails.
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
     */
    public function __construct(Rules $rules, $gateway, $core, Health $health, callable $announce, callable $firstSync,
                                callable $each, $lease)
    {
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
     *                       (int $done, int $total, string $id) for announcing and syncing
     * @return array ok, error, node (the node in use), pages (announced), sync (the first
     *               sync's counts, when one ran)
     */
    public function run($ns, array $request, array $options = [])
    {
        $out = ['ok' => true, 'error' => '', 'node' => '', 'pages' => 0, 'sync' => null];
        try {
            $steps = $this->core->planSetup($this->rules->setupOf($ns), $request);
        } catch (\Throwable $e) {
            // refused (WikiSync\SetupException), a malformed request, or no extension
            return ['ok' => false, 'error' => $e->getMessage()] + $out;
        }
        $progress = $options['progress'] ?? null;
        $node = (string)($this->rules->get($ns)['node'] ?? '');
        foreach ($steps as $step) {
            $error = '';
            switch ($step['type']) {
                case 'unsubscribe':
                    $this->rules->update($ns, ['status' => 'unsubscribing']);
                    $r = $this->gateway->unsubscribe($step['node'], $this->rules->callbackUrl($ns));
                    if (!$r['ok']) $this->health->record('failure', $r['error']); // go on: stop receiving here
                    $this->rules->update($ns, ['status' => 'left']);
                    break;
                case 'createNode':
                    $r = $this->gateway->createNode();
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
                    ] + array_intersect_key($old, ['last_sync' => true]));
                    break;
                case 'subscribe':
                    $secret = bin2hex(random_bytes(32));
                    $this->rules->update($ns, ['secret' => $secret, 'status' => 'pending']);
                    $error = $this->subscribe($ns, $node, $secret);
                    break;
                case 'checkSource':
                    $error = $this->checkSource($node, (string)$step['source']);
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
                    $r = $this->gateway->deleteNode($node);
                    if (!$r['ok']) $error = $r['error'];
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
                return ['ok' => false, 'error' => $error, 'node' => $node] + $out;
            }
        }
        return ['node' => $node] + $out;
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
        $r = $this->gateway->subscribe($node, $this->rules->callbackUrl($ns), $secret, $this->lease);
        $this->rules->update($ns, $r['ok']
            ? ['status' => 'active', 'expires' => $r['expires'], 'dropped' => null]
            : ['status' => 'failed']);
        return $r['ok'] ? '' : $r['error'];
    }

    /**
     * Whether the node's items come from $source (the core's check), before a mirror
     * subscribes to them.
     *
     * @param string $node
     * @param string $source
     * @return string '' or why not
     */
    protected function checkSource($node, $source)
    {
        $r = $this->gateway->items($node, 100);
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
