<?php
/**
 * The plugin's action carrier against a real DokuWiki: every action of the conformance
 * vectors (tests/vectors/decisions.json and locks.json) is carried out by the plugin's
 * Applier on a page of a DokuWiki instance, and what DokuWiki then has is checked: the page's
 * text, its changelog (author, summary, minor, deletion), DokuWiki's lock file (holder and
 * expiry), the outgoing queue (the entry, encoded by the core, for the namespace's node).
 *
 * Usage: php -d extension=wikisync.so plugin_carrier.php DOKU_DIR VECTORS_DIR
 * Prints one JSON object: {"checks": n, "failures": [...]}; exits 1 when a check failed.
 */
if ($argc < 3) {
    fwrite(STDERR, "usage: php plugin_carrier.php DOKU_DIR VECTORS_DIR\n");
    exit(2);
}
define('DOKU_INC', rtrim($argv[1], '/') . '/');
define('NOSESSION', 1);
require_once DOKU_INC . 'inc/init.php';
$vectors = rtrim($argv[2], '/');
global $conf;

/** @var helper_plugin_wikisync_sync $sync */
$sync = plugin_load('helper', 'wikisync_sync');
if (!$sync->core->isAvailable()) {
    fwrite(STDERR, $sync->core->problem() . "\n");
    exit(2);
}
$node = 'xmpp:pubsub.carrier.example?;node=carrier';
$sync->rules->set('carrier', ['role' => ['type' => 'peer'], 'readOnly' => false, 'node' => $node, 'status' => 'active']);

$checks = 0;
$failures = [];
$check = function ($ok, $case, $what) use (&$checks, &$failures) {
    $checks++;
    if (!$ok) $failures[] = "$case: $what";
};

/** The last line of a page's changelog, as DokuWiki's own changelog reader gives it. */
$lastChange = function ($id) {
    $log = new \dokuwiki\ChangeLog\PageChangeLog($id);
    $revs = $log->getRevisions(-1, 1);
    return $revs ? $log->getRevisionInfo($revs[0]) : null;
};

/**
 * Carries out $actions on page $id (the ones the Applier carries out itself) and checks
 * what DokuWiki has after each.
 */
$run = function ($case, $id, array $actions) use ($sync, $check, $lastChange, $node) {
    global $conf;
    foreach ($actions as $i => $action) {
        $label = "$case, action $i ({$action['type']})";
        $queued = $sync->queue->files();
        $existed = file_exists(wikiFN($id));
        if (in_array($action['type'], \dokuwiki\plugin\wikisync\classes\Applier::HANDED_BACK, true)) continue;
        if ($action['type'] === 'unlockPage') {
            // a lock somebody else holds stays; the remote editor's own lock goes
            $sync->wiki->lock($id, 'someone else', 'https://elsewhere.example/', time() + 600);
            $sync->applier->carryOut($id, $action);
            $check(is_file(wikiLockFN($id)), $label, 'removed a lock the action did not name');
            $sync->wiki->lock($id, $action['editor'], $action['site'], time() + 600);
        }
        $sync->applier->carryOut($id, $action);
        clearstatcache();
        switch ($action['type']) {
            case 'writePage':
                $check(io_readFile(wikiFN($id), false) === $action['text'], $label, 'page text');
                $last = $lastChange($id);
                $check(($last['user'] ?? null) === ($action['author'] ?? 'wikisync'), $label, 'changelog author ' . json_encode($last['user'] ?? null));
                $check(($last['sum'] ?? null) === (string)$action['summary'], $label, 'changelog summary');
                $type = !$existed ? DOKU_CHANGE_TYPE_CREATE : ($action['minor'] ? DOKU_CHANGE_TYPE_MINOR_EDIT : DOKU_CHANGE_TYPE_EDIT);
                $check(($last['type'] ?? null) === $type, $label, 'changelog type ' . json_encode($last['type'] ?? null));
                break;
            case 'deletePage':
                $check(!file_exists(wikiFN($id)), $label, 'page still exists');
                $last = $lastChange($id);
                $check(($last['type'] ?? null) === DOKU_CHANGE_TYPE_DELETE, $label, 'changelog type');
                $check(($last['user'] ?? null) === ($action['author'] ?? 'wikisync'), $label, 'changelog author');
                break;
            case 'lockPage':
                $file = wikiLockFN($id);
                $check(is_file($file) && io_readFile($file, false) === ($action['editor'] ?? '?') . ' @ ' . $action['site'],
                    $label, 'lock file holder');
                $check(@filemtime($file) === (int)$action['until'] - (int)$conf['locktime'], $label, 'lock expiry');
                break;
            case 'unlockPage':
                $check(!is_file(wikiLockFN($id)), $label, 'the remote editor\'s lock stays');
                break;
            case 'publish':
                $new = array_values(array_diff($sync->queue->files(), $queued));
                $check(count($new) === 1, $label, 'one entry queued');
                $job = $new ? json_decode(file_get_contents($new[0]), true) : [];
                $check(($job['node'] ?? null) === $node, $label, 'queued for the namespace\'s node');
                $check(($job['page'] ?? null) === $id, $label, 'queued for the page');
                $decoded = isset($job['xml']) ? $sync->core->decode($job['xml']) : null;
                $check($decoded !== null && $decoded['kind'] === $action['entry']['kind']
                    && $decoded['revision'] === $action['entry']['revision'], $label, 'the entry queued is the one published');
                foreach ($new as $f) @unlink($f);
                break;
            case 'recordConflict':
            case 'clearConflict':
                $check(true, $label, '');
                break;
        }
    }
};

/**
 * Carries out the media actions of $actions on media file $id and checks the file and the
 * media changelog. Files sent by reference point at sites that do not exist here: the fetch
 * fails, the action fails, and nothing is written.
 */
$runMedia = function ($case, $id, array $actions) use ($sync, $check) {
    foreach ($actions as $i => $action) {
        $label = "$case, action $i ({$action['type']})";
        if (!in_array($action['type'], ['writeMedia', 'deleteMedia'], true)) continue;
        $before = $sync->wiki->mediaBytes($id);
        $failed = false;
        try {
            $sync->applier->carryOut($id, $action);
        } catch (\Throwable $e) {
            $failed = true;
        }
        clearstatcache();
        $log = new \dokuwiki\ChangeLog\MediaChangeLog($id);
        $revs = $log->getRevisions(-1, 1);
        $last = $revs ? $log->getRevisionInfo($revs[0]) : null;
        if ($action['type'] === 'deleteMedia') {
            $check(!$failed && $sync->wiki->mediaBytes($id) === null, $label, 'the file is gone');
            if ($before !== null) $check(($last['type'] ?? null) === DOKU_CHANGE_TYPE_DELETE, $label, 'changelog type');
        } elseif ($action['data'] === null) {
            $check($failed && $sync->wiki->mediaBytes($id) === $before, $label, 'an unfetchable file writes nothing');
        } else {
            $check(!$failed && $sync->wiki->mediaBytes($id) === base64_decode($action['data']), $label, 'the file\'s bytes');
            $check(($last['user'] ?? null) === ($action['author'] ?? 'wikisync'), $label, 'media changelog author');
            // the same file with a wrong hash or size: refused, nothing written
            foreach ([['sha256' => str_repeat('0', 64)], ['size' => $action['size'] + 1]] as $k => $bad) {
                $corrupt = array_merge($action, $bad, ['data' => base64_encode("other bytes $k")]);
                $refused = false;
                try {
                    $sync->applier->carryOut($id, $corrupt);
                } catch (\WikiSync\MediaException $e) {
                    $refused = true;
                }
                $check($refused && $sync->wiki->mediaBytes($id) === base64_decode($action['data']), $label,
                    'a corrupt file is refused and nothing written');
            }
        }
    }
};

$n = 0;
foreach (json_decode(file_get_contents("$vectors/decisions.json"), true)['cases'] as $case) {
    $id = 'carrier:decision' . $n++;
    // written as the gateway writes (no save hook publishes it, no state is stored)
    if ($case['localText'] !== null) $sync->wiki->write($id, $case['localText'], 'setup', 'before', false);
    $run($case['name'], $id, $case['expected']['actions']);
}
foreach (json_decode(file_get_contents("$vectors/locks.json"), true)['cases'] as $case) {
    $id = 'carrier:trace' . $n++;
    // DokuWiki stores only media types it knows, and checks that an image's bytes are one:
    // the vectors' files are a few bytes, written as a type DokuWiki does not inspect
    $ext = 'zip';
    foreach ($case['steps'] as $k => $step) {
        $actions = $step['expected']['actions'];
        $media = array_filter($actions, function ($a) {
            return in_array($a['type'], ['writeMedia', 'deleteMedia'], true);
        });
        if ($media) {
            $runMedia("{$case['name']} step $k", "$id.$ext", $actions);
        } else {
            $run("{$case['name']} step $k", $id, $actions);
        }
    }
}
// One apply path: the actions first, then the state. A publish that cannot be queued fails
// the input, and the page's state is not stored: the save is still "to be published".
$id = 'carrier:unqueued';
$sync->wiki->write($id, "text\n", 'setup', 'before', false);
$queueDir = $conf['metadir'] . '/_wikisync/queue';
io_rmdir($queueDir, true);
file_put_contents($queueDir, 'not a directory');
$failed = false;
try {
    $sync->applier->apply($id, \dokuwiki\plugin\wikisync\classes\Bulk::localSave("text\n", '', false, time(), 'carrier', null));
} catch (\Throwable $e) {
    $failed = true;
}
$check($failed, 'unqueued', 'a publish that cannot be queued fails the input');
$check($sync->pages->state($id) === null, 'unqueued', 'the state of a failed input is not stored');
unlink($queueDir);
$d = $sync->applier->apply($id, \dokuwiki\plugin\wikisync\classes\Bulk::localSave("text\n", '', false, time(), 'carrier', null));
$check($d['outcome']['type'] === 'publish' && count($sync->queue->files()) === 1, 'unqueued', 'published once the queue works');
$check($sync->pages->state($id) !== null && !$sync->core->needsPublish($sync->pages->state($id), "text\n"),
    'unqueued', 'the state is stored after the actions');

echo json_encode(['checks' => $checks, 'failures' => $failures], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n";
exit($failures ? 1 : 0);
