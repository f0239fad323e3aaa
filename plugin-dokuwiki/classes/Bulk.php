<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * Inputs given to every page and media file of a namespace at once: publishing an existing
 * wiki, announcing a source move, a source that went away. Each goes through the one apply
 * path; which take part and what happens to each is the core's answer.
 */
class Bulk
{
    /** @var Rules */
    protected $rules;
    /** @var PageStore */
    protected $pages;
    /** @var Wiki */
    protected $wiki;
    /** @var Applier */
    protected $applier;
    /** @var \helper_plugin_wikisync_core */
    protected $core;

    /**
     * @param Rules $rules
     * @param PageStore $pages
     * @param Wiki $wiki
     * @param Applier $applier
     * @param \helper_plugin_wikisync_core $core
     */
    public function __construct(Rules $rules, PageStore $pages, Wiki $wiki, Applier $applier, $core)
    {
        $this->rules = $rules;
        $this->pages = $pages;
        $this->wiki = $wiki;
        $this->applier = $applier;
        $this->core = $core;
    }

    /**
     * The pages the core places in namespace $ns: the existing ones and those known only from
     * their state (deleted here), sorted.
     *
     * @param string $ns
     * @return string[]
     */
    public function pagesOf($ns)
    {
        return $this->inNamespace($ns, array_merge($this->wiki->pages($ns), $this->pages->withState()));
    }

    /**
     * The media files the core places in namespace $ns: the existing ones and those known
     * only from their state, sorted.
     *
     * @param string $ns
     * @return string[]
     */
    public function mediaOf($ns)
    {
        return $this->inNamespace($ns, array_merge($this->wiki->mediaFiles($ns), $this->pages->withState(true)));
    }

    /**
     * @param string $ns
     * @param string[] $ids
     * @return string[] those of $ids the core places in $ns, once each, sorted
     */
    protected function inNamespace($ns, array $ids)
    {
        $ids = array_values(array_filter(array_unique($ids), function ($id) use ($ns) {
            return $this->rules->namespaceOf($id) === $ns;
        }));
        sort($ids, SORT_STRING);
        return $ids;
    }

    /**
     * Publishes every page and media file of namespace $ns that the core says still needs it
     * (bulk publish of an existing wiki, and pages changed or deleted while publishing
     * failed), with the author (and, for pages, the summary) of its current revision.
     *
     * @param string $ns
     * @param callable|null $progress function (int $done, int $total, string $id)
     * @return array counts: published, unchanged, refused (by the core: a mirror's pages),
     *               failed
     */
    public function publishAll($ns, $progress = null)
    {
        $ids = $this->pagesOf($ns);
        $count = ['published' => 0, 'unchanged' => 0, 'refused' => 0, 'failed' => 0];
        foreach ($ids as $i => $id) {
            $text = $this->wiki->text($id);
            $state = $this->pages->state($id) ?? $this->core->newState($id);
            if (!$this->core->needsPublish($state, $text)) {
                $count['unchanged']++;
            } else {
                $rev = $this->wiki->currentRevision($id);
                try {
                    $d = $this->applier->apply($id, self::localSave($text, $rev['sum'], false, $rev['date'], $rev['user'],
                        $this->wiki->title($id)));
                    $count[$d['outcome']['type'] === 'publish' ? 'published' : 'refused']++;
                } catch (\Throwable $e) {
                    $count['failed']++;
                }
            }
            if ($progress) $progress($i + 1, count($ids), $id);
        }
        foreach ($this->mediaOf($ns) as $id) {
            $bytes = $this->wiki->mediaBytes($id);
            $state = $this->pages->state($id, true) ?? $this->core->newState($id);
            if (!$this->core->mediaNeedsPublish($state, $bytes === null ? null : hash('sha256', $bytes))) {
                $count['unchanged']++;
                continue;
            }
            try {
                $d = $this->applier->apply($id, self::mediaSaved($bytes, $this->wiki->mediaType($id),
                    $this->wiki->mediaAuthor($id), $this->wiki->mediaRevision($id)), [], true);
                $count[$d['outcome']['type'] === 'publish' ? 'published' : 'refused']++;
            } catch (\Throwable $e) {
                $count['failed']++;
            }
        }
        return $count;
    }

    /**
     * The core's mediaSaved input.
     *
     * @param string|null $bytes the file, null: deleted
     * @param string $mediaType
     * @param string|null $user
     * @param int $revision DokuWiki's revision of the file (its time)
     * @return array
     */
    public static function mediaSaved($bytes, $mediaType, $user, $revision)
    {
        return ['type' => 'mediaSaved', 'edit' => [
            'change' => $bytes === null ? ['type' => 'deleted']
                : ['type' => 'file', 'data' => base64_encode($bytes), 'mediaType' => $mediaType],
            'author' => $user === null || $user === '' ? null : $user,
            'summary' => null,
            'revision' => (int)$revision,
        ]];
    }

    /**
     * The core's localSave input.
     *
     * @param string|null $text null: a deletion
     * @param string $summary
     * @param bool $minor
     * @param int $revision DokuWiki's revision (the save time)
     * @param string $user '' when anonymous
     * @param string|null $title
     * @return array
     */
    public static function localSave($text, $summary, $minor, $revision, $user, $title)
    {
        return ['type' => 'localSave', 'edit' => [
            'change' => $text === null ? ['type' => 'deleted'] : ['type' => 'text', 'text' => $text],
            'author' => $user === '' ? null : $user,
            'summary' => $summary === '' ? null : $summary,
            'minor' => (bool)$minor,
            'revision' => (int)$revision,
            'title' => $title,
        ]];
    }

    /**
     * Gives every page of namespace $ns the same input (announceSourceMove, sourceGone).
     *
     * @param string $ns
     * @param array $input
     * @param callable|null $progress function (int $done, int $total, string $id)
     * @return int pages whose state changed or that had something to do
     */
    public function each($ns, array $input, $progress = null)
    {
        $all = array_merge(array_map(function ($id) {
            return [$id, false];
        }, $this->pagesOf($ns)), array_map(function ($id) {
            return [$id, true];
        }, $this->mediaOf($ns)));
        $n = 0;
        foreach ($all as $i => [$id, $media]) {
            $d = $this->applier->apply($id, $input, [], $media);
            if ($d['outcome']['type'] !== 'ignore') $n++;
            if ($progress) $progress($i + 1, count($all), $id);
        }
        return $n;
    }
}
