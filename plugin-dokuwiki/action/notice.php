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
                if ((int)$notice['until'] > time()) {
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
     * The diff between this site's text and the other site's, and the three choices.
     *
     * @param array $conflict the core's PendingConflict
     */
    protected function conflictPanel(array $conflict)
    {
        global $ID;
        /** @var helper_plugin_wikisync_sync $sync */
        $sync = plugin_load('helper', 'wikisync_sync');
        $here = (string)$sync->pageText($ID);
        $theirs = (string)$conflict['text'];
        $site = (string)($conflict['revision']['site'] ?? '?');

        echo '<div class="plugin_wikisync_conflict">';
        echo '<p>' . sprintf($this->getLang('conflict_intro'), $this->siteLink($site)) . '</p>';
        $diff = new Diff(explode("\n", $here), explode("\n", $theirs));
        $formatter = new TableDiffFormatter();
        echo '<div class="table"><table class="diff diff_sidebyside">';
        echo '<tr><th colspan="2">' . hsc(sprintf($this->getLang('conflict_here'), $sync->store()->siteId())) . '</th>'
            . '<th colspan="2">' . hsc(sprintf($this->getLang('conflict_there'), $site)) . '</th></tr>';
        echo $formatter->format($diff);
        echo '</table></div>';

        $form = new Form(['method' => 'post', 'action' => wl($ID, '', false, '&'), 'class' => 'plugin_wikisync_choices']);
        $form->setHiddenField('id', $ID);
        $form->setHiddenField('do', 'wikisync_conflict');
        $form->addTagOpen('div')->addClass('no');
        foreach (['mine', 'theirs', 'merge'] as $choice) {
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
