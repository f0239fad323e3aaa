<?php

use dokuwiki\Extension\ActionPlugin;
use dokuwiki\Extension\Event;
use dokuwiki\Extension\EventHandler;

/**
 * Tells readers where a page comes from: "mirrored from <source>", "being edited at <site>
 * by <editor> until …", "the source went away", or a pending conflict.
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
        if (!in_array($event->data, ['show', 'edit', 'source', 'revisions', 'diff'], true)) return;
        /** @var helper_plugin_wikisync_store $store */
        $store = plugin_load('helper', 'wikisync_store');
        $rule = $store->ruleFor((string)$ID);
        if (!$rule) return;
        $lines = [];
        if ($rule['role'] === 'mirror') {
            $state = $store->pageState($ID);
            $source = $state['followed_source'] ?? null ?: $rule['source'];
            $lines[] = sprintf($this->getLang('mirrored_from'), $this->siteLink($source));
            if (!empty($state['source_gone']) || ($rule['status'] ?? '') === 'gone') {
                $lines[] = sprintf($this->getLang('source_gone'), $this->siteLink($source));
            }
        }
        $notice = $store->pageExtra($ID, 'notice');
        if ($notice && ($notice['type'] ?? '') === 'edited_elsewhere' && ($notice['until'] ?? 0) > time()) {
            $lines[] = sprintf($this->getLang('edited_elsewhere'), hsc($notice['editor'] ?? '?'),
                $this->siteLink($notice['site']), dformat($notice['until']));
        }
        if ($store->pageExtra($ID, 'conflict')) $lines[] = $this->getLang('conflict_pending');
        if (!$lines) return;
        echo '<div class="plugin_wikisync_notice">' . implode('<br />', $lines) . '</div>';
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
