<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;
use dokuwiki\Form\Form;

/**
 * Tells readers where a page comes from: "mirrored from <source>", "being edited at <site>
 * by <editor> until …", "the source went away", or a pending conflict. In the editor, a
 * pending conflict comes with the diff between this site's text and the other site's, and the
 * three choices (keep mine, take theirs, merge).
 */
class action_plugin_wikisync_notice extends ActionPlugin
{
    /** @inheritdoc */
    public function register(EventHandler $controller)
    {
        $controller->register_hook('TPL_ACT_RENDER', 'BEFORE', $this, 'show');
    }

    /**
     * @param Event $event
     */
    public function show(Event $event)
    {
        global $ID;
        $act = $event->data;
        if (!in_array($act, ['show', 'edit', 'preview', 'locked', 'source', 'revisions', 'diff'], true)) return;
        /** @var helper_plugin_wikisync_store $store */
        $store = plugin_load('helper', 'wikisync_store');
        $rule = $store->ruleFor((string)$ID);
        if (!$rule) return;
        $state = $store->pageState($ID);
        $lines = [];
        if ($rule['role'] === 'mirror') {
            $source = $state['followed_source'] ?? null ?: $rule['source'];
            $lines[] = sprintf($this->getLang('mirrored_from'), $this->siteLink($source));
            if (!empty($state['source_gone']) || ($rule['status'] ?? '') === 'gone') {
                $lines[] = sprintf($this->getLang('source_gone'), $this->siteLink($source));
            }
        }
        // who edits the page elsewhere: the core's lock state (an unlock or expiry ends it)
        $lock = $state['lock'] ?? [];
        if (($lock['type'] ?? '') === 'awaiting_remote_save' && (int)$lock['expires'] > time()) {
            $lines[] = sprintf($this->getLang('edited_elsewhere'), $this->siteLink((string)$lock['site']),
                hsc($lock['editor'] ?? '?'), dformat((int)$lock['expires']));
        }
        $notice = $store->pageExtra($ID, 'notice');
        $since = (int)($notice['time'] ?? 0);
        switch ($notice['type'] ?? '') {
            case 'lock_lost':
                // until the winner's edit ends (its unlock, or its lock lapsing)
                if (($lock['type'] ?? '') === 'awaiting_remote_save' && (int)$lock['expires'] > time()
                    && (string)$lock['site'] === (string)$notice['site']) {
                    $lines[] = sprintf($this->getLang('lock_lost'), $this->siteLink((string)$notice['site']),
                        hsc($notice['editor'] ?? '?'));
                }
                break;
            case 'conflict_reported':
                if ($since > time() - 3600) {
                    $lines[] = sprintf($this->getLang('conflict_reported'), $this->siteLink((string)$notice['site']));
                }
                break;
        }
        $conflict = is_array($state['conflict'] ?? null) ? $state['conflict'] : null;
        if ($conflict) {
            $lines[] = sprintf($this->getLang('conflict_pending'),
                $this->siteLink((string)($conflict['revision']['site'] ?? '?')));
            if ($act === 'show' && auth_quickaclcheck($ID) >= AUTH_EDIT) {
                $lines[] = '<a href="' . wl($ID, ['do' => 'edit']) . '">' . hsc($this->getLang('conflict_resolve')) . '</a>';
            }
        }
        if ($lines) echo '<div class="plugin_wikisync_notice">' . implode('<br />', $lines) . '</div>';
        if ($conflict && in_array($act, ['edit', 'preview'], true) && auth_quickaclcheck($ID) >= AUTH_EDIT) {
            $this->conflictPanel($conflict);
        }
    }

    /**
     * The diff between the two sides of the conflict, and the three choices.
     *
     * A conflict from a remote revision: this site's text (left) against the other site's.
     * A conflict from a save here that did not merge with a change made while the editor was
     * open: the editor's text (as just posted, else as kept when the save was refused)
     * against the page's text now; "Keep mine" then posts the editor's text along.
     *
     * @param array $conflict the core's PendingConflict
     */
    protected function conflictPanel(array $conflict)
    {
        global $ID, $INPUT, $TEXT;
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        $site = (string)($conflict['revision']['site'] ?? '?');
        $saveConflict = helper_plugin_wikisync_sync::isSaveConflict($conflict);
        $mine = null;
        if ($saveConflict) {
            if ($INPUT->post->has('wikitext') && is_string($TEXT)) {
                $mine = $TEXT;
            } else {
                $mine = $sync->store()->pageExtra($ID, 'editor_text')['text'] ?? null;
            }
            $left = $this->getLang('conflict_yours');
            $right = sprintf($this->getLang('conflict_now'), (string)($conflict['left'] ?? $site));
        } else {
            $mine = $sync->pageText($ID);
            $left = sprintf($this->getLang('conflict_here'), $sync->store()->siteId());
            $right = sprintf($this->getLang('conflict_there'), $site);
        }
        $theirs = (string)$conflict['text'];

        echo '<div class="plugin_wikisync_conflict">';
        echo '<p>' . ($saveConflict ? $this->getLang('conflict_intro_save')
                : sprintf($this->getLang('conflict_intro'), $this->siteLink($site))) . '</p>';
        if ($mine !== null || !$saveConflict) {
            $diff = new Diff(explode("\n", (string)$mine), explode("\n", $theirs));
            $formatter = new TableDiffFormatter();
            echo '<div class="table"><table class="diff diff_sidebyside">';
            echo '<tr><th colspan="2">' . hsc($left) . '</th>'
                . '<th colspan="2">' . hsc($right) . '</th></tr>';
            echo $formatter->format($diff);
            echo '</table></div>';
        }

        $form = new Form(['method' => 'post', 'action' => wl($ID, '', false, '&'), 'class' => 'plugin_wikisync_choices']);
        $form->setHiddenField('id', $ID);
        $form->setHiddenField('do', 'wikisync_conflict');
        if ($saveConflict && $mine !== null) $form->setHiddenField('wikitext', $mine);
        $form->addTagOpen('div')->addClass('no');
        foreach (['mine', 'theirs', 'merge'] as $choice) {
            if ($choice === 'mine' && $saveConflict && $mine === null) continue; // nothing to keep
            $form->addButton('choice', $this->getLang('choice_' . $choice))
                ->attrs(['type' => 'submit', 'value' => $choice, 'title' => $this->getLang('choice_' . $choice . '_title')]);
        }
        $form->addTagClose('div');
        echo $form->toHTML();
        echo '</div>';
    }

    /**
     * @param string $site
     * @return string HTML
     */
    protected function siteLink($site)
    {
        if (preg_match('#^https?://#', $site)) return '<a href="' . hsc($site) . '" class="urlextern">' . hsc($site) . '</a>';
        return hsc($site);
    }
}
