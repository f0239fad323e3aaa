<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * Subscriptions that heal: this site asks the gateway about each of its subscriptions
 * (`GET /subscription`, signed with the subscription's secret) and the core says what to do:
 * renew the lease in time, subscribe again and catch up when the gateway dropped it, follow a
 * deleted node's redirect, apply the source-gone policy (the node was deleted, or the source
 * has been silent for longer than `source_grace_days`), or wait. For the namespaces this site
 * is the source of, it sends the gateway a heartbeat instead, so its mirrors can tell a quiet
 * source from a vanished one. Runs from DokuWiki's task runner every `heal_interval` seconds
 * and from `cli.php heal`; what it found is kept with the namespace's rule for the admin page.
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
     */
    public function __construct($dir, Rules $rules, $gateway, $core, Health $health, Setup $setup, callable $pull,
                                callable $each)
    {
        $this->stamp = "$dir/heal.json";
        $this->rules = $rules;
        $this->gateway = $gateway;
        $this->core = $core;
        $this->health = $health;
        $this->setup = $setup;
        $this->pull = $pull;
        $this->each = $each;
    }

    /**
     * Checks every subscription when $interval seconds have passed since the last check (at
     * once with $interval 0). One check runs at a time: the task runner of many page views at
     * once starts one, and skips while it runs; $interval 0 waits for a running one to end.
     *
     * @param int $interval
     * @return array namespace => check()'s answer (empty when nothing was due)
     */
    public function checkAll($interval = 0)
    {
        $lock = @fopen($this->stamp . '.lock', 'c');
        if ($lock === false) return [];
        try {
            if (!flock($lock, $interval > 0 ? LOCK_EX | LOCK_NB : LOCK_EX)) return [];
            $last = (int)@file_get_contents($this->stamp);
            if ($interval > 0 && time() - $last < $interval) return [];
            @file_put_contents($this->stamp, (string)time());
            $done = [];
            $config = $this->rules->siteConfig();
            foreach ($this->rules->all(true) as $ns => $rule) {
                if (empty($rule['node']) || ($rule['status'] ?? '') === 'gone') continue;
                if ($this->core->sendsHeartbeat($config, (string)$ns)) {
                    $done[(string)$ns] = $this->heartbeat((string)$ns, $rule);
                } elseif (!empty($rule['secret'])) {
                    $done[(string)$ns] = $this->check((string)$ns);
                }
            }
            return $done;
        } finally {
            flock($lock, LOCK_UN);
            fclose($lock);
        }
    }

    /**
     * Tells the gateway that this site, the source of $ns, is alive.
     *
     * @param string $ns
     * @param array $rule the namespace's rule (its node, on its gateway)
     * @return array step 'heartbeat', error ('' when it was sent)
     */
    protected function heartbeat($ns, array $rule)
    {
        $r = $this->gateway->forRule($rule)->heartbeat($rule['node']);
        if (!$r['ok']) {
            $this->health->record('failure', "heartbeat of '$ns': " . $r['error']);
            return ['step' => 'heartbeat', 'error' => $r['error']];
        }
        $this->rules->update($ns, ['heartbeat' => time()]);
        return ['step' => 'heartbeat', 'error' => ''];
    }

    /**
     * Checks one namespace's subscription and carries out what the core says. After a step
     * that changed the subscription, the gateway is asked again, so that what is kept for the
     * admin page is what the gateway says now.
     *
     * @param string $ns
     * @return array step (what the core said: a SubscriptionStep type, or 'not subscribed'),
     *               error ('' when it was carried out)
     */
    public function check($ns)
    {
        $rule = $this->rules->get($ns);
        if (!$rule || empty($rule['secret']) || empty($rule['node'])) return ['step' => 'not subscribed', 'error' => ''];
        $report = $this->report($this->gateway->forRule($rule), $rule['node'], $this->rules->callbackUrl($ns),
            $rule['secret']);
        $this->rules->update($ns, ['checked' => time(), 'report' => $report]);
        $step = $this->core->checkSubscription($report, $this->rules->siteConfig(), $ns);
        switch ($step['type']) {
            case 'renew':
                $error = $this->setup->subscribe($ns, $rule['node'], $rule['secret']);
                break;
            case 'resubscribe':
                $this->rules->update($ns, ['status' => 'pending']);
                $error = $this->setup->subscribe($ns, $rule['node'], $rule['secret']);
                if ($error === '') {
                    $error = ($this->pull)($ns)['error'];
                    if ($error === '') {
                        $this->health->record('healed', "'$ns': " . $this->describe($report) . '; subscribed again and caught up');
                    }
                }
                break;
            case 'follow':
                $error = $this->follow($ns, $step['node']);
                break;
            case 'sourceGone':
                ($this->each)($ns, ['type' => 'sourceGone', 'redirect' => null]);
                // silent (the subscription is still active) or deleted while this site was away
                $silent = $report['type'] === 'active' ? ($report['sourceSeen'] ?? null) : null;
                $this->rules->update($ns, ['status' => 'gone', 'gone' => ['at' => time(), 'silentSince' => $silent]]);
                $this->health->record('failure', $silent !== null
                    ? "'$ns': its source has not been heard of since " . date('c', $silent) . '; treated as gone'
                    : "'$ns': its node was deleted; the source is gone");
                $error = '';
                break;
            default: // nothing, wait
                $error = '';
        }
        if (in_array($step['type'], ['renew', 'resubscribe', 'follow'], true)) {
            $rule = $this->rules->get($ns);
            if ($rule && !empty($rule['secret']) && !empty($rule['node'])) {
                $this->rules->update($ns, ['checked' => time(),
                    'report' => $this->report($this->gateway->forRule($rule), $rule['node'],
                        $this->rules->callbackUrl($ns), $rule['secret'])]);
            }
        }
        if ($error !== '') $this->health->record('failure', "subscription of '$ns': $error");
        return ['step' => $step['type'], 'error' => $error];
    }

    /**
     * A report in words, for the record of a healed subscription.
     *
     * @param array $report SubscriptionReport
     * @return string
     */
    protected function describe(array $report)
    {
        if ($report['type'] === 'dropped') {
            return "dropped by the gateway at " . date('c', (int)$report['at']) . " ({$report['reason']})";
        }
        return $report['type'] === 'notFound' ? 'unknown to the gateway' : $report['type'];
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
                    return ['type' => 'active', 'expires' => self::time($s['expires'] ?? null),
                        'sourceSeen' => self::time($s['source_seen'] ?? null)];
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

    /**
     * A time of the gateway's answers (RFC 3339), as Unix seconds; null when it gave none.
     *
     * @param mixed $text
     * @return int|null
     */
    protected static function time($text)
    {
        if (!is_string($text) || $text === '') return null;
        $t = strtotime($text);
        return $t === false ? null : $t;
    }
}
