<?php
/**
 * Default settings for the wikisync plugin
 */
$conf['gateway_url']    = '';     // base URL of the wikisync gateway, e.g. http://127.0.0.1:8086
$conf['gateway_token']  = '';     // publisher token (Authorization: Bearer), if the gateway requires one
$conf['site_id']        = '';     // this site's id in entries; empty = the wiki's base URL
$conf['timeout']        = 3;      // seconds a save may wait for the gateway before queueing
$conf['replay_window']  = 604800; // seconds a callback signature is remembered (replays refused)
$conf['index_on_apply'] = 1;      // add pages written from the gateway to the search index at once
$conf['media_max_mb']   = 32;     // largest media file synced, in MB (larger ones are neither published nor applied)
$conf['lease_days']     = 10;     // how long a subscription lasts before it must be renewed (the plugin renews it)
$conf['source_grace_days'] = 30;    // a mirror takes a source silent for this many days (no edit, no heartbeat) for gone; 0: never
$conf['heal_interval']  = 3600;   // seconds between checks of this site's subscriptions (task runner; cli.php heal)
