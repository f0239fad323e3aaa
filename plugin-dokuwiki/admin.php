<?php

use dokuwiki\Extension\AdminPlugin;
use dokuwiki\Form\Form;

/**
 * Admin page: the extension's state, the gateway, the sync table (namespace ↔ node, this
 * site's role, source and keep/delete policy) and health (queue, last sync, failures).
 */
class admin_plugin_wikisync extends AdminPlugin
{
    /** @var helper_plugin_wikisync_sync */
    protected $sync;

    /** @var string[] messages of the action just taken */
    protected $done = [];

    public function __construct()
    {
        $this->sync = plugin_load('helper', 'wikisync_sync');
    }

    /** @inheritdoc */
    public function getMenuSort()
    {
        return 600;
    }

    /** @inheritdoc */
    public function getMenuText($language)
    {
        return $this->getLang('menu');
    }

    /** @inheritdoc */
    public function handle()
    {
        global $INPUT;
        $act = $INPUT->post->str('wikisync_do');
        if ($act === '' || !checkSecurityToken()) return;
        $ns = cleanID($INPUT->post->str('ns'));
        $node = trim($INPUT->post->str('node'));
        $gateway = trim($INPUT->post->str('gateway'));
        $where = ['node' => $node === '' ? null : $node, 'gateway' => $gateway === '' ? null : $gateway];
        $token = trim($INPUT->post->str('token'));
        $options = $token === '' ? [] : ['token' => $token];
        $sync = $this->sync;
        switch ($act) {
            case 'source':
                $r = $sync->setup->run($ns, ['type' => 'source'] + $where, $options);
                $this->report($r['ok'], $r['ok'] ? "'$ns' → {$r['node']}" : $r['error']);
                break;
            case 'relocate':
                $r = $sync->setup->run($ns, ['type' => 'relocate'] + $where, $options);
                $this->report($r['ok'], $r['ok'] ? "'$ns' → {$r['node']} ({$r['gateway']})" : $r['error']);
                break;
            case 'mirror':
                $r = $sync->setup->run($ns, ['type' => 'mirror', 'node' => $node,
                    'source' => trim($INPUT->post->str('source')), 'whenGone' => $INPUT->post->str('when_gone')]);
                $this->report($r['ok'], $r['ok'] ? "'$ns'" : $r['error']);
                break;
            case 'peer':
                $r = $sync->setup->run($ns, ['type' => 'peer', 'node' => $node === '' ? null : $node]);
                $this->report($r['ok'], $r['ok'] ? "'$ns' → {$r['node']}" : $r['error']);
                break;
            case 'sync':
                $c = $sync->firstSync->pull($ns);
                $this->report($c['error'] === '', $c['error'] ?: "'$ns'");
                break;
            case 'publish':
                $c = $sync->bulk->publishAll($ns);
                $f = $sync->queue->flush(10, 60.0);
                $this->report($f['error'] === '', $f['error'] ?: sprintf('%d / %d', $c['published'], $f['sent']));
                break;
            case 'remove':
                $r = $sync->setup->run($ns, ['type' => 'remove']);
                $this->report($r['ok'], $r['error'] ?: "'$ns'");
                break;
            case 'heal':
                $done = $sync->heal->checkAll(0);
                $failed = array_filter(array_column($done, 'error'));
                $this->report(!$failed, implode(', ', array_map(function ($ns, $r) {
                    return "'$ns': {$r['step']}" . ($r['error'] === '' ? '' : " ({$r['error']})");
                }, array_keys($done), $done)) ?: '-');
                break;
            case 'flush':
                $f = $sync->queue->flush(10, 60.0);
                $this->report($f['error'] === '', $f['error'] ?: (string)$f['sent']);
                break;
        }
    }

    /**
     * @param bool $ok
     * @param string $what
     */
    protected function report($ok, $what)
    {
        msg(sprintf($this->getLang($ok ? 'done' : 'failed'), hsc($what)), $ok ? 1 : -1);
    }

    /** @inheritdoc */
    public function html()
    {
        $core = $this->sync->core;
        $rules = $this->sync->rules;
        echo '<div class="plugin_wikisync_admin">';
        echo '<h1>' . hsc($this->getLang('menu')) . '</h1>';
        if ($core->isAvailable()) {
            echo '<p class="wikisync_good">' . hsc($this->getLang('ext_ok')) . '</p>';
        } else {
            echo '<div class="error">' . hsc($core->problem()) . '</div>';
        }

        // gateway
        echo '<h2>' . hsc($this->getLang('h_gateway')) . '</h2>';
        $gw = $this->sync->gateway;
        $h = $gw->isConfigured() ? $gw->health() : ['ok' => false, 'error' => $this->getLang('nogateway')];
        echo '<table class="inline">';
        $this->row($this->getLang('gateway_url'), '<code>' . hsc($this->getConf('gateway_url') ?: '-') . '</code> '
            . ($h['ok'] ? '<span class="wikisync_good">' . hsc($this->getLang('gateway_up')) . '</span>'
                : '<span class="wikisync_bad">' . hsc(sprintf($this->getLang('gateway_down'), $h['error'])) . '</span>'));
        $this->row($this->getLang('gateway_token'),
            hsc($this->getConf('gateway_token') !== '' ? $this->getLang('token_set') : $this->getLang('token_unset')));
        $this->row($this->getLang('site_id'), '<code>' . hsc($this->sync->siteId()) . '</code>');
        echo '</table>';
        echo '<p><a href="' . wl('', ['do' => 'admin', 'page' => 'config'], false, '&') . '#plugin____wikisync____plugin_settings_name">'
            . hsc($this->getLang('configure')) . '</a></p>';

        // namespaces
        echo '<h2>' . hsc($this->getLang('h_namespaces')) . '</h2>';
        if (!$rules->all()) {
            echo '<p>' . hsc($this->getLang('none')) . '</p>';
        } else {
            echo '<table class="inline"><tr>';
            foreach (['namespace', 'role', 'node', 'source', 'when_gone', 'status', 'subscription', 'last_callback', 'last_sync', ''] as $k) {
                echo '<th>' . ($k === '' ? '' : hsc($this->getLang($k))) . '</th>';
            }
            echo '</tr>';
            $callbacks = $this->sync->health->get()['callback'] ?? [];
            foreach ($rules->all() as $ns => $rule) {
                $role = $rule['role'];
                echo '<tr><td><code>' . hsc($ns === '' ? '*' : $ns) . '</code></td>';
                echo '<td>' . (isset($role['source']) ? sprintf($this->getLang('role_mirror_of'),
                        $this->sync->siteLink((string)$role['source'])) : hsc($role['type'])) . '</td>';
                echo '<td><code>' . hsc($rule['node'] ?? '') . '</code>'
                    . (isset($rule['gateway']) ? '<br><small>' . sprintf($this->getLang('on_gateway'), '<code>'
                        . hsc($rule['gateway']) . '</code>') . '</small>' : '') . '</td>';
                echo '<td>' . hsc($role['source'] ?? '') . '</td>';
                echo '<td>' . (isset($role['whenGone']) ? hsc($this->getLang($role['whenGone'])) : '') . '</td>';
                $status = $rule['status'] ?? 'active';
                echo '<td class="' . ($status === 'active' ? 'wikisync_good' : 'wikisync_bad') . '">' . hsc($status) . '</td>';
                echo '<td>' . $this->subscription($rule) . '</td>';
                echo '<td>' . (isset($callbacks[$ns]) ? dformat($callbacks[$ns]) : hsc($this->getLang('never'))) . '</td>';
                echo '<td>' . (!empty($rule['last_sync']) ? dformat($rule['last_sync']) : hsc($this->getLang('never'))) . '</td>';
                echo '<td>';
                $this->button('publish', $ns, $this->getLang('publish_all'));
                $this->button('sync', $ns, $this->getLang('sync_now'));
                $this->button('remove', $ns, $this->getLang('remove'));
                echo '</td></tr>';
            }
            echo '</table>';
            if ($this->hasSubscriptions()) $this->button('heal', '', $this->getLang('heal_now'));
        }

        // conflicts
        $conflicts = $this->sync->conflictedPages();
        echo '<h2>' . hsc($this->getLang('h_conflicts')) . '</h2>';
        if (!$conflicts) {
            echo '<p>' . hsc($this->getLang('no_conflicts')) . '</p>';
        } else {
            echo '<ul class="plugin_wikisync_conflicts">';
            foreach ($conflicts as $id => $conflict) {
                echo '<li><div class="li"><a href="' . wl($id, ['do' => 'edit']) . '">' . hsc($id) . '</a> '
                    . sprintf($this->getLang('conflict_with'), $this->sync->siteLink((string)($conflict['revision']['site'] ?? '?')))
                    . '</div></li>';
            }
            echo '</ul>';
        }

        // health
        echo '<h2>' . hsc($this->getLang('h_health')) . '</h2>';
        $health = $this->sync->health->get();
        $when = function ($k) use ($health) {
            return isset($health['last'][$k])
                ? dformat($health['last'][$k]) . ' (' . (int)$health['count'][$k] . ')' : hsc($this->getLang('never'));
        };
        $queued = $this->sync->queue->length();
        echo '<table class="inline">';
        $this->row($this->getLang('queue'), '<span class="' . ($queued ? 'wikisync_bad' : 'wikisync_good') . '">' . $queued . '</span>');
        $this->row($this->getLang('rejected'), (string)$this->sync->queue->rejectedCount());
        $this->row($this->getLang('last_publish'), $when('publish'));
        $this->row($this->getLang('last_receive'), $when('receive'));
        $this->row($this->getLang('last_sync'), $when('sync'));
        $this->row($this->getLang('refused_count'), (string)(int)($health['count']['refused'] ?? 0));
        $this->row($this->getLang('ignored_count'), (string)(int)($health['count']['ignored'] ?? 0));
        echo '</table>';
        if ($queued) $this->button('flush', '', $this->getLang('retry'));
        if (!empty($health['failures'])) {
            echo '<h3>' . hsc($this->getLang('failures')) . '</h3><ul>';
            foreach (array_reverse($health['failures']) as $f) {
                echo '<li><div class="li">' . dformat($f['time']) . ' <b>' . hsc($f['kind']) . '</b>: ' . hsc($f['message']) . '</div></li>';
            }
            echo '</ul>';
        }

        // forms
        echo '<h2>' . hsc($this->getLang('h_add_source')) . '</h2>';
        $form = $this->form('source');
        $form->addTextInput('ns', $this->getLang('namespace'));
        $form->addTextInput('node', $this->getLang('node') . ' (optional)');
        $form->addTextInput('gateway', $this->getLang('other_gateway'));
        $form->addPasswordInput('token', $this->getLang('other_token'));
        $form->addButton('', $this->getLang('add'))->attr('type', 'submit');
        echo $form->toHTML();

        echo '<h2>' . hsc($this->getLang('h_relocate')) . '</h2>';
        echo '<p>' . hsc($this->getLang('relocate_intro')) . '</p>';
        $form = $this->form('relocate');
        $form->addTextInput('ns', $this->getLang('namespace'));
        $form->addTextInput('node', $this->getLang('relocate_node'));
        $form->addTextInput('gateway', $this->getLang('other_gateway'));
        $form->addPasswordInput('token', $this->getLang('other_token'));
        $form->addButton('', $this->getLang('relocate'))->attr('type', 'submit');
        echo $form->toHTML();

        echo '<h2>' . hsc($this->getLang('h_add_mirror')) . '</h2>';
        $form = $this->form('mirror');
        $form->addTextInput('ns', $this->getLang('namespace'));
        $form->addTextInput('node', $this->getLang('node'));
        $form->addTextInput('source', $this->getLang('source'));
        $form->addDropdown('when_gone', ['keep' => $this->getLang('keep'), 'delete' => $this->getLang('delete')],
            $this->getLang('when_gone'));
        $form->addButton('', $this->getLang('add'))->attr('type', 'submit');
        echo $form->toHTML();

        echo '<h2>' . hsc($this->getLang('h_add_peer')) . '</h2>';
        $form = $this->form('peer');
        $form->addTextInput('ns', $this->getLang('namespace'));
        $form->addTextInput('node', $this->getLang('peer_node_hint'));
        $form->addButton('', $this->getLang('add'))->attr('type', 'submit');
        echo $form->toHTML();
        echo '</div>';
    }

    /**
     * A subscription's state as the gateway last told it: active (until when), pending,
     * dropped since when and why, or unreachable.
     *
     * @param array $rule
     * @return string HTML
     */
    protected function subscription(array $rule)
    {
        if (!empty($rule['gone'])) {
            $gone = $rule['gone'];
            $text = empty($gone['silentSince']) ? sprintf($this->getLang('gone_deleted'), dformat($gone['at']))
                : sprintf($this->getLang('gone_silent'), dformat($gone['silentSince']), dformat($gone['at']));
            return '<span class="wikisync_bad">' . hsc($text) . '</span>';
        }
        if (empty($rule['secret'])) {
            return empty($rule['heartbeat']) ? ''
                : hsc(sprintf($this->getLang('heartbeat_sent'), dformat($rule['heartbeat'])));
        }
        $report = $rule['report'] ?? null;
        $checked = empty($rule['checked']) ? '' : ' <small>(' . sprintf($this->getLang('checked'), dformat($rule['checked'])) . ')</small>';
        if (!is_array($report)) {
            $until = empty($rule['expires']) ? '' : sprintf($this->getLang('sub_until'), dformat($rule['expires']));
            return hsc($this->getLang('sub_unchecked') . ' ' . $until);
        }
        switch ($report['type']) {
            case 'active':
                $text = $this->getLang('sub_active') . (empty($report['expires']) ? ''
                    : ' ' . sprintf($this->getLang('sub_until'), dformat($report['expires'])));
                $seen = empty($report['sourceSeen']) ? ''
                    : '<br><small>' . hsc(sprintf($this->getLang('source_seen'), dformat($report['sourceSeen']))) . '</small>';
                return '<span class="wikisync_good">' . hsc($text) . '</span>' . $checked . $seen;
            case 'dropped':
                $why = $this->getLang('drop_' . $report['reason']);
                $text = sprintf($this->getLang('sub_dropped'), dformat($report['at']),
                    ($why === '' ? '' : "$why ") . "({$report['reason']})");
                return '<span class="wikisync_bad">' . hsc($text) . '</span>' . $checked;
            default:
                return '<span class="wikisync_bad">' . hsc($this->getLang('sub_' . $report['type'])) . '</span>' . $checked;
        }
    }

    /**
     * @return bool whether this site receives any namespace (has a subscription to check)
     */
    protected function hasSubscriptions()
    {
        foreach ($this->sync->rules->all() as $rule) {
            if (!empty($rule['secret'])) return true;
        }
        return false;
    }

    /**
     * @param string $label
     * @param string $html
     */
    protected function row($label, $html)
    {
        echo '<tr><th>' . hsc($label) . '</th><td>' . $html . '</td></tr>';
    }

    /**
     * @param string $do
     * @return Form
     */
    protected function form($do)
    {
        $form = new Form(['method' => 'post', 'action' => wl('', ['do' => 'admin', 'page' => 'wikisync'], false, '&')]);
        $form->setHiddenField('wikisync_do', $do);
        return $form;
    }

    /**
     * A one-button form.
     *
     * @param string $do
     * @param string $ns
     * @param string $label
     */
    protected function button($do, $ns, $label)
    {
        $form = $this->form($do);
        $form->addTagOpen('div')->addClass('no');
        $form->setHiddenField('ns', $ns);
        $form->addButton('', $label)->attr('type', 'submit');
        $form->addTagClose('div');
        echo $form->toHTML();
    }
}
