<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * Each page's (and media file's) sync state, stored as the core hands it over (opaque JSON text, never read
 * here), in the plugin's own file per page: `<metadir>/_wikisync/pages/<md5(id)>.json`, and the
 * lock that serialises work on one page between concurrent requests.
 *
 * Not DokuWiki's page metadata: a page view that re-renders the metadata writes back the whole
 * file it read before, which could put back a state a callback had changed meanwhile. States
 * that earlier versions kept in the page metadata are still read.
 */
class PageStore
{
    /** @var string the plugin's data directory */
    protected $dir;

    /** @var array<string, array{0: resource, 1: int}> page locks held by this process, reentrant */
    protected static $held = [];

    /**
     * @param string $dir the plugin's data directory (`<metadir>/_wikisync`)
     */
    public function __construct($dir)
    {
        $this->dir = $dir;
    }

    /**
     * @param string $sub
     * @return string the directory, created on demand
     */
    protected function sub($sub)
    {
        $dir = "$this->dir/$sub";
        if (!is_dir($dir)) io_mkdir_p($dir);
        return $dir;
    }

    /**
     * @param string $id
     * @param bool $media a media file's state (a page and a media file may share an id)
     * @return string
     */
    protected function file($id, $media = false)
    {
        return $this->sub('pages') . '/' . md5(($media ? "media\0" : '') . $id) . '.json';
    }

    /**
     * The page's stored state (the core's JSON text), or null before its first sync.
     *
     * @param string $id
     * @param bool $media a media file's state
     * @return string|null
     */
    public function state($id, $media = false)
    {
        $file = $this->file($id, $media);
        $data = is_file($file) ? json_decode((string)file_get_contents($file), true) : null;
        if (!is_array($data) && !$media) {
            // earlier versions kept it in the page's persistent metadata
            $data = p_get_metadata($id, 'wikisync', METADATA_DONT_RENDER);
        }
        $state = is_array($data) ? ($data['state'] ?? null) : null;
        if (is_array($state)) return json_encode($state, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        return is_string($state) ? $state : null;
    }

    /**
     * Stores the page's state: written to a temporary file and renamed over the old one, so
     * readers never see half a file.
     *
     * @param string $id
     * @param string $state the core's JSON text
     * @param bool $media a media file's state
     */
    public function setState($id, $state, $media = false)
    {
        $file = $this->file($id, $media);
        $json = json_encode(['id' => $id, 'media' => (bool)$media, 'state' => $state],
            JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $tmp = $file . '.' . getmypid() . '.tmp';
        if ($json === false || file_put_contents($tmp, $json) === false || !rename($tmp, $file)) {
            @unlink($tmp);
            throw new \RuntimeException("wikisync: cannot write the sync state of $id");
        }
    }

    /**
     * Every page (or, with $media, every media file) that has a stored state, sorted
     * (deleted ones included).
     *
     * @param bool $media
     * @return string[]
     */
    public function withState($media = false)
    {
        $ids = [];
        foreach (glob($this->sub('pages') . '/*.json') ?: [] as $file) {
            $data = json_decode((string)file_get_contents($file), true);
            if (is_array($data) && is_string($data['id'] ?? null) && !empty($data['media']) === $media) {
                $ids[] = $data['id'];
            }
        }
        sort($ids, SORT_STRING);
        return $ids;
    }

    /**
     * Runs $work while holding the page's lock (reentrant within one request: a save that a
     * conflict resolution triggers takes the lock its caller holds).
     *
     * @param string $id a page id, or "media:" and a media id
     * @param callable $work
     * @return mixed what $work returns
     */
    public function locked($id, callable $work)
    {
        if (isset(self::$held[$id])) {
            self::$held[$id][1]++;
        } else {
            $fh = fopen($this->sub('locks') . '/' . md5($id) . '.lock', 'c');
            if ($fh === false || !flock($fh, LOCK_EX)) throw new \RuntimeException("wikisync: cannot lock $id");
            self::$held[$id] = [$fh, 1];
        }
        try {
            return $work();
        } finally {
            if (--self::$held[$id][1] === 0) {
                flock(self::$held[$id][0], LOCK_UN);
                fclose(self::$held[$id][0]);
                unset(self::$held[$id]);
            }
        }
    }
}
