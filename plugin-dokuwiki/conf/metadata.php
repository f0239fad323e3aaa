<?php
/**
 * Options for the wikisync plugin
 */
$meta['gateway_url']    = array('string');
$meta['gateway_token']  = array('password');
$meta['site_id']        = array('string');
$meta['timeout']        = array('numeric', '_min' => 1, '_max' => 30);
$meta['replay_window']  = array('numeric', '_min' => 60);
$meta['index_on_apply'] = array('onoff');
$meta['media_max_mb']   = array('numeric', '_min' => 0.001);
$meta['lease_days']     = array('numeric', '_min' => 1, '_max' => 30);
$meta['source_grace_days'] = array('numeric', '_min' => 0);
$meta['heal_interval']  = array('numeric', '_min' => 0);
