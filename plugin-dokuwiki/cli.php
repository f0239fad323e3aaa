<?php

use dokuwiki\Extension\CLIPlugin;
use splitbrain\phpcli\Options;

/**
 * Bulk and setup commands: `php bin/plugin.php wikisync <command>`.
 */
class cli_plugin_wikisync extends CLIPlugin
{
    /** @var helper_plugin_wikisync_sync */
    protected $sync;

    /** @inheritdoc */
    protected function setup(Options $options)
    {
        $options->setHelp('wikisync: mirror pages between wikis through a wikisync gateway.');

        $options->registerCommand('status', 'Show the extension, the gateway, every synced namespace and the queue.');
        $options->registerOption('json', 'Print the status as JSON (for scripts and tests).', null, false, 'status');
        $options->registerOption('secrets', 'With --json: include each subscription\'s secret and the tokens kept for other gateways.', null, false, 'status');

        $options->registerCommand('source', 'Make this site the source of a namespace: creates its node on the gateway.');
        $options->registerArgument('namespace', 'The namespace ("" or : for the whole wiki).', true, 'source');
        $options->registerOption('node', 'Publish to this existing node instead of creating one (a node URI, or another gateway\'s feed URL http(s)://<gateway>/items?uri=<node URI>).', null, 'uri', 'source');
        $options->registerOption('gateway', 'Create the node on (or find it at) this other gateway, by its base URL; its mirrors must reach it too.', null, 'url', 'source');
        $options->registerOption('token', 'The publisher token for --gateway (kept with the namespace; the site\'s token only goes to its own gateway).', null, 'token', 'source');

        $options->registerCommand('mirror', 'Mirror a namespace published by another site: subscribe, then first sync.');
        $options->registerArgument('namespace', 'The namespace.', true, 'mirror');
        $options->registerArgument('node', 'The source\'s node URI (xmpp:…), shown on its admin page and in its page head; for a node on another gateway than this site\'s, that gateway\'s feed URL (http(s)://<gateway>/items?uri=<node URI>).', true, 'mirror');
        $options->registerArgument('source', 'The source site\'s id (its base URL).', true, 'mirror');
        $options->registerOption('when-gone', 'keep (default) or delete the pages when the source goes away.', null, 'policy', 'mirror');
        $options->registerOption('no-sync', 'Subscribe only; skip the first sync.', null, false, 'mirror');

        $options->registerCommand('peer', 'Edit a namespace together with other sites: drafts lock, concurrent edits merge. The first peer creates the node (prints its URI), the others join it with --node.');
        $options->registerArgument('namespace', 'The namespace.', true, 'peer');
        $options->registerOption('node', 'Join this existing node (the first peer\'s) instead of creating one; then sync its pages. A node on another gateway: its feed URL.', null, 'uri', 'peer');
        $options->registerOption('gateway', 'Create the node on this other gateway, by its base URL.', null, 'url', 'peer');
        $options->registerOption('token', 'The publisher token for --gateway.', null, 'token', 'peer');

        $options->registerCommand('publish', 'Publish every page of a source namespace that the gateway does not have yet.');
        $options->registerArgument('namespace', 'The namespace.', true, 'publish');

        $options->registerCommand('sync', 'Fetch a mirrored namespace\'s node in one request and apply every page (first sync, catch-up).');
        $options->registerArgument('namespace', 'The namespace.', true, 'sync');
        $options->registerOption('no-index', 'Do not add the pages to the search index now (bin/indexer.php can).', null, false, 'sync');
        $options->registerOption('no-index', 'Do not add the pages to the search index now (bin/indexer.php can).', null, false, 'mirror');
        $options->registerOption('jobs', 'Processes writing pages at once (default 2).', null, 'n', 'sync');
        $options->registerOption('jobs', 'Processes writing pages at once (default 2).', null, 'n', 'mirror');

        $options->registerCommand('move', 'Hand the source role of a namespace to another site (mirrors follow); this site becomes its mirror.');
        $options->registerArgument('namespace', 'The namespace.', true, 'move');
        $options->registerArgument('new-source', 'The new source\'s site id (its base URL).', true, 'move');

        $options->registerCommand('relocate', 'Move a source namespace to another node, on this gateway or on another one: publish every page there, then delete the old node with a redirect, which the mirrors follow (to another gateway too).');
        $options->registerArgument('namespace', 'The namespace.', true, 'relocate');
        $options->registerOption('node', 'Move to this existing node (a node URI, or another gateway\'s feed URL) instead of creating one.', null, 'uri', 'relocate');
        $options->registerOption('gateway', 'Create the new node on this other gateway (its base URL, which the mirrors must reach too).', null, 'url', 'relocate');
        $options->registerOption('token', 'The publisher token for --gateway.', null, 'token', 'relocate');

        $options->registerCommand('grant', 'Let another site publish to the node of a namespace this site owns, with that site\'s own credential (the gateway\'s --site); what it publishes reaches the mirrors as its own.');
        $options->registerArgument('namespace', 'The namespace.', true, 'grant');
        $options->registerArgument('site', 'The other site\'s id, as the gateway\'s --site names it.', true, 'grant');
        $options->registerCommand('revoke', 'Withdraw a site\'s right to publish to the node of a namespace (see grant).');
        $options->registerArgument('namespace', 'The namespace.', true, 'revoke');
        $options->registerArgument('site', 'The site\'s id.', true, 'revoke');
        $options->registerCommand('publishers', 'Show who may publish to the node of a namespace this site owns: its owner and the sites granted.');
        $options->registerArgument('namespace', 'The namespace.', true, 'publishers');

        $options->registerCommand('retire', 'Delete a source namespace\'s node: mirrors keep or delete their copies as configured.');
        $options->registerArgument('namespace', 'The namespace.', true, 'retire');

        $options->registerCommand('flush', 'Send the queued entries now.');

        $options->registerCommand('heal', 'Check this site\'s subscriptions at the gateway now: renew leases, subscribe again and catch up after a drop, follow a node that moved, apply the when-gone policy when a source was silent for longer than source_grace_days; for the namespaces this site is the source of, send the gateway a heartbeat (the task runner does it every heal_interval seconds; run this from cron on wikis with few visitors, sources above all).');

        $options->registerCommand('conflicts', 'List the pages with a conflict waiting for an editor.');

        $options->registerCommand('remove', 'Stop syncing a namespace (unsubscribes a mirror). Pages stay.');
        $options->registerArgument('namespace', 'The namespace.', true, 'remove');
    }

    /** @inheritdoc */
    protected function main(Options $options)
    {
        // DokuWiki's parser cache reads the HTTP host, which a command line run does not have
        $url = parse_url(DOKU_URL);
        $_SERVER['HTTP_HOST'] = $_SERVER['HTTP_HOST'] ?? ($url['host'] ?? 'localhost');
        $_SERVER['SERVER_PORT'] = $_SERVER['SERVER_PORT'] ?? (string)($url['port'] ?? 80);
        $this->sync = plugin_load('helper', 'wikisync_sync');
        $core = $this->sync->core;
        $cmd = $options->getCmd();
        if ($cmd !== 'status' && $cmd !== '' && !$core->isAvailable()) {
            $this->fatal($core->problem());
        }
        $args = $options->getArgs();
        $expected = ['peer' => 1, 'source' => 1, 'mirror' => 3, 'publish' => 1, 'sync' => 1, 'move' => 2, 'relocate' => 1,
            'retire' => 1, 'remove' => 1, 'grant' => 2, 'revoke' => 2, 'publishers' => 1];
        if (isset($expected[$cmd]) && count($args) > $expected[$cmd]) {
            $this->fatal('too many arguments: options go before the arguments, e.g. "' . $cmd . ' --option value ' . implode(' ', array_slice($args, 0, $expected[$cmd])) . '"');
        }
        $ns = isset($args[0]) ? cleanID($args[0]) : '';
        $sync = $this->sync;
        switch ($cmd) {
            case 'status':
                return $options->getOpt('json') ? $this->statusJson((bool)$options->getOpt('secrets')) : $this->status();
            case 'source':
                $r = $sync->setup->run($ns, ['type' => 'source'] + $this->where($options), $this->token($options));
                if (!$r['ok']) $this->fatal($r['error']);
                $this->success("'$ns' is published here to {$r['node']} on {$r['gateway']}");
                echo $r['node'] . "\n";
                return 0;
            case 'peer':
                $r = $sync->setup->run($ns, ['type' => 'peer'] + $this->where($options),
                    ['progress' => $this->progress('applied')] + $this->token($options));
                $this->finishProgress();
                if (!$r['ok']) $this->fatal($r['error']);
                $this->success("'$ns' is edited here together with the peers on {$r['node']}");
                if ($r['sync'] !== null) $this->syncReport($ns, $r['sync']);
                echo $r['node'] . "\n";
                return 0;
            case 'mirror':
                $gone = (string)$options->getOpt('when-gone', 'keep');
                if (!in_array($gone, ['keep', 'delete'], true)) $this->fatal('--when-gone is keep or delete');
                $noSync = (bool)$options->getOpt('no-sync');
                $r = $sync->setup->run($ns, ['type' => 'mirror', 'node' => $args[1], 'source' => $args[2], 'whenGone' => $gone],
                    ['sync' => false]);
                if (!$r['ok']) $this->fatal($r['error']);
                $this->success("subscribed '$ns' to {$args[1]}");
                if ($noSync) return 0;
                return $this->pull($ns, !$options->getOpt('no-index'), (int)$options->getOpt('jobs', 2));
            case 'publish':
                return $this->publish($ns);
            case 'sync':
                return $this->pull($ns, !$options->getOpt('no-index'), (int)$options->getOpt('jobs', 2));
            case 'move':
                $r = $sync->setup->run($ns, ['type' => 'moveSource', 'newSource' => $args[1]],
                    ['progress' => $this->progress('announced')]);
                $this->finishProgress();
                if (!$r['ok']) $this->fatal($r['error']);
                $this->success("{$r['pages']} pages of '$ns' now name {$args[1]} as their source; this site mirrors it");
                return 0;
            case 'relocate':
                $r = $sync->setup->run($ns, ['type' => 'relocate'] + $this->where($options),
                    ['progress' => $this->progress('republished')] + $this->token($options));
                $this->finishProgress();
                if (!$r['ok']) $this->fatal($r['error']);
                $this->success("'$ns' moved to {$r['node']} on {$r['gateway']} ({$r['pages']} pages published there); "
                    . 'its old node is deleted with a redirect, which the mirrors follow');
                echo $r['node'] . "\n";
                return 0;
            case 'grant':
            case 'revoke':
            case 'publishers':
                return $this->publishRights($cmd, $ns, $args[1] ?? '');
            case 'retire':
                $r = $sync->setup->run($ns, ['type' => 'retire']);
                if (!$r['ok']) $this->fatal($r['error']);
                $this->success("the node of '$ns' is deleted; mirrors apply their keep/delete policy");
                return 0;
            case 'heal':
                $done = $sync->heal->checkAll(0);
                $failed = 0;
                foreach ($done as $name => $r) {
                    echo "'$name': {$r['step']}" . ($r['error'] === '' ? '' : " failed: {$r['error']}") . "\n";
                    if ($r['error'] !== '') $failed++;
                }
                if ($failed) $this->fatal("$failed of " . count($done) . ' namespaces could not be checked or mended (see above); the next heal tries again');
                $this->success(count($done) . ' namespaces checked');
                return 0;
            case 'conflicts':
                foreach ($sync->conflictedPages() as $id => $conflict) {
                    echo $id . "\t" . ($conflict['revision']['site'] ?? '?') . "\n";
                }
                return 0;
            case 'flush':
                $r = $sync->queue->flush(10, 3600.0, $this->progress('sent'), true);
                $this->finishProgress();
                if ($r['error'] !== '') $this->fatal("{$r['sent']} sent, {$r['left']} left: {$r['error']}");
                $this->success("{$r['sent']} sent, {$r['left']} left");
                return 0;
            case 'remove':
                $r = $sync->setup->run($ns, ['type' => 'remove']);
                if (!$r['ok']) $this->fatal($r['error']);
                $this->success("'$ns' is no longer synced");
                return 0;
            default:
                echo $options->help();
                return 0;
        }
    }

    /**
     * The node and gateway options as the core's request fields (null when not given).
     *
     * @param Options $options
     * @return array node, gateway
     */
    protected function where(Options $options)
    {
        $node = trim((string)$options->getOpt('node', ''));
        $gateway = trim((string)$options->getOpt('gateway', ''));
        return ['node' => $node === '' ? null : $node, 'gateway' => $gateway === '' ? null : $gateway];
    }

    /**
     * The --token option for Setup::run.
     *
     * @param Options $options
     * @return array
     */
    protected function token(Options $options)
    {
        $token = trim((string)$options->getOpt('token', ''));
        return $token === '' ? [] : ['token' => $token];
    }

    /**
     * @return int
     */
    protected function status()
    {
        $sync = $this->sync;
        echo 'extension: ' . ($sync->core->isAvailable() ? 'loaded' : $sync->core->problem()) . "\n";
        echo 'site: ' . $sync->siteId() . "\n";
        $h = $sync->gateway->health();
        echo 'gateway: ' . ($this->getConf('gateway_url') ?: '-') . ' (' . ($h['ok'] ? 'reachable' : $h['error']) . ")\n";
        foreach ($sync->rules->all() as $ns => $rule) {
            printf("namespace '%s': %s, node %s%s%s%s\n", $ns, $rule['role']['type'], $rule['node'] ?? '-',
                isset($rule['gateway']) ? " on {$rule['gateway']}" : '',
                isset($rule['role']['source']) ? ", mirrored from {$rule['role']['source']}" : '',
                isset($rule['status']) ? ", {$rule['status']}" : '');
        }
        $health = $sync->health->get();
        echo 'queue: ' . $sync->queue->length() . ' waiting, ' . $sync->queue->rejectedCount() . " refused by the gateway\n";
        foreach (['publish', 'receive', 'sync', 'refused', 'failure'] as $k) {
            if (isset($health['count'][$k])) {
                echo "$k: {$health['count'][$k]}, last " . date('c', $health['last'][$k]) . "\n";
            }
        }
        return 0;
    }

    /**
     * The status as one JSON object: extension, site, namespaces (role, node, gateway when not
     * the site's, status, last sync; secrets and tokens only when asked), queue, rejected,
     * health (counts, last times, failures).
     *
     * @param bool $secrets
     * @return int
     */
    protected function statusJson($secrets)
    {
        $sync = $this->sync;
        $namespaces = [];
        foreach ($sync->rules->all() as $ns => $rule) {
            if (!$secrets) unset($rule['secret'], $rule['token']);
            $namespaces[(string)$ns] = $rule;
        }
        echo json_encode([
            'extension' => $sync->core->isAvailable(),
            'problem' => $sync->core->problem(),
            'site' => $sync->siteId(),
            'namespaces' => (object)$namespaces,
            'queue' => $sync->queue->length(),
            'rejected' => $sync->queue->rejectedCount(),
            'health' => (object)$sync->health->get(),
        ], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n";
        return 0;
    }

    /**
     * @param string $ns
     * @return int
     */
    protected function publish($ns)
    {
        if ($this->sync->rules->get($ns) === null) $this->fatal("'$ns' is not synced here (see: source)");
        $t = microtime(true);
        $c = $this->sync->bulk->publishAll($ns, $this->progress('prepared'));
        $this->finishProgress();
        $r = $this->sync->queue->flush(10, 3600.0, $this->progress('published'), true);
        $this->finishProgress();
        $dt = microtime(true) - $t;
        $msg = sprintf('%d pages queued, %d already published, %d refused, %d failed; %d sent, %d left (%.1f s)',
            $c['published'], $c['unchanged'], $c['refused'], $c['failed'], $r['sent'], $r['left'], $dt);
        if ($r['error'] !== '' || $c['failed'] > 0) $this->fatal($msg . ($r['error'] ? ': ' . $r['error'] : ''));
        $this->success($msg);
        return 0;
    }

    /**
     * @param string $ns
     * @param bool $index
     * @param int $jobs
     * @return int
     */
    protected function pull($ns, $index, $jobs)
    {
        $c = $this->sync->firstSync->pull($ns, $this->progress('applied'), $index, $this->progress('indexed'), max(1, $jobs));
        $this->finishProgress();
        return $this->syncReport($ns, $c);
    }

    /**
     * Prints what a first sync did; a failed one is fatal.
     *
     * @param string $ns
     * @param array $c FirstSync::pull()'s counts
     * @return int
     */
    protected function syncReport($ns, array $c)
    {
        if ($c['error'] !== '') $this->fatal($c['error']);
        $seconds = $c['seconds'];
        $indexed = $c['indexed'];
        $indexSeconds = $c['index_seconds'];
        unset($c['error'], $c['seconds'], $c['indexed'], $c['index_seconds']);
        $parts = [];
        foreach ($c as $k => $v) $parts[] = "$k: $v";
        $this->success(sprintf("synced '%s' in %.2f s (%s); indexed %d pages in %.2f s", $ns, $seconds,
            implode(', ', $parts) ?: 'nothing', $indexed, $indexSeconds));
        return 0;
    }

    /** @var int */
    protected $lastShown = -1;

    /**
     * A progress printer: a line that updates in place on a terminal, every 10 % otherwise.
     *
     * @param string $verb
     * @return callable
     */
    protected function progress($verb)
    {
        $this->lastShown = -1;
        $tty = function_exists('posix_isatty') && @posix_isatty(STDERR);
        return function ($done, $total) use ($verb, $tty) {
            $pct = $total ? intdiv(100 * $done, $total) : 100;
            if ($tty) {
                fwrite(STDERR, sprintf("\r%s %d/%d (%d%%)", $verb, $done, $total, $pct));
            } elseif (intdiv($pct, 10) !== $this->lastShown) {
                $this->lastShown = intdiv($pct, 10);
                fwrite(STDERR, sprintf("%s %d/%d (%d%%)\n", $verb, $done, $total, $pct));
            }
        };
    }

    /**
     * Ends an in-place progress line.
     */
    protected function finishProgress()
    {
        if (function_exists('posix_isatty') && @posix_isatty(STDERR)) fwrite(STDERR, "\n");
    }

    /**
     * `grant`, `revoke` and `publishers`: the publish rights of other sites on the node of $ns
     * (the gateway keeps them; this site must own the node).
     *
     * @param string $cmd
     * @param string $ns
     * @param string $site
     * @return int
     */
    protected function publishRights($cmd, $ns, $site)
    {
        $rule = $this->sync->rules->get($ns);
        if (!$rule || empty($rule['node'])) $this->fatal("namespace '$ns' is not synced here (no node)");
        $gw = $this->sync->gateway->forRule($rule);
        if ($cmd === 'publishers') {
            $r = $gw->publishers($rule['node']);
            if (!$r['ok']) $this->fatal($r['error']);
            $owner = $r['publishers']['owner'] ?? null;
            echo 'owner: ' . ($owner === null ? '(none: open node)' : ($owner['site'] ?? $owner['token'] ?? '?')) . "\n";
            foreach ($r['publishers']['granted'] ?? [] as $granted) echo "granted: $granted\n";
            return 0;
        }
        $r = $gw->grant($rule['node'], $site, $cmd === 'grant');
        if (!$r['ok']) $this->fatal($r['error']);
        $this->success($cmd === 'grant' ? "$site may now publish to the node of '$ns' (as itself)"
            : "$site may no longer publish to the node of '$ns'");
        return 0;
    }
}
