<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;
use dokuwiki\Form\Form;

/**
 * Tells readers what the core says about a page ("mirrored from …", "being edited at … by
 * … until …", "the source went away", a reported or pending conflict). In the editor, a
 * pending conflict comes with the diff between the two sides and the three choices (keep
 * mine, take theirs, merge).
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
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        if (!$sync->isSynced((string)$ID)) return;
        $lines = $sync->noticeLines($ID);
        $conflict = $sync->conflict($ID);
        $canEdit = auth_quickaclcheck($ID) >= AUTH_EDIT;
        if ($conflict && $act === 'show' && $canEdit) {
            $lines[] = '<a href="' . wl($ID, ['do' => 'edit']) . '">' . hsc($this->getLang('conflict_resolve')) . '</a>';
        }
        if ($lines) echo '<div class="plugin_wikisync_notice">' . implode('<br />', $lines) . '</div>';
        if ($conflict && in_array($act, ['edit', 'preview'], true) && $canEdit) $this->conflictPanel($sync, $conflict);
    }

    /**
     * The diff between the two sides of the conflict, and the three choices.
     *
     * A conflict from a remote revision: this site's text (left) against the other site's.
     * A conflict from a save here that did not merge with a change made while the editor was
     * open: the editor's text (as just posted, else as the core kept it) against the page's
     * text now; "Keep mine" then posts the editor's text along.
     *
     * @param helper_plugin_wikisync_sync $sync
     * @param array $conflict the core's PendingConflict
     */
    protected function conflictPanel($sync, array $conflict)
    {
        global $ID, $INPUT, $TEXT;
        $site = (string)($conflict['revision']['site'] ?? '?');
        $saveConflict = $conflict['origin']['type'] === 'localSave';
        if ($saveConflict) {
            $mine = $INPUT->post->has('wikitext') && is_string($TEXT) ? $TEXT : $conflict['origin']['text'];
            $left = $this->getLang('conflict_yours');
            $right = sprintf($this->getLang('conflict_now'), (string)$conflict['left']);
        } else {
            $mine = $sync->wiki->text($ID);
            $left = sprintf($this->getLang('conflict_here'), $sync->siteId());
            $right = sprintf($this->getLang('conflict_there'), $site);
        }
        $theirs = (string)$conflict['text'];

        echo '<div class="plugin_wikisync_conflict">';
        echo '<p>' . ($saveConflict ? $this->getLang('conflict_intro_save')
                : sprintf($this->getLang('conflict_intro'), $sync->siteLink($site))) . '</p>';
        $diff = new Diff(explode("\n", (string)$mine), explode("\n", $theirs));
        $formatter = new TableDiffFormatter();
        echo '<div class="table"><table class="diff diff_sidebyside">';
        echo '<tr><th colspan="2">' . hsc($left) . '</th><th colspan="2">' . hsc($right) . '</th></tr>';
        echo $formatter->format($diff);
        echo '</table></div>';

        $form = new Form(['method' => 'post', 'action' => wl($ID, '', false, '&'), 'class' => 'plugin_wikisync_choices']);
        $form->setHiddenField('id', $ID);
        $form->setHiddenField('do', 'wikisync_conflict');
        if ($saveConflict && $mine !== null) $form->setHiddenField('wikitext', $mine);
        $form->addTagOpen('div')->addClass('no');
        foreach (['mine', 'theirs', 'merge'] as $choice) {
            $form->addButton('choice', $this->getLang('choice_' . $choice))
                ->attrs(['type' => 'submit', 'value' => $choice, 'title' => $this->getLang('choice_' . $choice . '_title')]);
        }
        $form->addTagClose('div');
        echo $form->toHTML();
        echo '</div>';
    }
}
