<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * The one class that reads and writes DokuWiki's pages and lock files for the plugin: pages
 * are written only through saveWikiText() (history, changelog and index stay right), remote
 * editors' locks only through DokuWiki's lock files, so the editor shows who holds a page.
 * It decides nothing: it does what an action of the core says.
 */
class Wiki
{
    /** @var bool true while a page from the gateway is being written (its save is no local edit) */
    protected static $applying = false;

    /** @var string|null a page whose next save must write a revision even if its text is unchanged */
    protected static $forceRevision = null;

    /** @var string[] pages written during this request, to be added to the search index */
    protected $toIndex = [];

    /** @var bool add pages written from the gateway to the search index */
    protected $index;

    /**
     * @param bool $index add pages written from the gateway to the search index
     */
    public function __construct($index = true)
    {
        $this->index = (bool)$index;
    }

    /**
     * Whether a write from the gateway is in progress (its save is not a local edit).
     *
     * @return bool
     */
    public static function isApplying()
    {
        return self::$applying;
    }

    /**
     * Whether the save of $id in progress must write a revision although its text did not
     * change (a conflict resolution that keeps the text here).
     *
     * @param string $id
     * @return bool
     */
    public static function forcesRevision($id)
    {
        return self::$forceRevision !== null && self::$forceRevision === $id;
    }

    /**
     * The page's exact bytes, or null when it does not exist (rawWiki() strips CRs).
     *
     * @param string $id
     * @return string|null
     */
    public function text($id)
    {
        $file = wikiFN($id);
        if (!file_exists($file)) return null;
        $text = io_readFile($file, false);
        return is_string($text) ? $text : null;
    }

    /**
     * The page's title as DokuWiki shows it (its first heading), or null.
     *
     * @param string $id
     * @return string|null
     */
    public function title($id)
    {
        $title = p_get_first_heading($id, METADATA_DONT_RENDER);
        return is_string($title) && $title !== '' ? $title : null;
    }

    /**
     * The URL of a page revision with `{page}` and `{revision}` placeholders, as DokuWiki
     * builds its links (the core fills it into every entry this site publishes).
     *
     * @return string
     */
    public function pageUrlTemplate()
    {
        $url = wl('wikisyncpageplaceholder', ['rev' => '987654321987'], true, '&');
        return str_replace(['wikisyncpageplaceholder', '987654321987'], ['{page}', '{revision}'], $url);
    }

    /**
     * Writes (or, with null, deletes) a page as $author through saveWikiText(), so history,
     * changelog and index show the remote author and summary. The save event this triggers
     * is not a local edit.
     *
     * @param string $id
     * @param string|null $text null: delete the page
     * @param string|null $author
     * @param string|null $summary
     * @param bool $minor
     */
    public function write($id, $text, $author, $summary, $minor)
    {
        $this->waitForNextSecond($id);
        $this->asRemote($author, function () use ($id, $text, $summary, $minor) {
            saveWikiText($id, (string)$text, (string)$summary, (bool)$minor);
        });
        if ($text !== null && $text !== '' && $this->index) $this->toIndex[] = $id;
    }

    /**
     * Saves a page as the local user (a conflict resolution): a revision is written even when
     * the text equals the page's (its publication must name a revision DokuWiki has), and
     * the save hook publishes it like any local save.
     *
     * @param string $id
     * @param string $text '' deletes the page
     * @param string $summary
     */
    public function saveAsLocalUser($id, $text, $summary)
    {
        $this->waitForNextSecond($id);
        self::$forceRevision = $id;
        try {
            saveWikiText($id, $text, $summary);
        } finally {
            self::$forceRevision = null;
        }
    }

    /**
     * DokuWiki revisions are whole seconds: a save in the second of the page's last revision
     * would overwrite that revision's changelog entry. Waits for the next second.
     *
     * @param string $id
     */
    protected function waitForNextSecond($id)
    {
        $this->waitForNextSecondOf(wikiFN($id));
    }

    /**
     * Waits until a save of $file would be a new revision (a later second than its last).
     *
     * @param string $file
     */
    protected function waitForNextSecondOf($file)
    {
        clearstatcache(true, $file);
        $last = @filemtime($file);
        if ($last !== false && $last >= time()) time_sleep_until($last + 1.02);
    }

    /**
     * Runs $work as user $author with the "applying" flag set (a write from the gateway: its
     * events are no local edit), restoring the request's user afterwards.
     *
     * @param string|null $author
     * @param callable $work
     * @return mixed what $work returns
     */
    protected function asRemote($author, callable $work)
    {
        global $INPUT;
        $user = preg_replace('/[\t\r\n]+/', ' ', (string)$author);
        if ($user === '') $user = 'wikisync';
        $prevUser = $INPUT->server->str('REMOTE_USER');
        $prevServer = $_SERVER['REMOTE_USER'] ?? null;
        $INPUT->server->set('REMOTE_USER', $user);
        $_SERVER['REMOTE_USER'] = $user;
        self::$applying = true;
        try {
            return $work();
        } finally {
            self::$applying = false;
            $INPUT->server->set('REMOTE_USER', $prevUser);
            if ($prevServer === null) {
                unset($_SERVER['REMOTE_USER']);
            } else {
                $_SERVER['REMOTE_USER'] = $prevServer;
            }
        }
    }

    /**
     * A media file's bytes, or null when it does not exist.
     *
     * @param string $id
     * @return string|null
     */
    public function mediaBytes($id)
    {
        $file = mediaFN($id);
        if (!is_file($file)) return null;
        $bytes = file_get_contents($file);
        return is_string($bytes) ? $bytes : null;
    }

    /**
     * The media type DokuWiki gives a media file (by its extension).
     *
     * @param string $id
     * @return string
     */
    public function mediaType($id)
    {
        [, $mime] = mimetype($id);
        return is_string($mime) && $mime !== '' ? $mime : 'application/octet-stream';
    }

    /**
     * The revision number of a media file's current version (its modification time).
     *
     * @param string $id
     * @return int
     */
    public function mediaRevision($id)
    {
        clearstatcache(true, mediaFN($id));
        return (int)@filemtime(mediaFN($id));
    }

    /**
     * Who uploaded a media file's current version, as its media changelog has it ('' when
     * unknown: no changelog line for it, or the file does not exist).
     *
     * @param string $id
     * @return string
     */
    public function mediaAuthor($id)
    {
        $date = $this->mediaRevision($id);
        if ($date === 0) return '';
        $info = (new \dokuwiki\ChangeLog\MediaChangeLog($id))->getRevisionInfo($date) ?: [];
        return (string)($info['user'] ?? '');
    }

    /**
     * Writes a media file as $author through DokuWiki's media_save() (the old version goes to
     * the media history, the media changelog names the author).
     *
     * @param string $id
     * @param string $bytes
     * @param string|null $author
     * @throws \RuntimeException when DokuWiki refuses it (an extension it does not allow, …)
     */
    public function writeMedia($id, $bytes, $author)
    {
        $this->waitForNextSecondOf(mediaFN($id));
        $tmp = tempnam(sys_get_temp_dir(), 'wikisync-media');
        if ($tmp === false || file_put_contents($tmp, $bytes) === false) {
            throw new \RuntimeException("wikisync: cannot stage the media file $id");
        }
        try {
            [$ext, $mime] = mimetype($id);
            $r = $this->asRemote($author, function () use ($id, $tmp, $ext, $mime) {
                return media_save(['name' => $tmp, 'mime' => $mime, 'ext' => $ext], $id, true, AUTH_ADMIN, 'copy');
            });
        } finally {
            @unlink($tmp);
        }
        if (!is_string($r)) {
            $why = is_array($r) ? strip_tags((string)$r[0]) : 'refused';
            throw new \RuntimeException("wikisync: DokuWiki did not write the media file $id: $why");
        }
    }

    /**
     * Deletes a media file as $author: the current version goes to the media history and the
     * media changelog records the deletion, as DokuWiki's own media_delete() does (which a
     * mirror cannot use: it checks the user's permission and refuses files still in use).
     *
     * @param string $id
     * @param string|null $author
     * @param string|null $summary
     */
    public function deleteMedia($id, $author, $summary)
    {
        global $lang;
        $file = mediaFN($id);
        if (!is_file($file)) return;
        $this->asRemote($author, function () use ($id, $file, $summary, $lang) {
            $data = ['id' => $id, 'name' => basename($file), 'path' => $file, 'size' => filesize($file),
                'unl' => false, 'del' => false];
            $evt = new \dokuwiki\Extension\Event('MEDIA_DELETE_FILE', $data);
            if ($evt->advise_before()) {
                $old = @filemtime($file);
                if (!file_exists(mediaFN($id, $old))) media_saveOldRevision($id);
                $data['unl'] = @unlink($file);
                if ($data['unl']) {
                    addMediaLogEntry(time(), $id, DOKU_CHANGE_TYPE_DELETE, (string)($summary ?: $lang['deleted']), '',
                        null, -$data['size']);
                    $data['del'] = io_sweepNS($id, 'mediadir');
                }
            }
            $evt->advise_after();
            if (!$data['unl']) throw new \RuntimeException("wikisync: cannot delete the media file $id");
        });
    }

    /**
     * The bytes of a version of a media file whose SHA-256 is $sha256: the current one or one
     * in its media history (what another site fetching by reference asks for), or null.
     *
     * @param string $id
     * @param string $sha256
     * @return string|null
     */
    public function mediaVersion($id, $sha256)
    {
        $candidates = [mediaFN($id)];
        foreach ((new \dokuwiki\ChangeLog\MediaChangeLog($id))->getRevisions(-1, 100) as $rev) {
            $candidates[] = mediaFN($id, $rev);
        }
        foreach ($candidates as $file) {
            if (is_file($file) && hash_equals(strtolower($sha256), hash_file('sha256', $file))) {
                return (string)file_get_contents($file);
            }
        }
        return null;
    }

    /**
     * The media files of a namespace ('' = all), sorted.
     *
     * @param string $ns
     * @return string[]
     */
    public function mediaFiles($ns)
    {
        global $conf;
        $dir = utf8_encodeFN(str_replace(':', '/', $ns));
        $data = [];
        search($data, $conf['mediadir'], 'search_media', ['skipacl' => true, 'depth' => 0], $dir);
        $ids = array_map(function ($m) {
            return $m['id'];
        }, $data);
        sort($ids, SORT_STRING);
        return $ids;
    }

    /**
     * Where other sites fetch this site's media files by reference (the core's `mediaUrl`).
     *
     * @return string
     */
    public function mediaUrlTemplate()
    {
        return DOKU_URL . 'lib/exe/ajax.php?call=wikisync_media&media={media}&rev={revision}&sha256={sha256}';
    }

    /**
     * The line a remote editor's lock file holds: "editor @ site" on one line (checklock()
     * compares a second line with the local session id; local user names hold no spaces).
     *
     * @param string|null $editor
     * @param string $site
     * @return string
     */
    protected static function lockLine($editor, $site)
    {
        $clean = function ($s) {
            return trim(preg_replace('/[\x00-\x1f\x7f]+/', ' ', (string)$s));
        };
        return ($clean($editor) ?: '?') . ' @ ' . ($clean($site) ?: '?');
    }

    /**
     * Locks a page for a remote editor until $until (DokuWiki expires locks `locktime`
     * seconds after the file's modification time).
     *
     * @param string $id
     * @param string|null $editor
     * @param string $site
     * @param int $until
     */
    public function lock($id, $editor, $site, $until)
    {
        global $conf;
        $file = wikiLockFN($id);
        io_saveFile($file, self::lockLine($editor, $site));
        @touch($file, $until - (int)$conf['locktime']);
    }

    /**
     * Removes the lock of the remote editor $editor at $site; a lock somebody took since (a
     * local editor, another remote one) stays.
     *
     * @param string $id
     * @param string|null $editor
     * @param string $site
     */
    public function unlock($id, $editor, $site)
    {
        $file = wikiLockFN($id);
        if (is_file($file) && (string)io_readFile($file, false) === self::lockLine($editor, $site)) {
            @unlink($file);
        }
    }

    /**
     * The existing pages of a namespace ('' = all), sorted.
     *
     * @param string $ns
     * @return string[]
     */
    public function pages($ns)
    {
        global $conf;
        $dir = utf8_encodeFN(str_replace(':', '/', $ns));
        $data = [];
        search($data, $conf['datadir'], 'search_allpages', ['skipacl' => true], $dir);
        $ids = array_map(function ($p) {
            return $p['id'];
        }, $data);
        sort($ids, SORT_STRING);
        return $ids;
    }

    /**
     * The revision info of a page's current revision (user, summary), as the changelog has it.
     *
     * @param string $id
     * @return array ['user' => string, 'sum' => string, 'date' => int]
     */
    public function currentRevision($id)
    {
        $date = (int)@filemtime(wikiFN($id));
        $info = (new \dokuwiki\ChangeLog\PageChangeLog($id))->getRevisionInfo($date) ?: [];
        return ['user' => (string)($info['user'] ?? ''), 'sum' => (string)($info['sum'] ?? ''), 'date' => $date];
    }

    /**
     * Adds the pages written in this request to the search index, each under the page's lock
     * ($lock), since indexing renders the page's metadata and writes it back.
     *
     * @param callable $lock function (string $id, callable $work)
     * @param callable|null $progress function (int $done, int $total, string $id)
     * @return int pages indexed
     */
    public function indexWritten(callable $lock, $progress = null)
    {
        $ids = array_values(array_unique($this->toIndex));
        $this->toIndex = [];
        foreach ($ids as $i => $id) {
            $lock($id, function () use ($id) {
                idx_addPage($id);
            });
            if ($progress) $progress($i + 1, count($ids), $id);
        }
        return count($ids);
    }

    /**
     * The pages written in this request and not indexed yet (and forgets them).
     *
     * @return string[]
     */
    public function takeWritten()
    {
        $ids = $this->toIndex;
        $this->toIndex = [];
        return $ids;
    }

    /**
     * Adds pages to the list of pages to index (written by another process).
     *
     * @param string[] $ids
     */
    public function addWritten(array $ids)
    {
        $this->toIndex = array_merge($this->toIndex, $ids);
    }
}
