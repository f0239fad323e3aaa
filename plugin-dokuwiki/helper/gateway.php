<?php

use dokuwiki\Extension\Plugin;
use dokuwiki\HTTP\DokuHTTPClient;

/**
 * HTTP client for the wikisync gateway (docs/gateway.md): create nodes, publish entries,
 * subscribe, fetch a node's items. Short timeouts; every call returns a result array and
 * never throws for network failures.
 *
 * The site's gateway is the `gateway_url` setting (with `gateway_token`); a namespace whose
 * node is on another gateway has that gateway's URL (and token, if this site publishes there)
 * in its rule, and `at()` / `forRule()` give a client for it.
 *
 * Result arrays: ['ok' => bool, 'status' => int (0: no answer), 'body' => string,
 * 'error' => string (empty when ok), 'code' => the gateway's error code or ''].
 */
class helper_plugin_wikisync_gateway extends Plugin
{
    /** @var DokuHTTPClient|null one client per request, so keep-alive connections are reused */
    protected $http;
    /** @var string|null another gateway's base URL (null: the `gateway_url` setting) */
    protected $base;
    /** @var string|null the token for that gateway (only with $base) */
    protected $token;

    /**
     * A client for the gateway at $url (null: the site's own, with its token) with $token
     * (sent only to that gateway; the site's token never goes to another one).
     *
     * @param string|null $url
     * @param string|null $token
     * @return static
     */
    public function at($url, $token = null)
    {
        if ($url === null || $url === '') return $this;
        $own = rtrim(trim((string)$this->getConf('gateway_url')), '/');
        // the site's own gateway, however it was recorded, gets the site's token
        if (($token === null || $token === '') && $own !== '' && strcasecmp(rtrim((string)$url, '/'), $own) === 0) {
            return $this;
        }
        $other = clone $this;
        $other->http = null;
        $other->base = (string)$url;
        $other->token = $token === null || $token === '' ? null : (string)$token;
        return $other;
    }

    /**
     * A client for the gateway of a namespace's rule (its `gateway` and `token`, else the
     * site's).
     *
     * @param array|null $rule
     * @return static
     */
    public function forRule($rule)
    {
        return $this->at($rule['gateway'] ?? null, $rule['token'] ?? null);
    }

    /**
     * The base URL calls go to ('' when none is configured).
     *
     * @return string
     */
    public function url()
    {
        return rtrim($this->base ?? trim((string)$this->getConf('gateway_url')), '/');
    }

    /**
     * Whether a gateway URL is configured.
     *
     * @return bool
     */
    public function isConfigured()
    {
        return $this->url() !== '';
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
        $token = $this->base === null ? (string)$this->getConf('gateway_token') : (string)$this->token;
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
    protected function request($method, $path, $body = '', $type = '', $timeout = null, array $headers = [])
    {
        if (!$this->isConfigured()) {
            return ['ok' => false, 'status' => 0, 'body' => '', 'error' => $this->getLang('nogateway'), 'headers' => [],
                'code' => ''];
        }
        return $this->send($method, $this->url() . $path, $body, $type, $timeout, $headers);
    }

    /**
     * @param string $method
     * @param string $url an absolute URL (a next-page link the gateway gave)
     * @param string $body
     * @param string $type
     * @param int|null $timeout
     * @param array $headers extra request headers
     * @return array result, with the response headers (lower-case names) in ['headers']
     */
    protected function send($method, $url, $body = '', $type = '', $timeout = null, array $headers = [])
    {
        $http = $this->client($timeout ?? max(1, (int)$this->getConf('timeout')));
        if ($type !== '') $http->headers['Content-Type'] = $type;
        foreach ($headers as $k => $v) $http->headers[$k] = $v;
        $path = (string)parse_url($url, PHP_URL_PATH) . (parse_url($url, PHP_URL_QUERY) ? '?…' : '');
        $resp = $http->sendRequest($url, $body, $method);
        $status = (int)$http->status;
        $ok = $resp !== false && $status >= 200 && $status < 300;
        $error = '';
        $code = '';
        if (!$ok) {
            $json = json_decode((string)$http->resp_body, true);
            $code = is_array($json) ? (string)($json['error'] ?? '') : '';
            $error = is_array($json) && isset($json['error'])
                ? $json['error'] . ': ' . ($json['message'] ?? '')
                : trim($http->error . ' ' . substr((string)$http->resp_body, 0, 200));
            if ($status <= 0) $status = 0;
            $error = preg_replace('/\s+/', ' ', "$method $path: HTTP $status $error");
        }
        return ['ok' => $ok, 'status' => $status, 'body' => (string)$http->resp_body, 'error' => $error,
            'code' => $code, 'headers' => is_array($http->resp_headers) ? array_change_key_case($http->resp_headers) : []];
    }

    /**
     * The target of a `Link` header with the given rel (`next`, `alternate`), or null.
     *
     * @param string $link the header's value
     * @param string $rel
     * @return string|null
     */
    public static function linkTarget($link, $rel)
    {
        foreach (preg_split('/,(?=\s*<)/', (string)$link) as $part) {
            if (preg_match('/^\s*<([^>]*)>(.*)$/s', $part, $m)
                && preg_match('/;\s*rel\s*=\s*"?([^";]*)"?/i', $m[2], $r)
                && in_array(strtolower($rel), preg_split('/\s+/', strtolower(trim($r[1]))), true)) {
                return $m[1];
            }
        }
        return null;
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
     * Deletes a node (subscribers get `Event: DELETED`, and `Link: <$redirect>` with one).
     *
     * @param string $node
     * @param string|null $redirect where the subscribers follow the namespace: a node URI or
     *                              another gateway's feed URL
     * @return array result
     */
    public function deleteNode($node, $redirect = null)
    {
        $body = $redirect === null ? '' : json_encode(['redirect_uri' => $redirect], JSON_UNESCAPED_SLASHES);
        return $this->request('POST', '/delete?uri=' . rawurlencode($node), $body,
            $redirect === null ? '' : 'application/json', 15);
    }

    /**
     * Subscribes a callback (the gateway verifies it with a hub.challenge GET first).
     *
     * @param string $node
     * @param string $callback
     * @param string $secret HMAC secret for X-Hub-Signature
     * @return array result
     */
    public function subscribe($node, $callback, $secret, $lease = null)
    {
        $body = ['uri' => $node, 'callback' => $callback, 'secret' => $secret];
        if ($lease !== null) $body['lease_seconds'] = (int)$lease;
        $r = $this->request('POST', '/subscribe', json_encode($body), 'application/json', 15);
        $json = json_decode($r['body'], true);
        $r['expires'] = is_array($json) && isset($json['expires']) ? (int)strtotime((string)$json['expires']) : null;
        return $r;
    }

    /**
     * Tells the gateway that this site, the source of $node, is alive though it may have
     * nothing to publish (`POST /heartbeat`): its mirrors read it as the node's last sign of
     * life and take a long silence for a source gone away.
     *
     * @param string $node
     * @return array result
     */
    public function heartbeat($node)
    {
        return $this->request('POST', '/heartbeat?uri=' . rawurlencode($node), '', '', 15);
    }

    /**
     * Lets $site publish to $node with its own site credential (`POST /grant`; this site must
     * own the node), or withdraws that right ($grant false: `POST /revoke`).
     *
     * @param string $node
     * @param string $site the other site's id, as the gateway's --site names it
     * @param bool $grant
     * @return array result
     */
    public function grant($node, $site, $grant = true)
    {
        $query = '?uri=' . rawurlencode($node) . '&site=' . rawurlencode($site);
        return $this->request('POST', ($grant ? '/grant' : '/revoke') . $query, '', '', 15);
    }

    /**
     * Who may publish to $node (`GET /publishers`; this site must own it).
     *
     * @param string $node
     * @return array result; on success ['publishers'] holds {"uri", "owner", "granted"}
     */
    public function publishers($node)
    {
        $r = $this->request('GET', '/publishers?uri=' . rawurlencode($node), '', '', 15);
        if ($r['ok']) $r['publishers'] = json_decode($r['body'], true);
        return $r;
    }

    /**
     * What the gateway says about this site's subscription of $callback to $node, asked with
     * the subscription's secret (`GET /subscription`, signed).
     *
     * @param string $node
     * @param string $callback
     * @param string $secret
     * @return array result; on success ['state'] holds the gateway's JSON answer
     */
    public function subscription($node, $callback, $secret)
    {
        $ts = (string)time();
        $sig = hash_hmac('sha256', "GET\n/subscription\n$node\n$callback\n$ts", hash('sha256', $secret, true));
        $r = $this->request('GET', '/subscription?uri=' . rawurlencode($node) . '&callback=' . rawurlencode($callback)
            . '&timestamp=' . $ts, '', '', 15, ['X-Hub-Signature' => "sha256=$sig"]);
        $json = json_decode($r['body'], true);
        $r['state'] = $r['ok'] && is_array($json) ? $json : null;
        $r['code'] = is_array($json) ? (string)($json['error'] ?? '') : '';
        return $r;
    }

    /**
     * Fetches a media file another site serves by reference: at most $size bytes.
     *
     * @param string $url
     * @param int $size the size announced
     * @return string|null the bytes, or null when they could not be fetched
     */
    public function fetchMedia($url, $size)
    {
        $http = new DokuHTTPClient();
        $http->timeout = max(30, (int)$this->getConf('timeout'));
        $http->max_bodysize = (int)$size + 1; // a longer answer is cut and then refused by its size
        $http->max_bodysize_abort = true;
        $http->keep_alive = false;
        $body = $http->get($url);
        return ($body === false || (int)$http->status !== 200) ? null : (string)$body;
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
    public function items($node, $max = 1000)
    {
        return $this->request('GET', '/items?uri=' . rawurlencode($node) . '&max_items=' . (int)$max, '', '', 120);
    }

    /**
     * Every item of a node, page by page (the gateway links each page to the next): the
     * feeds as they came, newest first.
     *
     * @param string $node
     * @return array result; on success ['feeds'] holds the feed documents in order
     */
    public function allItems($node)
    {
        $r = $this->items($node);
        $feeds = [];
        while ($r['ok']) {
            $feeds[] = $r['body'];
            $next = self::linkTarget($r['headers']['link'] ?? '', 'next');
            if ($next === null) break;
            $r = $this->send('GET', $next, '', '', 120);
        }
        $r['feeds'] = $feeds;
        return $r;
    }

    /**
     * @return array result
     */
    public function health()
    {
        return $this->request('GET', '/healthz', '', '', 3);
    }
}
