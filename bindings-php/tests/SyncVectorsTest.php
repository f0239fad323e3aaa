<?php
declare(strict_types=1);

namespace WikiSync\Tests;

use PHPUnit\Framework\TestCase;
use WikiSync\SetupException;
use WikiSync\Sync;

/**
 * Runs the sync engine's vectors (tests/vectors/{decisions,locks,notices,setup,hosts,site_ids}.json)
 * through WikiSync\Sync, as crates/wikisync-core/tests/sync_vectors.rs does. A state in a vector
 * is a JSON object; the extension takes and gives the opaque JSON text.
 */
final class SyncVectorsTest extends TestCase
{
    public function decisionCases(): array
    {
        return Vectors::provider('decisions');
    }

    /** @dataProvider decisionCases */
    public function testDecision(array $case): void
    {
        $input = ['type' => 'notification', 'localText' => $case['localText'], 'entry' => $case['entry']];
        // the authenticated publisher, when the case gives one (missing: the gateway reported none)
        if (array_key_exists('publisher', $case)) {
            $input['publisher'] = $case['publisher'];
        }
        $d = Sync::handle($case['config'], Vectors::state($case['state']), $input, $case['now']);
        $this->assertSame(['actions', 'outcome', 'state'], array_keys(Vectors::canon($d)));
        $this->assertIsString($d['state']);
        $expected = $case['expected'];
        $this->assertSame(Vectors::canon($expected['outcome']), Vectors::canon($d['outcome']), 'outcome');
        $this->assertSame(Vectors::canon($expected['actions']), Vectors::canon($d['actions']), 'actions');
        $conflict = Sync::conflict($d['state']);
        $essentials = Vectors::essentials($d['state']) + ['conflict' => $conflict !== null];
        $this->assertSame(Vectors::canon($expected['state']), Vectors::canon($essentials), 'new state');
        if ($conflict !== null) {
            $this->assertStringContainsString('<<<<<<< ', Sync::renderConflict($conflict));
        }

        // Idempotence: the same notification again, on the new state and text, changes nothing
        // (except for a conflict report, which is answered every time).
        $textAfter = $case['localText'];
        foreach ($d['actions'] as $action) {
            if ($action['type'] === 'writePage') {
                $textAfter = $action['text'];
            } elseif ($action['type'] === 'deletePage') {
                $textAfter = null;
            }
        }
        $kind = $case['entry']['kind'];
        if (!($kind['type'] === 'draft' && $kind['conflictWith'] !== null)) {
            $again = Sync::handle($case['config'], $d['state'], ['localText' => $textAfter] + $input, $case['now']);
            $this->assertSame('ignore', $again['outcome']['type'], 'not idempotent');
            $this->assertSame($d['state'], $again['state'], 'second application changed the state');
        }
    }

    public function lockCases(): array
    {
        return Vectors::provider('locks');
    }

    /** @dataProvider lockCases */
    public function testLockTrace(array $case): void
    {
        $this->assertNotEmpty($case['steps']);
        $state = Vectors::state($case['state']);
        foreach ($case['steps'] as $i => $step) {
            $label = "step $i";
            $d = Sync::handle($case['config'], $state, $step['input'], $step['now']);
            $this->assertSame(Vectors::canon($step['expected']['outcome']), Vectors::canon($d['outcome']), "$label: outcome");
            $this->assertSame($step['expected']['lock'], Vectors::essentials($d['state'])['lock']['type'], "$label: lock");
            $this->assertSame(Vectors::canon($step['expected']['actions']), Vectors::canon($d['actions']), "$label: actions");
            $state = $d['state'];
        }
    }

    public function noticeCases(): array
    {
        return Vectors::provider('notices');
    }

    /** @dataProvider noticeCases */
    public function testNotices(array $case): void
    {
        $got = Sync::notices($case['config'], Vectors::state($case['state']), $case['now']);
        $this->assertSame(Vectors::canon($case['expected']), Vectors::canon($got));
    }

    public function setupCases(): array
    {
        return Vectors::provider('setup');
    }

    /** @dataProvider setupCases */
    public function testSetup(array $case): void
    {
        $expected = $case['expected'];
        try {
            $steps = Sync::planSetup($case['current'], $case['request']);
        } catch (SetupException $e) {
            $this->assertSame($expected['error'] ?? null, $e->getErrorCode(), $e->getMessage());
            return;
        }
        $this->assertArrayHasKey('steps', $expected, 'refused in Rust, planned here');
        $this->assertSame(Vectors::canon($expected['steps']), Vectors::canon($steps));
    }

    public function testSourceChecks(): void
    {
        $cases = Vectors::document('setup')['sourceChecks'];
        $this->assertNotEmpty($cases);
        foreach ($cases as $case) {
            $name = $case['name'];
            $carries = Sync::sourceOfItems($case['entries']);
            try {
                Sync::checkMirrorSource($case['source'], $case['entries']);
                $this->assertSame(['ok' => true], $case['expected'], "$name: accepted here");
                $this->assertContains($carries, [null, Sync::siteId($case['source'])], "$name: sourceOfItems");
            } catch (SetupException $e) {
                $this->assertSame($case['expected']['error'] ?? null, $e->getErrorCode(), "$name: {$e->getMessage()}");
                $this->assertSame($case['expected']['carries'], $carries, "$name: sourceOfItems");
            }
        }
    }

    public function siteIdCases(): array
    {
        return Vectors::provider('site_ids');
    }

    /** @dataProvider siteIdCases */
    public function testSiteId(array $case): void
    {
        $this->assertSame($case['expected'], Sync::siteId($case['raw']));
        $this->assertSame($case['expected'], Sync::siteId($case['expected']), 'not idempotent');
    }

    public function testHostNamespaces(): void
    {
        $cases = Vectors::document('hosts')['namespaces'];
        $this->assertNotEmpty($cases);
        foreach ($cases as $case) {
            $this->assertSame($case['namespace'], Sync::namespaceOf($case['config'], $case['page']), $case['name']);
            $this->assertSame($case['readOnly'], Sync::isReadOnly($case['config'], $case['page']), $case['name']);
        }
    }

    public function testHostPublishFailures(): void
    {
        $cases = Vectors::document('hosts')['publishFailures'];
        $this->assertNotEmpty($cases);
        foreach ($cases as ['status' => $status, 'failure' => $failure]) {
            $this->assertSame($failure, Sync::publishFailure($status), "status $status");
        }
    }

    public function testHostNeedsPublish(): void
    {
        $cases = Vectors::document('hosts')['needsPublish'];
        $this->assertNotEmpty($cases);
        foreach ($cases as $case) {
            $got = Sync::needsPublish(Vectors::state($case['state']), $case['localText']);
            $this->assertSame($case['expected'], $got, $case['name']);
        }
    }

    public function testHostMediaNeedsPublish(): void
    {
        $cases = Vectors::document('hosts')['mediaNeedsPublish'];
        $this->assertNotEmpty($cases);
        foreach ($cases as $case) {
            $got = Sync::mediaNeedsPublish(Vectors::state($case['state']), $case['sha256']);
            $this->assertSame($case['expected'], $got, $case['name']);
        }
    }

    public function testHostSubscriptions(): void
    {
        $cases = Vectors::document('hosts')['subscriptions'];
        $this->assertNotEmpty($cases);
        foreach ($cases as $case) {
            $got = Sync::checkSubscription($case['config'], $case['namespace'], $case['report'], $case['now']);
            $this->assertEquals($case['expected'], $got, $case['name']);
        }
    }

    public function testHostHeartbeats(): void
    {
        $cases = Vectors::document('hosts')['heartbeats'];
        $this->assertNotEmpty($cases);
        foreach ($cases as $case) {
            $this->assertSame($case['expected'], Sync::sendsHeartbeat($case['config'], $case['namespace']), $case['name']);
        }
    }
}
