<?php
/**
 * English strings for the Configuration Manager
 */
$lang['gateway_url']    = 'Base URL of the wikisync gateway (e.g. http://127.0.0.1:8086)';
$lang['gateway_token']  = 'Publisher token for the gateway (sent as Authorization: Bearer), if it requires one';
$lang['site_id']        = 'This site\'s id in published entries; empty means the wiki\'s base URL';
$lang['timeout']        = 'Seconds a save waits for the gateway before the entry stays queued for a later retry';
$lang['replay_window']  = 'Seconds a callback signature is remembered; a second delivery inside this window is refused';
$lang['index_on_apply'] = 'Add pages received from the gateway to the search index at once';
$lang['media_max_mb']   = 'Largest media file synced, in MB: larger files are neither published nor applied (the admin page lists them)';
$lang['source_grace_days'] = 'A mirrored namespace whose source shows no sign of life (no edit, no heartbeat) for this many days is treated as gone (its "if the source goes away" choice applies); 0: never';
$lang['lease_days']     = 'Subscriptions last this many days and are renewed in time by the plugin';
$lang['heal_interval']  = 'Seconds between checks of this site\'s subscriptions at the gateway (renewal, re-subscription after a drop); cli.php heal checks at once';
