<?php

use dokuwiki\Extension\Plugin;

/**
 * The plugin's persistent data: the sync table (namespace → role, node, source), per-page
 * sync state, notices and conflicts, the outgoing queue, remembered callback signatures and
 * health.
 *
 * Everything lives under `<metadir>/_wikisync/` (a leading underscore cannot be a namespace,
 * so it never collides with page metadata).
 */
class helper_plugin_wikisync_store extends Plugin
{
    /** Roles a namespace can have here. */
    const ROLES = ['source', 'mirror', 'peer'];

    /** @var array|null cached sync table */
    protected $table;

    /**
     * The plugin's data directory (created on demand).
     *
     * @param string $sub optional sub directory
     * @return string
     */
    public function dir($sub = '')
    {
        global $conf;
        $dir = $conf['metadir'] . '/_wikisync' . ($sub === '' ? '' : '/' . $sub);
        if (!is_dir($dir)) io_mkdir_p($dir);
        return $dir;
    }

    // ------------------------------------------------------------------ the sync table

    /**
     * The sync table: namespace => rule (role, node, source, when_gone, secret, status, …).
     *
     * @param bool $reload
     * @return array
     */
    public function rules($reload = false)
    {
        if ($this->table === null || $reload) {
            $file = $this->dir() . '/config.json';
            $json = is_file($file) ? json_decode((string)io_readFile($file, false), true) : null;
            $this->table = is_array($json['namespaces'] ?? null) ? $json['namespaces'] : [];
        }
        return $this->table;
    }

    /**
     * Replaces one namespace's rule (null removes it).
     *
     * @param string $ns
     * @param array|null $rule
     */
    public function setRule($ns, $rule)
    {
        $file = $this->dir() . '/config.json';
        $fh = fopen($file . '.lock', 'c');
        flock($fh, LOCK_EX);
        $rules = $this->rules(true);
        if ($rule === null) {
            unset($rules[$ns]);
        } else {
            $rules[$ns] = $rule;
        }
        ksort($rules);
        io_saveFile($file . '.tmp', json_encode(['namespaces' => $rules], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
        rename($file . '.tmp', $file);
        $this->table = $rules;
        flock($fh, LOCK_UN);
        fclose($fh);
    }

    /**
     * The namespace whose rule covers a page (the longest matching namespace), or null.
     *
     * @param string $id page id
     * @return string|null
     */
    public function namespaceOf($id)
    {
        $best = null;
        foreach (array_keys($this->rules()) as $ns) {
            $ns = (string)$ns;
            if ($ns === '' || strpos($id, $ns . ':') === 0) {
                if ($best === null || strlen($ns) > strlen($best)) $best = $ns;
            }
        }
        return $best;
    }

    /**
     * The rule covering a page, or null.
     *
     * @param string $id
     * @return array|null
     */
    public function ruleFor($id)
    {
        $ns = $this->namespaceOf($id);
        return $ns === null ? null : $this->rules()[$ns];
    }

    /**
     * This site's id (the `site_id` setting, else the wiki's base URL).
     *
     * @return string
     */
    public function siteId()
    {
        $site = trim((string)$this->getConf('site_id'));
        return $site !== '' ? $site : DOKU_URL;
    }

    /**
     * The core's SiteConfig for this site.
     *
     * @return array
     */
    public function siteConfig()
    {
        global $conf;
        $rules = [];
        foreach ($this->rules() as $ns => $rule) {
            switch ($rule['role']) {
                case 'source':
                    $role = ['type' => 'source'];
                    break;
                case 'mirror':
                    $role = [
                        'type' => 'mirror',
                        'source' => (string)$rule['source'],
                        'when_gone' => ($rule['when_gone'] ?? 'keep') === 'delete' ? 'delete' : 'keep',
                    ];
                    break;
                default:
                    $role = ['type' => 'peer'];
            }
            $rules[] = ['namespace' => (string)$ns, 'role' => $role];
        }
        return [
            'site' => $this->siteId(),
            'rules' => $rules,
            'lock_seconds' => max(60, (int)$conf['locktime']),
            'media_type' => 'text/x-dokuwiki',
        ];
    }

    /**
     * The callback URL the gateway posts a namespace's notifications to.
     *
     * @param string $ns
     * @return string
     */
    public function callbackUrl($ns)
    {
        return DOKU_URL . 'lib/exe/ajax.php?call=wikisync&ns=' . rawurlencode($ns);
    }

    // ------------------------------------------------------------------ per-page state

    /**
     * The page's stored sync state, or null before its first sync.
     *
     * @param string $id
     * @return array|null
     */
    public function pageState($id)
    {
        $state = $this->pageData($id)['state'] ?? null;
        return is_array($state) ? $state : null;
    }

    /**
     * Stores the page's sync state.
     *
     * @param string $id
     * @param array $state
     */
    public function setPageState($id, array $state)
    {
        $this->setPageKey($id, 'state', $state);
    }

    /**
     * A page's notice or conflict ('notice' / 'conflict' keys), as the core asked to show it.
     *
     * @param string $id
     * @param string $key notice|conflict
     * @return array|null
     */
    public function pageExtra($id, $key)
    {
        $v = $this->pageData($id)[$key] ?? null;
        return is_array($v) ? $v : null;
    }

    /**
     * @param string $id
     * @param string $key notice|conflict
     * @param array|null $value
     */
    public function setPageExtra($id, $key, $value)
    {
        $this->setPageKey($id, $key, $value);
    }

    /**
     * The file holding a page's sync state, notice and conflict (JSON). Not DokuWiki's page
     * metadata: a page view that re-renders the metadata writes the whole metadata file it
     * read before, which could put back a state a callback had changed meanwhile.
     *
     * @param string $id
     * @return string
     */
    protected function pageFile($id)
    {
        return $this->dir('pages') . '/' . md5($id) . '.json';
    }

    /**
     * Everything stored for a page (keys state, notice, conflict).
     *
     * @param string $id
     * @return array
     */
    protected function pageData($id)
    {
        $file = $this->pageFile($id);
        if (is_file($file)) {
            $data = json_decode((string)file_get_contents($file), true);
            if (is_array($data)) return $data;
        }
        // Written by earlier versions into the page's persistent metadata: read it from there
        // until the next change moves it.
        $meta = p_get_metadata($id, 'wikisync', METADATA_DONT_RENDER);
        return is_array($meta) ? $meta : [];
    }

    /**
     * Replaces one key of what is stored for a page and keeps the others: under a lock of its
     * own (read, change, write), written to a temporary file and renamed over the old one, so
     * readers never see half a file.
     *
     * @param string $id
     * @param string $key state|notice|conflict
     * @param mixed $value
     */
    protected function setPageKey($id, $key, $value)
    {
        $file = $this->pageFile($id);
        $lock = fopen($file . '.lock', 'c');
        if ($lock === false) throw new RuntimeException("wikisync: cannot lock $file");
        flock($lock, LOCK_EX);
        try {
            $all = $this->pageData($id);
            $all['id'] = $id;
            $all[$key] = $value;
            $json = json_encode($all, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
            if ($json === false) throw new RuntimeException("wikisync: cannot encode the state of $id");
            $tmp = $file . '.' . getmypid() . '.tmp';
            if (file_put_contents($tmp, $json) === false || !rename($tmp, $file)) {
                @unlink($tmp);
                throw new RuntimeException("wikisync: cannot write $file");
            }
        } finally {
            flock($lock, LOCK_UN);
            fclose($lock);
        }
    }

    /**
     * A lock file that serialises work on one page between concurrent requests.
     *
     * @param string $id
     * @return resource
     */
    public function lockPage($id)
    {
        $fh = fopen($this->dir('locks') . '/' . md5($id) . '.lock', 'c');
        flock($fh, LOCK_EX);
        return $fh;
    }

    /**
     * @param resource $fh from lockPage()
     */
    public function unlockPage($fh)
    {
        flock($fh, LOCK_UN);
        fclose($fh);
    }

    // ------------------------------------------------------------------ the outgoing queue

    /**
     * Queues an entry for publishing (durable: one file per entry, in order).
     *
     * @param string $node
     * @param string $page
     * @param string $xml
     */
    public function enqueue($node, $page, $xml)
    {
        $name = sprintf('%.6f', microtime(true)) . '-' . getmypid() . '-' . substr(md5($page . $xml), 0, 8);
        $dir = $this->dir('queue');
        io_saveFile("$dir/$name.tmp", json_encode(['node' => $node, 'page' => $page, 'xml' => $xml]));
        rename("$dir/$name.tmp", "$dir/$name.json");
    }

    /**
     * The queued files, oldest first.
     *
     * @return string[]
     */
    public function queued()
    {
        $files = glob($this->dir('queue') . '/*.json') ?: [];
        sort($files, SORT_STRING);
        return $files;
    }

    /**
     * @param string $file
     * @return array|null node, page, xml
     */
    public function readQueued($file)
    {
        $job = json_decode((string)@file_get_contents($file), true);
        return is_array($job) ? $job : null;
    }

    /**
     * Moves a queued entry the gateway refused for good out of the queue (kept for the admin).
     *
     * @param string $file
     */
    public function rejectQueued($file)
    {
        @rename($file, $this->dir('rejected') . '/' . basename($file));
    }

    /**
     * How many entries the gateway refused for good.
     *
     * @return int
     */
    public function rejectedCount()
    {
        return count(glob($this->dir('rejected') . '/*.json') ?: []);
    }

    // ------------------------------------------------------------------ replay protection

    /**
     * Remembers a callback signature; false when it was already seen (a replay).
     *
     * @param string $signature hex HMAC
     * @return bool
     */
    public function rememberSignature($signature)
    {
        $dir = $this->dir('seen');
        $fh = @fopen("$dir/" . hash('sha256', $signature), 'x');
        if ($fh === false) return false;
        fclose($fh);
        return true;
    }

    /**
     * Forgets a signature again (its request failed and will be retried by the gateway).
     *
     * @param string $signature
     */
    public function forgetSignature($signature)
    {
        @unlink($this->dir('seen') . '/' . hash('sha256', $signature));
    }

    /**
     * Drops remembered signatures older than the replay window.
     */
    public function pruneSignatures()
    {
        $limit = time() - max(60, (int)$this->getConf('replay_window'));
        foreach (glob($this->dir('seen') . '/*') ?: [] as $f) {
            if (@filemtime($f) < $limit) @unlink($f);
        }
    }

    // ------------------------------------------------------------------ health

    /**
     * The health record: last_publish, last_receive, last_sync, counters, recent failures.
     *
     * @return array
     */
    public function health()
    {
        $json = json_decode((string)@file_get_contents($this->dir() . '/health.json'), true);
        return is_array($json) ? $json : [];
    }

    /**
     * Updates the health record under a lock.
     *
     * @param callable $change function (array $health): array
     */
    public function updateHealth(callable $change)
    {
        $file = $this->dir() . '/health.json';
        $fh = fopen($file . '.lock', 'c');
        flock($fh, LOCK_EX);
        $health = $change($this->health());
        file_put_contents($file . '.tmp', json_encode($health, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
        rename($file . '.tmp', $file);
        flock($fh, LOCK_UN);
        fclose($fh);
    }

    /**
     * Records an event: a counter, a timestamp and, for failures, the message (last 20 kept).
     *
     * @param string $what publish|receive|refused|failure|sync
     * @param string $message
     */
    public function record($what, $message = '')
    {
        $this->updateHealth(function ($h) use ($what, $message) {
            $h['count'][$what] = ($h['count'][$what] ?? 0) + 1;
            $h['last'][$what] = time();
            if ($what === 'failure' || $what === 'refused') {
                $h['failures'][] = ['time' => time(), 'kind' => $what, 'message' => $message];
                $h['failures'] = array_slice($h['failures'], -20);
            }
            if ($what === 'publish') $h['last_error'] = '';
            if ($what === 'failure') $h['last_error'] = $message;
            return $h;
        });
    }
}
