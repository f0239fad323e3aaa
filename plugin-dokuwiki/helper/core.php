<?php

use dokuwiki\Extension\Plugin;

/**
 * The only code that calls the wikisync PHP extension (`WikiSync\…`, see docs/bindings.md).
 *
 * Every decision (what a save publishes, what a notification does) is the core's; this class
 * converts nothing and decides nothing, it only guards against a missing extension so that
 * DokuWiki shows a clear message instead of a fatal error.
 */
class helper_plugin_wikisync_core extends Plugin
{
    /**
     * Whether the extension is loaded in this PHP process.
     *
     * @return bool
     */
    public function isAvailable()
    {
        return class_exists('\WikiSync\Sync', false) && class_exists('\WikiSync\Entry', false);
    }

    /**
     * A sentence for administrators when the extension is missing, else ''.
     *
     * @return string
     */
    public function problem()
    {
        if ($this->isAvailable()) return '';
        return sprintf($this->getLang('noext'), PHP_VERSION, php_ini_loaded_file() ?: '-');
    }

    /**
     * @throws RuntimeException when the extension is not loaded
     */
    protected function need()
    {
        if (!$this->isAvailable()) throw new RuntimeException($this->problem());
    }

    /**
     * A fresh sync state for a page.
     *
     * @param string $page a clean page id
     * @return array the core's PageState
     */
    public function newState($page)
    {
        $this->need();
        return \WikiSync\Sync::newState($page);
    }

    /**
     * Runs one input through the core.
     *
     * @param array $config SiteConfig
     * @param array $state PageState
     * @param array $input Input
     * @return array Decision: outcome, state, actions
     */
    public function handle(array $config, array $state, array $input)
    {
        $this->need();
        return \WikiSync\Sync::handle($config, $state, $input);
    }

    /**
     * Entry (array) to Atom XML.
     *
     * @param array $entry
     * @return string
     */
    public function encode(array $entry)
    {
        $this->need();
        return \WikiSync\Entry::encode($entry);
    }

    /**
     * Atom XML to an entry (array); throws WikiSync\DecodeException when refused.
     *
     * @param string $xml
     * @return array
     */
    public function decode($xml)
    {
        $this->need();
        return \WikiSync\Entry::decode($xml);
    }

    /**
     * Cleans a page id with the core's rules; throws WikiSync\PageIdException on escapes.
     *
     * @param string $raw
     * @return string
     */
    public function cleanId($raw)
    {
        $this->need();
        return \WikiSync\PageId::clean($raw);
    }

    /**
     * The stable error code of an exception thrown by the extension, or 'internal'.
     *
     * @param Throwable $e
     * @return string
     */
    public function errorCode(Throwable $e)
    {
        if (method_exists($e, 'getErrorCode')) return (string)$e->getErrorCode();
        return 'internal';
    }
}
