<?php
/**
 * English language file for the wikisync plugin
 */
$lang['menu']             = 'wikisync: mirrors and subscriptions';
$lang['noext']            = 'The wikisync PHP extension is not loaded (PHP %s, php.ini: %s), so pages are neither published nor received. Build it (cargo build --release -p wikisync-php) and add "extension=/path/to/libwikisync_php.so" to the php.ini of the web server\'s PHP, then restart it.';
$lang['nogateway']        = 'No gateway URL is configured (Configuration Manager → wikisync).';
$lang['mirror_readonly']  = 'This page is a read-only mirror of %s: edit it there.';
$lang['mirrored_from']    = 'This page is mirrored from %s and is read-only here.';
$lang['source_gone']      = 'Its source %s has gone away; the copy here is no longer updated.';
$lang['edited_elsewhere'] = 'This page is being edited by %s at %s until %s.';
$lang['conflict_pending'] = 'A change from another site could not be merged with this page; edit the page to resolve it.';
$lang['refused']          = 'wikisync refused the change (%s).';

$lang['ext_ok']           = 'The wikisync extension is loaded.';
$lang['h_gateway']        = 'Gateway';
$lang['h_namespaces']     = 'Namespaces';
$lang['h_health']         = 'Health';
$lang['h_add_source']     = 'Publish a namespace (this site is its source)';
$lang['h_add_mirror']     = 'Mirror a namespace from another site';
$lang['gateway_url']      = 'Gateway URL';
$lang['gateway_token']    = 'Publisher token';
$lang['site_id']          = 'This site\'s id';
$lang['configure']        = 'Change in the Configuration Manager';
$lang['token_set']        = 'set (hidden)';
$lang['token_unset']      = 'not set';
$lang['gateway_up']       = 'reachable';
$lang['gateway_down']     = 'unreachable: %s';
$lang['namespace']        = 'Namespace';
$lang['role']             = 'Role here';
$lang['node']             = 'Node';
$lang['source']           = 'Source site';
$lang['when_gone']        = 'If the source goes away';
$lang['status']           = 'Status';
$lang['last_sync']        = 'Last sync';
$lang['none']             = 'No namespace is synced yet.';
$lang['remove']           = 'Remove';
$lang['sync_now']         = 'Sync now';
$lang['publish_all']      = 'Publish all pages';
$lang['add']              = 'Add';
$lang['keep']             = 'keep the pages';
$lang['delete']           = 'delete the pages';
$lang['queue']            = 'Entries waiting to be published';
$lang['rejected']         = 'Entries the gateway refused';
$lang['retry']            = 'Send now';
$lang['last_publish']     = 'Last publish';
$lang['last_receive']     = 'Last page received';
$lang['refused_count']    = 'Refused callbacks';
$lang['failures']         = 'Recent failures and refusals';
$lang['never']            = 'never';
$lang['done']             = 'Done: %s';
$lang['failed']           = 'Failed: %s';
