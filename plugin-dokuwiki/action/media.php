<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;
use dokuwiki\plugin\wikisync\classes\Bulk;
use dokuwiki\plugin\wikisync\classes\Wiki;

/**
 * Media files: an upload, overwrite or deletion in a synced namespace (the media manager,
 * XML-RPC `wiki.putAttachment` / `wiki.deleteAttachment`) goes to the core (`mediaSaved`),
 * which publishes it; and other sites fetch the files this site sends by reference at
 * `lib/exe/ajax.php?call=wikisync_media&media=…&rev=…&sha256=…`, answered only for a version
 * of a synced file whose SHA-256 is the one asked (the hash is the capability).
 */
class action_plugin_wikisync_media extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('MEDIA_UPLOAD_FINISH', 'AFTER', $this, 'uploaded');
        $controller->register_hook('MEDIA_DELETE_FILE', 'AFTER', $this, 'deleted');
        $controller->register_hook('AJAX_CALL_UNKNOWN', 'BEFORE', $this, 'serve');
    }

    /**
     * @return helper_plugin_wikisync_sync
     */
    protected function sync()
    {
        return plugin_load('helper', 'wikisync_sync');
    }

    /**
     * @param Event $event MEDIA_UPLOAD_FINISH: data [tmp, file, id, mime, overwrite, move]
     */
    public function uploaded(Event $event)
    {
        if (Wiki::isApplying() || !is_string($event->result)) return; // from the gateway, or failed
        $id = (string)$event->data[2];
        $sync = $this->sync();
        if (!$sync->isSynced($id)) return;
        $bytes = $sync->wiki->mediaBytes($id);
        if ($bytes === null) return;
        $this->publish($id, Bulk::mediaSaved($bytes, (string)$event->data[3], $this->user(), $sync->wiki->mediaRevision($id)));
    }

    /**
     * @param Event $event MEDIA_DELETE_FILE: data id, unl (whether the file was removed)
     */
    public function deleted(Event $event)
    {
        if (Wiki::isApplying() || empty($event->data['unl'])) return;
        $id = (string)$event->data['id'];
        if (!$this->sync()->isSynced($id)) return;
        $this->publish($id, Bulk::mediaSaved(null, '', $this->user(), time()));
    }

    /**
     * @return string the user uploading or deleting ('' when anonymous)
     */
    protected function user()
    {
        global $INPUT;
        return $INPUT->server->str('REMOTE_USER');
    }

    /**
     * Gives the core the media input; a refusal (a file over the size limit) is shown to the
     * user and recorded for the admin page; what is published is sent at once.
     *
     * @param string $id
     * @param array $input
     */
    protected function publish($id, array $input)
    {
        $sync = $this->sync();
        $d = $sync->localInput($id, function () use ($input) {
            return $input;
        }, 'media upload of', $sync->messageHandlers(), true);
        if ($d !== null && $d['outcome']['type'] === 'refuse') {
            foreach ($d['actions'] as $action) {
                if ($action['type'] === 'showNotice') {
                    $sync->health->record('refused', "$id: " . strip_tags($sync->noticeHtml($action['notice'])));
                }
            }
        }
        $sync->flushBriefly();
    }

    /**
     * Serves a media file version to another site fetching it by reference.
     *
     * @param Event $event
     */
    public function serve(Event $event)
    {
        if ($event->data !== 'wikisync_media') return;
        $event->preventDefault();
        $event->stopPropagation();
        global $INPUT;
        $sync = $this->sync();
        $id = cleanID($INPUT->str('media'));
        $sha256 = strtolower($INPUT->str('sha256'));
        $bytes = null;
        if ($id !== '' && preg_match('/^[0-9a-f]{64}$/', $sha256) && $sync->isSynced($id)) {
            $bytes = $sync->wiki->mediaVersion($id, $sha256);
        }
        if ($bytes === null) {
            http_status(404);
            header('Content-Type: application/json');
            echo json_encode(['status' => 'refused', 'reason' => 'not_found']);
            return;
        }
        header('Content-Type: ' . $sync->wiki->mediaType($id));
        header('Content-Length: ' . strlen($bytes));
        header('Cache-Control: private, max-age=86400');
        echo $bytes;
    }
}
