<?php
declare(strict_types=1);

namespace WikiSync\Tests;

use PHPUnit\Framework\TestCase;
use WikiSync\DecodeException;
use WikiSync\Entry;
use WikiSync\Exception;
use WikiSync\Hash;
use WikiSync\InvalidArgumentException;
use WikiSync\Merge;
use WikiSync\PageId;
use WikiSync\PageIdException;
use WikiSync\Sync;

/**
 * The exception classes and their codes, and arguments of the wrong shape: every failure is a
 * typed WikiSync\Exception (or PHP's own TypeError for a parameter of the wrong PHP type), never
 * a crash or a fatal error.
 */
final class ErrorsTest extends TestCase
{
    private static function entry(): array
    {
        foreach (Vectors::cases('entries') as $case) {
            if ($case['op'] === 'encode' && $case['entry']['kind']['type'] === 'page') {
                return $case['entry'];
            }
        }
        throw new \RuntimeException('no page entry among the vectors');
    }

    private static function config(): array
    {
        return ['site' => 'https://a.example/', 'rules' => [['namespace' => '', 'role' => ['type' => 'peer']]], 'lock_seconds' => 900, 'media_type' => 'text/x-dokuwiki'];
    }

    /** Runs $f, expecting an exception of $class with error code $code; returns it. */
    private function thrown(string $class, string $code, callable $f): Exception
    {
        try {
            $f();
        } catch (Exception $e) {
            $this->assertSame($class, get_class($e), $e->getMessage());
            $this->assertSame($code, $e->getErrorCode(), $e->getMessage());
            $this->assertNotSame('', $e->getMessage());
            return $e;
        }
        $this->fail("no $class was thrown");
    }

    public function testHierarchy(): void
    {
        $this->assertTrue(is_subclass_of(Exception::class, \Exception::class));
        foreach ([PageIdException::class, DecodeException::class, InvalidArgumentException::class] as $class) {
            $this->assertTrue(is_subclass_of($class, Exception::class), $class);
            $this->assertTrue(method_exists($class, 'getErrorCode'), $class);
        }
    }

    public function testPageIdExceptionCarriesTheCoreCode(): void
    {
        $e = $this->thrown(PageIdException::class, 'path_traversal', fn () => PageId::clean('wiki:..:secret'));
        $this->assertStringContainsString('..', $e->getMessage());
        $this->assertInstanceOf(\Exception::class, $e);
        $this->thrown(PageIdException::class, 'path_separator', fn () => PageId::clean('a/b'));
        $this->thrown(PageIdException::class, 'empty', fn () => Sync::newState('::'));
    }

    public function testPageIdInsideAnArgumentIsAPageIdException(): void
    {
        $entry = self::entry();
        $entry['page'] = '/etc/passwd';
        $this->thrown(PageIdException::class, 'absolute_path', fn () => Entry::encode($entry));
        $state = Sync::newState('wiki:start');
        $state['page'] = "bad\0id";
        $this->thrown(PageIdException::class, 'control_character', fn () => Sync::handle(self::config(), $state, ['type' => 'tick', 'now' => 1]));
    }

    public function testDecodeExceptionCarriesTheCoreCode(): void
    {
        $xml = Entry::encode(self::entry());
        $this->thrown(DecodeException::class, 'too_large', fn () => Entry::decode($xml, 10));
        $this->thrown(DecodeException::class, 'malformed_xml', fn () => Entry::decode('<entry'));
        $this->thrown(DecodeException::class, 'doctype', fn () => Entry::decode('<!DOCTYPE x [<!ENTITY a "b">]><entry/>'));
        // Bytes that are not UTF-8 reach the decoder (a string parameter is bytes in PHP).
        $this->thrown(DecodeException::class, 'malformed_xml', fn () => Entry::decode("<entry>\xff</entry>"));
        $this->assertSame(self::entry()['page'], Entry::decode($xml)['page']);
    }

    public function testEveryExceptionIsCaughtAsTheBaseClass(): void
    {
        $caught = [];
        foreach ([
            fn () => PageId::clean('..'),
            fn () => Entry::decode('nope'),
            fn () => Merge::merge('a', 'b', 'c', ['words' => 'yes']),
        ] as $f) {
            try {
                $f();
            } catch (Exception $e) {
                $caught[] = $e->getErrorCode();
            }
        }
        $this->assertSame(['path_traversal', 'malformed_xml', 'invalid_argument'], $caught);
    }

    public function badShapes(): array
    {
        $entry = self::entry();
        $noTitle = $entry;
        unset($noTitle['title']);
        $badKind = $entry;
        $badKind['kind']['type'] = 'poem';
        $stringRevision = $entry;
        $stringRevision['revision']['revision'] = 'one';
        $negativeRevision = $entry;
        $negativeRevision['revision']['revision'] = -1;
        $objectInside = $entry;
        $objectInside['summary'] = new \stdClass();
        $self = ['a' => 1];
        $self['self'] = &$self;
        $deep = [];
        for ($i = 0; $i < 200; $i++) {
            $deep = [$deep];
        }
        $state = Sync::newState('wiki:start');
        $config = self::config();
        return [
            'entry without title' => [fn () => Entry::encode($noTitle)],
            'unknown entry kind' => [fn () => Entry::encode($badKind)],
            'string revision' => [fn () => Entry::encode($stringRevision)],
            'negative revision' => [fn () => Entry::encode($negativeRevision)],
            'object inside an array' => [fn () => Entry::encode($objectInside)],
            'a list instead of an entry' => [fn () => Entry::encode([1, 2, 3])],
            'empty entry' => [fn () => Entry::encode([])],
            'self-referencing array' => [fn () => Entry::encode($self)],
            'arrays nested 200 deep' => [fn () => Entry::encode(['title' => $deep])],
            'negative maxBytes' => [fn () => Entry::decode('<entry/>', -1)],
            'non-UTF-8 page id' => [fn () => PageId::clean("wiki:\xc3\x28")],
            'non-UTF-8 text to hash' => [fn () => Hash::sha256("\xff")],
            'non-UTF-8 merge input' => [fn () => Merge::merge("a\n", "\xfe\n", "a\n")],
            'unknown merge option' => [fn () => Merge::merge('a', 'a', 'a', ['colour' => true])],
            'two labels' => [fn () => Merge::merge('a', 'a', 'a', ['labels' => ['x', 'y']])],
            'negative marker size' => [fn () => Merge::merge('a', 'a', 'a', ['marker_size' => -7])],
            'unknown input type' => [fn () => Sync::handle($config, $state, ['type' => 'dance', 'now' => 1])],
            'input without now' => [fn () => Sync::handle($config, $state, ['type' => 'tick'])],
            'config without site' => [fn () => Sync::handle(['rules' => []], $state, ['type' => 'tick', 'now' => 1])],
            'state that is a list' => [fn () => Sync::handle($config, ['wiki:start'], ['type' => 'tick', 'now' => 1])],
            'announce without new_source' => [fn () => Sync::handle($config, $state, ['type' => 'announce_source_move', 'now' => 1])],
            'conflict without regions' => [fn () => Sync::renderConflict(['left' => 'a', 'right' => 'b'])],
        ];
    }

    /** @dataProvider badShapes */
    public function testBadShapeIsAnInvalidArgumentException(callable $f): void
    {
        $this->thrown(InvalidArgumentException::class, 'invalid_argument', $f);
    }

    public function testWrongPhpTypesAreTypeErrors(): void
    {
        foreach ([
            fn () => Entry::encode('not an array'),
            fn () => Sync::handle([], [], 'tick'),
            fn () => Merge::merge([], 'a', 'b'),
        ] as $f) {
            try {
                $f();
                $this->fail('no TypeError');
            } catch (\TypeError $e) {
                $this->assertStringContainsString('argument', $e->getMessage());
            }
        }
    }

    public function testGoodShapesStillWork(): void
    {
        // Labels keyed by name, marker size, diff3, and empty PHP arrays where the core has maps.
        $m = Merge::merge("a\nb\n", "a\nc\n", "a\nd\n", ['labels' => ['ours' => 'mine', 'base' => 'old', 'theirs' => 'yours'], 'marker_size' => 3, 'diff3' => true, 'words' => false]);
        $this->assertSame("a\n<<< mine\nc\n||| old\nb\n===\nd\n>>> yours\n", $m['text']);
        $this->assertFalse($m['clean']);
        $state = Sync::newState('Wiki:Start');
        $this->assertSame('wiki:start', $state['page']);
        $this->assertSame([], $state['clock']);
        $d = Sync::handle(self::config(), $state, ['type' => 'editor_opened', 'editor' => 'alice', 'now' => 100]);
        $this->assertSame('awaiting_local_save', $d['state']['lock']['type']);
        $this->assertSame([], $d['state']['lock']['opened'], 'an empty clock inside a tagged enum');
        // The new state, with its empty clock inside the lock, is accepted back.
        $closed = Sync::handle(self::config(), $d['state'], ['type' => 'editor_closed', 'editor' => 'alice', 'now' => 101]);
        $this->assertSame('free', $closed['state']['lock']['type']);
        $this->assertSame(hash('sha256', 'Grüße'), Hash::sha256('Grüße'));
    }

    public function testAnnounceSourceMoveIsAnInput(): void
    {
        $config = ['site' => 'https://a.example/', 'rules' => [['namespace' => '', 'role' => ['type' => 'source']]], 'lock_seconds' => 900, 'media_type' => 'text/x-dokuwiki'];
        $saved = Sync::handle($config, Sync::newState('wiki:start'), ['type' => 'local_save', 'now' => 10, 'edit' => ['change' => ['type' => 'text', 'text' => "hi\n"], 'author' => 'alice', 'summary' => null, 'minor' => false, 'revision' => 10]]);
        $this->assertSame('publish', $saved['outcome']['type']);
        $moved = Sync::handle($config, $saved['state'], ['type' => 'announce_source_move', 'new_source' => 'https://b.example/', 'now' => 20]);
        $this->assertSame('publish', $moved['actions'][0]['type']);
        $this->assertSame('https://b.example/', $moved['actions'][0]['entry']['source']);
    }
}
