<?php
declare(strict_types=1);

namespace WikiSync\Tests;

use PHPUnit\Framework\TestCase;
use WikiSync\DecodeException;
use WikiSync\Entry;
use WikiSync\Merge;
use WikiSync\PageId;
use WikiSync\PageIdException;
use WikiSync\Sync;

/**
 * Runs every case of the shared conformance vectors (tests/vectors/*.json) through the PHP API,
 * checking what the Rust runners in crates/wikisync-core/tests/*_vectors.rs check.
 */
final class VectorsTest extends TestCase
{
    public function pageIdCases(): array
    {
        return Vectors::provider('page_ids');
    }

    /** @dataProvider pageIdCases */
    public function testPageId(array $case): void
    {
        $this->assertTrue(($case['expected'] === null) !== ($case['error'] === null), 'exactly one of expected/error');
        try {
            $got = PageId::clean($case['raw']);
            $this->assertNull($case['error'], "refused with {$case['error']} in Rust, accepted here as $got");
            $this->assertSame($case['expected'], $got);
        } catch (PageIdException $e) {
            $this->assertSame($case['error'], $e->getErrorCode(), $e->getMessage());
        }
    }

    public function testPageIdVectorsAreAllThere(): void
    {
        $this->assertGreaterThan(20, count(Vectors::cases('page_ids')));
    }

    public function entryCases(): array
    {
        return Vectors::provider('entries');
    }

    /** @dataProvider entryCases */
    public function testEntry(array $case): void
    {
        $decode = fn () => array_key_exists('max_bytes', $case)
            ? Entry::decode($case['xml'], $case['max_bytes'])
            : Entry::decode($case['xml']);
        switch ($case['op']) {
            case 'encode':
                $this->assertSame($case['xml'], Entry::encode($case['entry']), 'encoding differs');
                $this->assertSame(Vectors::canon($case['entry']), Vectors::canon($decode()), 'does not decode back');
                break;
            case 'decode':
                $this->assertTrue(($case['entry'] === null) !== ($case['error'] === null), 'exactly one of entry/error');
                try {
                    $got = $decode();
                    $this->assertNull($case['error'], "refused with {$case['error']} in Rust, decoded here");
                    $this->assertSame(Vectors::canon($case['entry']), Vectors::canon($got));
                } catch (DecodeException $e) {
                    $this->assertSame($case['error'], $e->getErrorCode(), $e->getMessage());
                }
                break;
            default:
                $this->fail("unknown op {$case['op']}");
        }
    }

    public function testEntryVectorsCoverEveryKindAndManyCodes(): void
    {
        $cases = Vectors::cases('entries');
        $encodes = count(array_filter($cases, fn ($c) => $c['op'] === 'encode'));
        $this->assertGreaterThanOrEqual(4, $encodes, 'one encode case per entry kind');
        $codes = array_unique(array_filter(array_column($cases, 'error')));
        $this->assertGreaterThanOrEqual(16, count($codes), 'every DecodeError code has a vector');
    }

    public function mergeCases(): array
    {
        return Vectors::provider('merge');
    }

    /** @dataProvider mergeCases */
    public function testMerge(array $case): void
    {
        // The vector's options pass through as they are: words, diff3, labels [ours, base, theirs].
        $merged = Merge::merge($case['base'], $case['ours'], $case['theirs'], $case['options']);
        $expected = $case['expected'];
        $this->assertSame($expected['text'], $merged['text'], 'merged text');
        $this->assertSame($expected['conflicts'], $merged['conflicts'], 'conflict count');
        $this->assertSame($expected['clean'], $merged['clean'], 'clean');
        $conflictRegions = array_filter($merged['regions'], fn ($r) => $r['type'] === 'conflict');
        $this->assertCount($expected['conflicts'], $conflictRegions, 'regions agree with the count');
        if ($merged['clean']) {
            $this->assertSame($expected['text'], implode('', array_column($merged['regions'], 'text')));
        }
    }

    public function testMergeVectorsAreAllThere(): void
    {
        $this->assertGreaterThanOrEqual(30, count(Vectors::cases('merge')));
    }

    public function decisionCases(): array
    {
        return Vectors::provider('decisions');
    }

    /** @dataProvider decisionCases */
    public function testDecision(array $case): void
    {
        $input = ['type' => 'notification', 'local_text' => $case['local_text'], 'entry' => $case['entry'], 'now' => $case['now']];
        $d = Sync::handle($case['config'], $case['state'], $input);
        $expected = $case['expected'];
        $this->assertSame(Vectors::canon($expected['outcome']), Vectors::canon($d['outcome']), 'outcome');
        $this->assertSame(Vectors::canon($expected['actions']), Vectors::canon($d['actions']), 'actions');
        $essentials = [
            'clock' => $d['state']['clock'],
            'text' => $d['state']['text'],
            'lock' => $d['state']['lock'],
            'conflict' => $d['state']['conflict'] !== null,
        ];
        $this->assertSame(Vectors::canon($expected['state']), Vectors::canon($essentials), 'new state');

        // Idempotence: the same notification again, on the new state and text, changes nothing
        // (except for a conflict report, which is answered every time).
        $textAfter = $case['local_text'];
        foreach ($d['actions'] as $action) {
            if ($action['type'] === 'write_page') {
                $textAfter = $action['text'];
            } elseif ($action['type'] === 'delete_page') {
                $textAfter = null;
            }
        }
        $kind = $case['entry']['kind'];
        if (!($kind['type'] === 'draft' && $kind['conflict_with'] !== null)) {
            $again = Sync::handle($case['config'], $d['state'], ['local_text' => $textAfter] + $input);
            $this->assertSame('ignore', $again['outcome']['type'], 'not idempotent');
            $this->assertSame(Vectors::canon($d['state']), Vectors::canon($again['state']), 'second application changed the state');
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
        $state = $case['state'];
        foreach ($case['steps'] as $i => $step) {
            $label = "step $i";
            $d = Sync::handle($case['config'], $state, $step['input']);
            $this->assertSame(Vectors::canon($step['expected']['outcome']), Vectors::canon($d['outcome']), "$label: outcome");
            $this->assertSame($step['expected']['lock'], $d['state']['lock']['type'], "$label: lock");
            $this->assertSame(Vectors::canon($step['expected']['actions']), Vectors::canon($d['actions']), "$label: actions");
            $state = $d['state'];
        }
    }
}
