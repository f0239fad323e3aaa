<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * Subscriptions that heal: this site asks the gateway about each of its subscriptions
 * (`GET /subscription`, signed with the subscription's secret) and the core says what to do:
 * renew the lease in time, subscribe again and catch up when the gateway dropped it, follow a
 * deleted node's redirect, apply the source-gone policy, or wait. Runs from DokuWiki's task
 * runner every `heal_interval` seconds and from `cli.php heal`; what it found is kept with the
 * namespace's rule for the admin page.
 */
class Heal
{
    /** The gateway's drop reasons, as the core names them. */
    const REASONS = [
        'gone' => 'gone', 'failure_budget' => 'failureBudget', 'lease_expired' => 'leaseExpired',
        'unsubscribed' => 'unsubscribed', 'node_deleted' => 'nodeDeleted',
    ];

    /** @var Rules */
    protected $rules;
    /** @var \helper_plugin_wikisync_gateway */
    protected $gateway;
    /** @var \helper_plugin_wikisync_core */
    protected $core;
    /** @var Health */
    protected $health;
    /** @var Setup */
    protected $setup;
    /** @var callable function (string $ns): array, a catch-up (first sync) */
    protected $pull;
    /** @var callable function (string $ns, array $input): int, an input to every page */
    protected $each;
    /** @var int */
    protected $lease;
    /** @var string the file holding when the subscriptions were last checked */
    protected $stamp;

    /**
     * @param string $dir the plugin's data directory
     * @param Rules $rules
     * @param \helper_plugin_wikisync_gateway $gateway
     * @param \helper_plugin_wikisync_core $core
     * @param Health $health
     * @param Setup $setup
     * @param callable $pull function (string $ns): array with 'error'
     * @param callable $each function (string $ns, array $input): int
     * @param int $lease the lease asked for, in seconds
     */
    public function __construct($dir, Rules $rules, $gateway, $core, Health $health, Setup $setup, callable $pull,
                                callable $each, $lease)
    {
        $this->stamp = "$dir/heal.json";
        $this->rules = $rules;
        $this->gateway = $gateway;
        $this->core = $core;
        $this->health = $health;
        $this->setup = $setup;
        $this->pull = $pull;
        $this->each = $each;
        $this->lease = (int)$lease;
    }

    /**
     * Checks every subscription when $interval seconds have passed since the last check (at
     * once with $interval 0).
     *
     * @param int $interval
     * @return array namespace => what was done ('' when nothing was due)
     */
    public function checkAll($interval = 0)
    {
        $last = (int)@file_get_contents($this->stamp);
        if ($interval > 0 && time() - $last < $interval) return [];
        @file_put_contents($this->stamp, (string)time());
        $done = [];
        foreach ($this->rules->all() as $ns => $rule) {
            if (empty($rule['secret']) || empty($rule['node']) || ($rule['status'] ?? '') === 'gone') continue;
            $done[(string)$ns] = $this->check((string)$ns);
        }
        return $done;
    }

    /**
     * Checks one namespace's subscription and carries out what the core says.
     *
     * @param string $ns
     * @return string what was done (a SubscriptionStep type), or the error
     */
    public function check($ns)
    {
        $rule = $this->rules->get($ns);
        if (!$rule || empty($rule['secret']) || empty($rule['node'])) return 'not subscribed';
        $report = $this->report($this->gateway->forRule($rule), $rule['node'], $this->rules->callbackUrl($ns),
            $rule['secret']);
        $this->rules->update($ns, ['checked' => time(), 'report' => $report]);
        $step = $this->core->checkSubscription($report, $this->lease);
        switch ($step['type']) {
            case 'renew':
                $error = $this->setup->subscribe($ns, $rule['node'], $rule['secret']);
                break;
            case 'resubscribe':
                $this->rules->update($ns, ['status' => 'pending']);
                $error = $this->setup->subscribe($ns, $rule['node'], $rule['secret']);
                if ($error === '') {
                    $error = ($this->pull)($ns)['error'];
                    if ($error === '') $this->health->record('healed', "'$ns': subscribed again and caught up");
                }
                break;
            case 'follow':
                $error = $this->follow($ns, $step['node']);
                break;
            case 'sourceGone':
                ($this->each)($ns, ['type' => 'sourceGone', 'redirect' => null]);
                $this->rules->update($ns, ['status' => 'gone']);
                $error = '';
                break;
            default: // nothing, wait
                $error = '';
        }
        if ($error !== '') {
            $this->health->record('failure', "subscription of '$ns': $error");
            return $error;
        }
        return $step['type'];
    }

    /**
     * Follows namespace $ns to $node (its node was deleted with that redirect: a node URI on
     * the namespace's gateway, or another gateway's feed URL): the core plans the change from
     * the source the new node's items name.
     *
     * @param string $ns
     * @param string $node
     * @return string '' or the error
     */
    public function follow($ns, $node)
    {
        try {
            $target = $this->core->followTarget($node);
        } catch (\WikiSync\Exception $e) {
            return "the redirect $node is not followed: " . $e->getMessage();
        }
        $rule = $this->rules->get($ns);
        $gw = $target['gateway'] === null ? $this->gateway->forRule($rule) : $this->gateway->at($target['gateway']);
        $source = null;
        $r = $gw->items($target['node'], 100);
        if ($r['ok']) {
            try {
                $entries = array_values(array_filter(array_column($this->core->decodeFeed($r['body']), 'entry')));
                $source = $this->core->sourceOfItems($entries);
            } catch (\WikiSync\Exception $e) {
                return "the items of $node are not a feed: " . $e->getMessage();
            }
        }
        $done = $this->setup->run($ns, ['type' => 'follow', 'node' => $node, 'source' => $source]);
        if ($done['ok']) $this->health->record('healed', "'$ns': followed its node to $node");
        return $done['error'];
    }

    /**
     * What the gateway says about a subscription, as the core's SubscriptionReport.
     *
     * @param \helper_plugin_wikisync_gateway $gw the namespace's gateway
     * @param string $node
     * @param string $callback
     * @param string $secret
     * @return array
     */
    protected function report($gw, $node, $callback, $secret)
    {
        $r = $gw->subscription($node, $callback, $secret);
        if ($r['state'] !== null) {
            $s = $r['state'];
            switch ($s['state'] ?? '') {
                case 'active':
                    return ['type' => 'active', 'expires' => empty($s['expires']) ? null : (int)strtotime($s['expires'])];
                case 'pending':
                    return ['type' => 'pending'];
                case 'dropped':
                    $d = is_array($s['dropped'] ?? null) ? $s['dropped'] : [];
                    return ['type' => 'dropped', 'reason' => self::REASONS[$d['reason'] ?? ''] ?? 'gone',
                        'at' => (int)strtotime((string)($d['at'] ?? 'now')), 'redirect' => $d['redirect'] ?? null];
            }
        }
        if ($r['status'] === 404 && $r['code'] === 'subscription_not_found') return ['type' => 'notFound'];
        return ['type' => 'unreachable'];
    }
}
