<?php
declare(strict_types=1);

namespace WikiSync\Tests;

use PHPUnit\Framework\TestCase;
use WikiSync\DecodeException;
use WikiSync\Entry;
use WikiSync\Merge;
use WikiSync\Node;
use WikiSync\PageId;
use WikiSync\PageIdException;

/**
 * Runs the codec vectors (tests/vectors/{page_ids,entries,merge,feeds,node_uris}.json) through
 * the PHP API, checking what the Rust runners in crates/wikisync-core/tests/*_vectors.rs check.
 * SyncVectorsTest runs the sync engine's vectors.
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
                self::assertMediaVerifies($case['entry']);
                break;
            case 'decode':
                $this->assertTrue(($case['entry'] === null) !== ($case['error'] === null), 'exactly one of entry/error');
                try {
                    $got = $decode();
                    $this->assertNull($case['error'], "refused with {$case['error']} in Rust, decoded here");
                    $this->assertSame(Vectors::canon($case['entry']), Vectors::canon($got));
                    self::assertMediaVerifies($got);
                } catch (DecodeException $e) {
                    $this->assertSame($case['error'], $e->getErrorCode(), $e->getMessage());
                }
                break;
            default:
                $this->fail("unknown op {$case['op']}");
        }
    }

    /**
     * A media entry's inline bytes (base64 in the array, as in JSON) are what its sha256 and
     * size say: PHP's own hash agrees with the core, and Entry::verifyMedia accepts them.
     */
    private static function assertMediaVerifies(array $entry): void
    {
        $kind = $entry['kind'];
        if ($kind['type'] !== 'media' || $kind['data'] === null) {
            return;
        }
        $bytes = base64_decode($kind['data'], true);
        self::assertIsString($bytes, 'data is base64');
        self::assertSame($kind['sha256'], hash('sha256', $bytes));
        Entry::verifyMedia($bytes, $kind['sha256'], $kind['size']);
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

    public function feedCases(): array
    {
        return Vectors::provider('feeds');
    }

    /** @dataProvider feedCases */
    public function testFeed(array $case): void
    {
        $expected = $case['expected'];
        try {
            $items = array_key_exists('maxBytes', $case)
                ? Entry::decodeFeed($case['xml'], $case['maxBytes'])
                : Entry::decodeFeed($case['xml']);
        } catch (DecodeException $e) {
            $this->assertSame($expected['error'] ?? null, $e->getErrorCode(), $e->getMessage());
            return;
        }
        $this->assertArrayHasKey('items', $expected, 'refused in Rust, decoded here');
        // Compared as the Rust runner does: {entry} or {error: code}.
        $got = array_map(function (array $item): array {
            $this->assertTrue(($item['entry'] === null) !== ($item['error'] === null), 'exactly one of entry/error');
            $this->assertNotSame('', $item['error']['message'] ?? 'no error');
            return $item['entry'] !== null ? ['entry' => $item['entry']] : ['error' => $item['error']['code']];
        }, $items);
        $this->assertSame(Vectors::canon($expected['items']), Vectors::canon($got));
    }

    public function nodeUriCases(): array
    {
        return Vectors::provider('node_uris');
    }

    /**
     * PHP has `Node::same` only: every spelling of a node is the same node as its canonical
     * form, and a string that is not a node URI is not even the same as itself.
     *
     * @dataProvider nodeUriCases
     */
    public function testNodeUri(array $case): void
    {
        $raw = $case['raw'];
        if (isset($case['expected']['error'])) {
            $this->assertFalse(Node::same($raw, $raw), "refused with {$case['expected']['error']} in Rust");
            return;
        }
        $canonical = $case['expected']['canonical'];
        $this->assertTrue(Node::same($raw, $canonical), 'not the same node as its canonical form');
        $this->assertTrue(Node::same($canonical, $raw), 'not symmetric');
    }

    public function testNodeUriPairs(): void
    {
        $pairs = Vectors::document('node_uris')['pairs'];
        $this->assertNotEmpty($pairs);
        foreach ($pairs as ['a' => $a, 'b' => $b, 'same' => $same]) {
            $this->assertSame($same, Node::same($a, $b), "same($a, $b)");
            $this->assertSame($same, Node::same($b, $a), "same($b, $a)");
        }
    }

    /**
     * tests/vectors/follow_targets.json: Node::followTarget reads a node URI or another
     * gateway's feed URL (every refusal is a SetupException `bad_node`), Node::nodeRef writes
     * the canonical reference.
     */
    public function testFollowTargets(): void
    {
        $doc = Vectors::document('follow_targets');
        $this->assertNotEmpty($doc['targets']);
        foreach ($doc['targets'] as $case) {
            $expected = $case['expected'];
            if (isset($expected['error'])) {
                try {
                    Node::followTarget($case['raw']);
                    $this->fail("{$case['name']}: accepted, refused with {$expected['error']} in Rust");
                } catch (\WikiSync\SetupException $e) {
                    $this->assertSame('bad_node', $e->getErrorCode(), $case['name']);
                }
                continue;
            }
            $got = Node::followTarget($case['raw']);
            $this->assertSame(['gateway' => $expected['gateway'], 'node' => $expected['node']], $got, $case['name']);
            $this->assertSame($expected['canonical'], Node::nodeRef($got['gateway'], $got['node']), $case['name']);
        }
        foreach ($doc['refs'] as $case) {
            $want = $case['expected'];
            try {
                $got = Node::nodeRef($case['gateway'], $case['node']);
                $this->assertSame($want, $got, json_encode($case));
            } catch (\WikiSync\SetupException $e) {
                $this->assertIsArray($want, json_encode($case) . ': ' . $e->getMessage());
                $code = $want['error'] === 'not_gateway' ? 'bad_gateway' : 'bad_node';
                $this->assertSame($code, $e->getErrorCode(), json_encode($case));
            }
        }
    }
}
