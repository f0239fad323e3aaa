<?php

use dokuwiki\Extension\Plugin;
use dokuwiki\HTTP\DokuHTTPClient;

/**
 * HTTP client for the wikisync gateway (docs/gateway.md): create nodes, publish entries,
 * subscribe, fetch a node's items. Short timeouts; every call returns a result array and
 * never throws for network failures.
 *
 * Result arrays: ['ok' => bool, 'status' => int (0: no answer), 'body' => string,
 * 'error' => string (empty when ok)].
 */
class helper_plugin_wikisync_gateway extends Plugin
{
    /** @var DokuHTTPClient|null one client per request, so keep-alive connections are reused */
    protected $http;

    /**
     * Whether a gateway URL is configured.
     *
     * @return bool
     */
    public function isConfigured()
    {
        return trim((string)$this->getConf('gateway_url')) !== '';
    }

    /**
     * @param int $timeout seconds
     * @return DokuHTTPClient
     */
    protected function client($timeout)
    {
        if (!$this->http) {
            $this->http = new DokuHTTPClient();
            $this->http->keep_alive = true;
            $this->http->max_bodysize = 0;
            $this->http->max_redirect = 0;
        }
        $this->http->timeout = $timeout;
        $this->http->headers = [];
        $token = (string)$this->getConf('gateway_token');
        if ($token !== '') $this->http->headers['Authorization'] = 'Bearer ' . $token;
        return $this->http;
    }

    /**
     * @param string $method
     * @param string $path e.g. /publish?uri=…
     * @param string $body
     * @param string $type Content-Type of the body
     * @param int|null $timeout seconds (default: the `timeout` setting)
     * @return array result
     */
    protected function request($method, $path, $body = '', $type = '', $timeout = null)
    {
        if (!$this->isConfigured()) {
            return ['ok' => false, 'status' => 0, 'body' => '', 'error' => $this->getLang('nogateway')];
        }
        $http = $this->client($timeout ?? max(1, (int)$this->getConf('timeout')));
        if ($type !== '') $http->headers['Content-Type'] = $type;
        $url = rtrim((string)$this->getConf('gateway_url'), '/') . $path;
        $resp = $http->sendRequest($url, $body, $method);
        $status = (int)$http->status;
        $ok = $resp !== false && $status >= 200 && $status < 300;
        $error = '';
        if (!$ok) {
            $json = json_decode((string)$http->resp_body, true);
            $error = is_array($json) && isset($json['error'])
                ? $json['error'] . ': ' . ($json['message'] ?? '')
                : trim($http->error . ' ' . substr((string)$http->resp_body, 0, 200));
            if ($status <= 0) $status = 0;
            $error = preg_replace('/\s+/', ' ', "$method $path: HTTP $status $error");
        }
        return ['ok' => $ok, 'status' => $status, 'body' => (string)$http->resp_body, 'error' => $error];
    }

    /**
     * Creates an instant node; its URI is in ['uri'] on success.
     *
     * @return array result
     */
    public function createNode()
    {
        $r = $this->request('POST', '/create');
        if ($r['ok']) {
            $json = json_decode($r['body'], true);
            $r['uri'] = is_array($json) ? (string)($json['uri'] ?? '') : '';
            if ($r['uri'] === '') {
                $r['ok'] = false;
                $r['error'] = 'POST /create: no uri in the answer';
            }
        }
        return $r;
    }

    /**
     * Publishes one Atom entry to a node (the item id is the entry's atom:id).
     *
     * @param string $node xmpp node URI
     * @param string $xml the entry
     * @param int|null $timeout seconds
     * @return array result
     */
    public function publish($node, $xml, $timeout = null)
    {
        return $this->request('POST', '/publish?uri=' . rawurlencode($node), $xml,
            'application/atom+xml;type=entry;charset=utf-8', $timeout);
    }

    /**
     * Deletes a node (subscribers get `Event: DELETED`).
     *
     * @param string $node
     * @return array result
     */
    public function deleteNode($node)
    {
        return $this->request('POST', '/delete?uri=' . rawurlencode($node), '', '', 15);
    }

    /**
     * Subscribes a callback (the gateway verifies it with a hub.challenge GET first).
     *
     * @param string $node
     * @param string $callback
     * @param string $secret HMAC secret for X-Hub-Signature
     * @return array result
     */
    public function subscribe($node, $callback, $secret)
    {
        $body = json_encode(['uri' => $node, 'callback' => $callback, 'secret' => $secret]);
        return $this->request('POST', '/subscribe', $body, 'application/json', 15);
    }

    /**
     * @param string $node
     * @param string $callback
     * @return array result
     */
    public function unsubscribe($node, $callback)
    {
        $body = json_encode(['uri' => $node, 'callback' => $callback]);
        return $this->request('POST', '/unsubscribe', $body, 'application/json', 15);
    }

    /**
     * The node's items as an Atom feed (newest first).
     *
     * @param string $node
     * @param int $max
     * @return array result (the feed in ['body'])
     */
    public function items($node, $max = 1000000)
    {
        return $this->request('GET', '/items?uri=' . rawurlencode($node) . '&max_items=' . (int)$max, '', '', 120);
    }

    /**
     * @return array result
     */
    public function health()
    {
        return $this->request('GET', '/healthz', '', '', 3);
    }
}
