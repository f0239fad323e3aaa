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

    /**
     * @param Rules $rules
     * @param \helper_plugin_wikisync_gateway $gateway
     * @param \helper_plugin_wikisync_core $core
     * @param Health $health
     * @param callable $announce function (string $ns, string $newSource, ?callable $progress):
     *                           array ok, error, pages — every page announces the move and
     *                           the queue is sent
     * @param callable $firstSync function (string $ns, ?callable $progress): array with 'error'
     */
    public function __construct(Rules $rules, $gateway, $core, Health $health, callable $announce, callable $firstSync)
    {
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
                    // the gateway verifies the callback with a challenge, answered while pending
                    $r = $this->gateway->subscribe($node, $this->rules->callbackUrl($ns), $secret);
                    $this->rules->update($ns, ['status' => $r['ok'] ? 'active' : 'failed']);
                    if (!$r['ok']) $error = $r['error'];
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
}
