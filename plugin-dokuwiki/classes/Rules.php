<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * The sync table: per namespace, this site's role (the core's `Role`), the node, the gateway
 * serving it when it is not the site's own (`gateway`, and `token` when this site publishes
 * there), and the subscription's bookkeeping (secret, status, when it was set up, last sync).
 * Stored in
 * `<metadir>/_wikisync/config.json`; the core's `SiteConfig` is built from it.
 *
 * Which namespace a page belongs to, and whether it is read-only here, is asked of the core.
 */
class Rules
{
    /** @var string */
    protected $dir;
    /** @var \helper_plugin_wikisync_core */
    protected $core;
    /** @var string this site's id */
    protected $site;
    /** @var int lock duration in seconds */
    protected $lockSeconds;
    /** @var string|null the page URL template */
    protected $pageUrl;
    /** @var array media settings for the core's SiteConfig (mediaUrl, mediaMax) */
    protected $media;
    /** @var array|null cached table */
    protected $table;
    /** @var array|null cached SiteConfig */
    protected $config;

    /**
     * @param string $dir the plugin's data directory
     * @param \helper_plugin_wikisync_core $core
     * @param string $site this site's id
     * @param int $lockSeconds how long a draft lock lasts
     * @param string|null $pageUrl page URL template ({page}, {revision})
     * @param array $media mediaUrl (template), mediaMax (bytes) for the core's SiteConfig
     */
    public function __construct($dir, $core, $site, $lockSeconds, $pageUrl, array $media = [])
    {
        $this->media = $media;
        $this->dir = $dir;
        $this->core = $core;
        $this->site = $site;
        $this->lockSeconds = $lockSeconds;
        $this->pageUrl = $pageUrl;
    }

    /**
     * This site's id.
     *
     * @return string
     */
    public function site()
    {
        return $this->site;
    }

    /**
     * The table: namespace => rule (role, node, secret, status, since, last_sync).
     *
     * @param bool $reload
     * @return array
     */
    public function all($reload = false)
    {
        if ($this->table === null || $reload) {
            $file = "$this->dir/config.json";
            $json = is_file($file) ? json_decode((string)io_readFile($file, false), true) : null;
            $rules = is_array($json['namespaces'] ?? null) ? $json['namespaces'] : [];
            $this->table = array_map([self::class, 'upgrade'], $rules);
            $this->config = null;
        }
        return $this->table;
    }

    /**
     * A rule written by an earlier version (role as a word, its source and policy beside it)
     * in the form used now (role as the core's Role).
     *
     * @param array $rule
     * @return array
     */
    protected static function upgrade(array $rule)
    {
        if (is_array($rule['role'] ?? null)) return $rule;
        $word = (string)($rule['role'] ?? 'peer');
        $role = ['type' => in_array($word, ['source', 'mirror', 'peer'], true) ? $word : 'peer'];
        if ($word === 'mirror') {
            $role['source'] = (string)($rule['source'] ?? '');
            $role['whenGone'] = ($rule['when_gone'] ?? 'keep') === 'delete' ? 'delete' : 'keep';
        }
        unset($rule['source'], $rule['when_gone']);
        $rule['role'] = $role;
        // what the core's setRole step answers for a mirror (rules written since record it)
        $rule['readOnly'] = $word === 'mirror';
        return $rule;
    }

    /**
     * One namespace's rule, or null.
     *
     * @param string $ns
     * @return array|null
     */
    public function get($ns)
    {
        return $this->all()[$ns] ?? null;
    }

    /**
     * Replaces one namespace's rule (null removes it), under a lock.
     *
     * @param string $ns
     * @param array|null $rule
     */
    public function set($ns, $rule)
    {
        $file = "$this->dir/config.json";
        $fh = fopen($file . '.lock', 'c');
        flock($fh, LOCK_EX);
        try {
            $rules = $this->all(true);
            if ($rule === null) {
                unset($rules[$ns]);
            } else {
                $rules[$ns] = $rule;
            }
            ksort($rules);
            io_saveFile($file . '.tmp', json_encode(['namespaces' => $rules], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
            rename($file . '.tmp', $file);
            $this->table = $rules;
            $this->config = null;
        } finally {
            flock($fh, LOCK_UN);
            fclose($fh);
        }
    }

    /**
     * Changes some keys of a namespace's rule (a rule that is gone stays gone).
     *
     * @param string $ns
     * @param array $keys
     */
    public function update($ns, array $keys)
    {
        $rule = $this->get($ns);
        if ($rule !== null) $this->set($ns, array_merge($rule, $keys));
    }

    /**
     * The core's SiteConfig for this site.
     *
     * @return array
     */
    public function siteConfig()
    {
        if ($this->config !== null) return $this->config;
        $rules = [];
        foreach ($this->all() as $ns => $rule) {
            $rules[] = ['namespace' => (string)$ns, 'role' => $rule['role']];
        }
        return $this->config = [
            'site' => $this->site,
            'rules' => $rules,
            'lockSeconds' => $this->lockSeconds,
            'mediaType' => 'text/x-dokuwiki',
            'pageUrl' => $this->pageUrl,
        ] + $this->media;
    }

    /**
     * The core's record of a namespace for planning a change (NamespaceSetup), or null.
     *
     * @param string $ns
     * @return array|null
     */
    public function setupOf($ns)
    {
        $rule = $this->get($ns);
        if ($rule === null) return null;
        return [
            'role' => $rule['role'],
            'node' => ($rule['node'] ?? '') === '' ? null : (string)$rule['node'],
            'gateway' => ($rule['gateway'] ?? '') === '' ? null : (string)$rule['gateway'],
            'subscribed' => ($rule['status'] ?? '') === 'active',
        ];
    }

    /**
     * The namespace a page is synced with (the core's answer), or null.
     *
     * @param string $id
     * @return string|null
     */
    public function namespaceOf($id)
    {
        if (!$this->all() || !$this->core->isAvailable()) return null;
        return $this->core->namespaceOf($this->siteConfig(), $id);
    }

    /**
     * Whether local users may not edit a page (a mirror): the core's answer, or without the
     * extension the answer the core gave when the namespace was set up (`readOnly` of its
     * rule), so that a missing extension never opens a mirror for editing.
     *
     * @param string $id
     * @return bool
     */
    public function isReadOnly($id)
    {
        if (!$this->all()) return false;
        if ($this->core->isAvailable()) return $this->core->isReadOnly($this->siteConfig(), $id);
        foreach ($this->all() as $ns => $rule) {
            $ns = (string)$ns;
            if (!empty($rule['readOnly']) && ($ns === '' || strpos($id, "$ns:") === 0)) return true;
        }
        return false;
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
        return $ns === null ? null : $this->get($ns);
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
}
