<?php

namespace dokuwiki\plugin\wikisync\classes;

/**
 * The one path every input takes: under the page's lock, the core gets the page's state and
 * the input and decides; its actions are carried out in order, **then** the new state is
 * stored. An action that fails (its exception propagates) leaves the old state, so the input
 * can be given again; a state is never recorded for actions that did not happen.
 *
 * Actions that change the wiki or the queue are carried out here. Actions for the person in
 * front of the screen (`showNotice`, `refuseLocalEdit`, `openEditor`) and those that are a
 * new input of their own (`saveResolution`, a save that goes through the save hook) go to the
 * caller's handlers, after the state is stored and the page's lock released.
 */
class Applier
{
    /** Actions carried out by the caller's handlers, after the state is stored. */
    const HANDED_BACK = ['showNotice', 'refuseLocalEdit', 'openEditor', 'saveResolution'];

    /** @var PageStore */
    protected $pages;
    /** @var Rules */
    protected $rules;
    /** @var Queue */
    protected $queue;
    /** @var Wiki */
    protected $wiki;
    /** @var \helper_plugin_wikisync_core */
    protected $core;
    /** @var Health */
    protected $health;
    /** @var \helper_plugin_wikisync_gateway */
    protected $gateway;

    /**
     * @param PageStore $pages
     * @param Rules $rules
     * @param Queue $queue
     * @param Wiki $wiki
     * @param \helper_plugin_wikisync_core $core
     * @param Health $health
     * @param \helper_plugin_wikisync_gateway $gateway fetches media files sent by reference
     */
    public function __construct(PageStore $pages, Rules $rules, Queue $queue, Wiki $wiki, $core, Health $health, $gateway)
    {
        $this->gateway = $gateway;
        $this->pages = $pages;
        $this->rules = $rules;
        $this->queue = $queue;
        $this->wiki = $wiki;
        $this->core = $core;
        $this->health = $health;
    }

    /**
     * Gives the core one input for page $id and carries out its decision.
     *
     * @param string $id a clean page id
     * @param array|callable $input the core's Input, or a function returning it, called under
     *                              the page's lock (to read the page's text there)
     * @param array $handlers action type => function (array $action) for the actions in
     *                        HANDED_BACK; those without a handler are dropped
     * @param bool $media the input is about the media file $id (its own state)
     * @return array the decision (outcome, state, actions)
     */
    public function apply($id, $input, array $handlers = [], $media = false)
    {
        $decision = $this->pages->locked(($media ? 'media:' : '') . $id, function () use ($id, $input, $media) {
            $stored = $this->pages->state($id, $media);
            $state = $stored ?? $this->core->newState($id);
            if (is_callable($input)) $input = $input();
            $decision = $this->core->handle($this->rules->siteConfig(), $state, $input, time());
            foreach ($decision['actions'] as $action) {
                if (!in_array($action['type'], self::HANDED_BACK, true)) $this->carryOut($id, $action);
            }
            if ($decision['state'] !== $state) $this->pages->setState($id, $decision['state'], $media);
            return $decision;
        });
        foreach ($decision['actions'] as $action) {
            if (isset($handlers[$action['type']])) $handlers[$action['type']]($action);
        }
        return $decision;
    }

    /**
     * Carries out one action that changes the wiki or the queue.
     *
     * @param string $id
     * @param array $action
     */
    public function carryOut($id, array $action)
    {
        switch ($action['type']) {
            case 'publish':
                $rule = $this->rules->ruleFor($id);
                $node = (string)($rule['node'] ?? '');
                if ($node === '') {
                    $this->health->record('failure', "no node configured for $id; entry not published");
                    return;
                }
                $this->queue->add($node, $id, $this->core->encode($action['entry']), $rule['gateway'] ?? null,
                    $rule['token'] ?? null);
                return;
            case 'writePage':
                $this->wiki->write($id, $action['text'], $action['author'], $action['summary'], $action['minor']);
                return;
            case 'deletePage':
                $this->wiki->write($id, null, $action['author'], $action['summary'], false);
                return;
            case 'lockPage':
                $this->wiki->lock($id, $action['editor'], (string)$action['site'], (int)$action['until']);
                return;
            case 'unlockPage':
                $this->wiki->unlock($id, $action['editor'], (string)$action['site']);
                return;
            case 'writeMedia':
                $bytes = $action['data'] !== null ? base64_decode((string)$action['data'], true)
                    : $this->gateway->fetchMedia((string)$action['url'], (int)$action['size']);
                if (!is_string($bytes)) {
                    throw new \RuntimeException("wikisync: the media file $id could not be fetched from {$action['url']}");
                }
                // nothing unverified is written: a corrupt or truncated file fails the input
                $this->core->verifyMedia($bytes, (string)$action['sha256'], (int)$action['size']);
                $this->wiki->writeMedia($id, $bytes, $action['author']);
                return;
            case 'deleteMedia':
                $this->wiki->deleteMedia($id, $action['author'], $action['summary']);
                return;
            case 'recordConflict':
            case 'clearConflict':
                // the conflict lives in the page's state, which is stored next
                return;
            default:
                throw new \UnexpectedValueException("wikisync: unknown action {$action['type']}");
        }
    }
}
