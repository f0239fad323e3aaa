<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * The outgoing queue: entries the core asked to publish, one file each in order, sent to the
 * gateway by flush(). Durable: a save returns at once when the gateway is away, and the queue
 * is sent later (the task runner, `cli.php flush`). Whether a refused entry is retried or set
 * aside for the administrator is the core's answer (`publishFailure`).
 */
class Queue
{
    /** @var string */
    protected $dir;
    /** @var \helper_plugin_wikisync_gateway */
    protected $gateway;
    /** @var \helper_plugin_wikisync_core */
    protected $core;
    /** @var Health */
    protected $health;

    /**
     * @param string $dir the plugin's data directory
     * @param \helper_plugin_wikisync_gateway $gateway
     * @param \helper_plugin_wikisync_core $core
     * @param Health $health
     */
    public function __construct($dir, $gateway, $core, Health $health)
    {
        $this->dir = $dir;
        $this->gateway = $gateway;
        $this->core = $core;
        $this->health = $health;
    }

    /**
     * @param string $sub
     * @return string the directory, created on demand
     */
    protected function sub($sub)
    {
        $dir = "$this->dir/$sub";
        if (!is_dir($dir)) @io_mkdir_p($dir);
        return $dir;
    }

    /**
     * Queues an entry (Atom XML) for a node.
     *
     * @param string $node
     * @param string $page
     * @param string $xml
     * @param string|null $gateway the node's gateway when it is not the site's (its URL)
     * @param string|null $token the token for that gateway
     */
    public function add($node, $page, $xml, $gateway = null, $token = null)
    {
        $name = sprintf('%.6f', microtime(true)) . '-' . getmypid() . '-' . substr(md5($page . $xml), 0, 8);
        $dir = $this->sub('queue');
        $job = ['node' => $node, 'page' => $page, 'xml' => $xml];
        if ($gateway !== null && $gateway !== '') $job += ['gateway' => $gateway, 'token' => $token];
        $json = json_encode($job, JSON_UNESCAPED_SLASHES);
        if ($json === false || @file_put_contents("$dir/$name.tmp", $json) === false
            || !@rename("$dir/$name.tmp", "$dir/$name.json")) {
            @unlink("$dir/$name.tmp");
            // the caller's input fails and its state is not stored: the entry is never lost
            throw new \RuntimeException("wikisync: cannot queue the entry for $page in $dir");
        }
    }

    /**
     * The queued files, oldest first.
     *
     * @return string[]
     */
    public function files()
    {
        $files = glob($this->sub('queue') . '/*.json') ?: [];
        sort($files, SORT_STRING);
        return $files;
    }

    /**
     * How many entries wait.
     *
     * @return int
     */
    public function length()
    {
        return count($this->files());
    }

    /**
     * How many entries the gateway refused for good (set aside for the administrator).
     *
     * @return int
     */
    public function rejectedCount()
    {
        return count(glob($this->sub('rejected') . '/*.json') ?: []);
    }

    /**
     * Sends queued entries in order until the queue is empty, the gateway fails, or the time
     * is up. Only one request sends at a time: others return at once ('busy'), or, with
     * $wait (an admin's command), wait for the one sending to finish and then send what is
     * left.
     *
     * @param int $timeout seconds per request
     * @param float $budget seconds in total
     * @param callable|null $progress function (int $sent, int $total)
     * @param bool $wait wait for a flush in progress instead of answering 'busy'
     * @return array sent, left, error
     */
    public function flush($timeout = 3, $budget = 10.0, $progress = null, $wait = false)
    {
        $fh = fopen($this->dir . '/queue.lock', 'c');
        if (!flock($fh, $wait ? LOCK_EX : LOCK_EX | LOCK_NB)) {
            fclose($fh);
            return ['sent' => 0, 'left' => $this->length(), 'error' => 'busy'];
        }
        $start = microtime(true);
        $sent = 0;
        $error = '';
        $total = $this->length();
        // entries queued by other requests while this one sends are picked up in the next round
        $done = [];
        while ($error === '' && microtime(true) - $start <= $budget
            && ($files = array_diff($this->files(), array_keys($done)))) {
            $total = max($total, $sent + count($files));
            foreach ($files as $file) {
                $done[$file] = true;
                if (microtime(true) - $start > $budget) break;
                $job = json_decode((string)@file_get_contents($file), true);
                if (!is_array($job)) { // vanished or unreadable
                    @unlink($file);
                    continue;
                }
                $r = $this->gateway->at($job['gateway'] ?? null, $job['token'] ?? null)
                    ->publish($job['node'], $job['xml'], $timeout);
                if ($r['ok']) {
                    @unlink($file);
                    $sent++;
                    if ($progress) $progress($sent, $total);
                    continue;
                }
                // without the extension nothing can be decided: the entry waits
                if ($this->core->isAvailable() && $this->core->publishFailure($r['status']) === 'reject') {
                    @rename($file, $this->sub('rejected') . '/' . basename($file));
                    $this->health->record('failure', "entry for {$job['page']} refused: {$r['error']}");
                    continue;
                }
                $error = $r['error'];
                $this->health->record('failure', $error);
                break;
            }
        }
        if ($sent > 0) $this->health->record('publish');
        flock($fh, LOCK_UN);
        fclose($fh);
        return ['sent' => $sent, 'left' => $this->length(), 'error' => $error];
    }
}
