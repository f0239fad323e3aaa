<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * What the admin page shows about sync: when pages were last published, received and
 * synced, counters, recent failures and refusals; and the callback signatures seen, so that
 * a replayed callback changes nothing.
 */
class Health
{
    /** @var string */
    protected $dir;
    /** @var int seconds a callback signature is remembered */
    protected $replayWindow;

    /**
     * @param string $dir the plugin's data directory
     * @param int $replayWindow seconds a signature is remembered
     */
    public function __construct($dir, $replayWindow)
    {
        $this->dir = $dir;
        $this->replayWindow = max(60, (int)$replayWindow);
    }

    /**
     * The record: last (per kind), count (per kind), failures (the last 20), last_error.
     *
     * @return array
     */
    public function get()
    {
        $json = json_decode((string)@file_get_contents($this->dir . '/health.json'), true);
        return is_array($json) ? $json : [];
    }

    /**
     * Records an event: a counter, a timestamp and, for failures, refusals, notifications
     * ignored for a reason worth reporting and healed subscriptions, the message (the last 50
     * are kept).
     *
     * @param string $what publish|receive|refused|ignored|healed|failure|sync
     * @param string $message
     */
    public function record($what, $message = '')
    {
        $this->update(function ($h) use ($what, $message) {
            $h['count'][$what] = ($h['count'][$what] ?? 0) + 1;
            $h['last'][$what] = time();
            if (in_array($what, ['failure', 'refused', 'ignored', 'healed'], true)) {
                $h['failures'][] = ['time' => time(), 'kind' => $what, 'message' => $message];
                $h['failures'] = array_slice($h['failures'], -50);
            }
            if ($what === 'publish') $h['last_error'] = '';
            if ($what === 'failure') $h['last_error'] = $message;
            return $h;
        });
    }

    /**
     * Changes the record under a lock: written to a temporary file and renamed over it.
     *
     * @param callable $change function (array $health): array
     */
    protected function update(callable $change)
    {
        $file = $this->dir . '/health.json';
        $fh = fopen($file . '.lock', 'c');
        flock($fh, LOCK_EX);
        try {
            $h = $change($this->get());
            file_put_contents($file . '.tmp', json_encode($h, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
            rename($file . '.tmp', $file);
        } finally {
            flock($fh, LOCK_UN);
            fclose($fh);
        }
    }

    /**
     * Remembers when a callback for namespace $ns last arrived (shown on the admin page).
     *
     * @param string $ns
     */
    public function recordCallback($ns)
    {
        $this->update(function ($h) use ($ns) {
            $h['callback'][(string)$ns] = time();
            return $h;
        });
    }

    /**
     * @return string the directory of remembered signatures
     */
    protected function seenDir()
    {
        $dir = $this->dir . '/seen';
        if (!is_dir($dir)) io_mkdir_p($dir);
        return $dir;
    }

    /**
     * Remembers a callback signature; false when it was already seen (a replay).
     *
     * @param string $signature hex HMAC
     * @return bool
     */
    public function rememberSignature($signature)
    {
        $fh = @fopen($this->seenDir() . '/' . hash('sha256', $signature), 'x');
        if ($fh === false) return false;
        fclose($fh);
        return true;
    }

    /**
     * Forgets a signature again (its request failed and the gateway will retry it).
     *
     * @param string $signature
     */
    public function forgetSignature($signature)
    {
        @unlink($this->seenDir() . '/' . hash('sha256', $signature));
    }

    /**
     * Drops remembered signatures older than the replay window.
     */
    public function pruneSignatures()
    {
        $limit = time() - $this->replayWindow;
        foreach (glob($this->seenDir() . '/*') ?: [] as $f) {
            if (@filemtime($f) < $limit) @unlink($f);
        }
    }
}
