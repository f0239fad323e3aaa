<?php
declare(strict_types=1);

namespace WikiSync\Tests;

use PHPUnit\Framework\TestCase;
use WikiSync\DecodeException;
use WikiSync\Entry;
use WikiSync\Exception;
use WikiSync\Hash;
use WikiSync\InvalidArgumentException;
use WikiSync\MediaException;
use WikiSync\Merge;
use WikiSync\Node;
use WikiSync\PageId;
use WikiSync\PageIdException;
use WikiSync\SetupException;
use WikiSync\Sync;

/**
 * The exception classes and their codes, and arguments of the wrong shape: every failure is a
 * typed WikiSync\Exception (or PHP's own TypeError for a parameter of the wrong PHP type), never
 * a crash or a fatal error.
 */
final class ErrorsTest extends TestCase
{
    private const NODE = 'xmpp:pubsub.example.org?;node=doc';

    private static function entry(): array
    {
        foreach (Vectors::cases('entries') as $case) {
            if ($case['op'] === 'encode' && $case['entry']['kind']['type'] === 'page') {
                return $case['entry'];
            }
        }
        throw new \RuntimeException('no page entry among the vectors');
    }

    private static function config(string $role = 'peer'): array
    {
        return ['site' => 'https://a.example/', 'rules' => [['namespace' => '', 'role' => ['type' => $role]]], 'lockSeconds' => 900, 'mediaType' => 'text/x-dokuwiki'];
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
        $this->assertSame(\Exception::class, get_parent_class(Exception::class));
        foreach ([PageIdException::class, DecodeException::class, SetupException::class, MediaException::class, InvalidArgumentException::class] as $class) {
            $this->assertSame(Exception::class, get_parent_class($class), $class);
            $this->assertTrue(method_exists($class, 'getErrorCode'), $class);
        }
    }

    public function testExceptionsPointAtTheCallingCode(): void
    {
        $line = __LINE__ + 2;
        try {
            PageId::clean('wiki:..:secret');
            $this->fail('no exception');
        } catch (PageIdException $e) {
            $this->assertSame(__FILE__, $e->getFile());
            $this->assertSame($line, $e->getLine());
            $frame = $e->getTrace()[0];
            $this->assertSame(['WikiSync\PageId', 'clean', __FILE__, $line], [$frame['class'], $frame['function'], $frame['file'], $frame['line']]);
        }
    }

    public function testPhpCodeMayConstructAndThrowThem(): void
    {
        $e = new SetupException('made in PHP', 7);
        $this->assertSame(['made in PHP', 7, ''], [$e->getMessage(), $e->getCode(), $e->getErrorCode()]);
        $this->expectException(Exception::class);
        throw $e;
    }

    public function testPageIdExceptionCarriesTheCoreCode(): void
    {
        $e = $this->thrown(PageIdException::class, 'path_traversal', fn () => PageId::clean('wiki:..:secret'));
        $this->assertStringContainsString('..', $e->getMessage());
        $this->assertInstanceOf(\Exception::class, $e);
        $this->thrown(PageIdException::class, 'path_separator', fn () => PageId::clean('a/b'));
        $this->thrown(PageIdException::class, 'empty', fn () => Sync::newState('::'));
        $this->thrown(PageIdException::class, 'path_traversal', fn () => Sync::namespaceOf(self::config(), '..'));
        $this->thrown(PageIdException::class, 'absolute_path', fn () => Sync::isReadOnly(self::config(), '/etc/passwd'));
    }

    public function testPageIdInsideAnArgumentIsAPageIdException(): void
    {
        $entry = self::entry();
        $entry['page'] = '/etc/passwd';
        $this->thrown(PageIdException::class, 'absolute_path', fn () => Entry::encode($entry));
        $input = ['type' => 'notification', 'localText' => null, 'entry' => $entry];
        $this->thrown(PageIdException::class, 'absolute_path', fn () => Sync::handle(self::config(), Sync::newState('wiki:start'), $input, 1));
        $state = json_decode(Sync::newState('wiki:start'), true);
        $state['page'] = "bad\0id";
        $this->thrown(PageIdException::class, 'control_character', fn () => Sync::handle(self::config(), json_encode($state), ['type' => 'tick'], 1));
    }

    public function testDecodeExceptionCarriesTheCoreCode(): void
    {
        $xml = Entry::encode(self::entry());
        $this->thrown(DecodeException::class, 'too_large', fn () => Entry::decode($xml, 10));
        $this->thrown(DecodeException::class, 'malformed_xml', fn () => Entry::decode('<entry'));
        $this->thrown(DecodeException::class, 'doctype', fn () => Entry::decode('<!DOCTYPE x [<!ENTITY a "b">]><entry/>'));
        // Bytes that are not UTF-8 reach the decoder (a string parameter is bytes in PHP).
        $this->thrown(DecodeException::class, 'malformed_xml', fn () => Entry::decode("<entry>\xff</entry>"));
        $this->thrown(DecodeException::class, 'not_a_feed', fn () => Entry::decodeFeed('<html/>'));
        $this->assertSame(self::entry()['page'], Entry::decode($xml)['page']);
    }

    public function testSetupExceptionCarriesTheCoreCode(): void
    {
        $this->thrown(SetupException::class, 'not_synced', fn () => Sync::planSetup(null, ['type' => 'remove']));
        $peer = ['role' => ['type' => 'peer'], 'node' => self::NODE, 'subscribed' => true];
        $this->thrown(SetupException::class, 'not_source', fn () => Sync::planSetup($peer, ['type' => 'retire']));
        $this->thrown(SetupException::class, 'bad_node', fn () => Sync::planSetup(null, ['type' => 'source', 'node' => 'https://not.a/node']));
        $this->assertSame([['type' => 'forgetRule']], Sync::planSetup(['subscribed' => false] + $peer, ['type' => 'remove']));
    }

    public function testSetupExceptionForFollowingAndCheckingASource(): void
    {
        $follow = ['type' => 'follow', 'node' => self::NODE, 'source' => null];
        $this->thrown(SetupException::class, 'not_following', fn () => Sync::planSetup(null, $follow));
        $entry = self::entry();
        $entry['source'] = 'https://b.example/';
        $e = $this->thrown(SetupException::class, 'wrong_source', fn () => Sync::checkMirrorSource('https://a.example', [$entry]));
        $this->assertStringContainsString('https://b.example/', $e->getMessage());
        Sync::checkMirrorSource('HTTPS://B.example:443', [$entry]);
        Sync::checkMirrorSource('https://a.example/', []);
    }

    public function testMediaExceptionCarriesTheCoreCode(): void
    {
        $bytes = "\x89PNG\r\n\x1a\n\0\xff";
        $sha256 = hash('sha256', $bytes);
        Entry::verifyMedia($bytes, $sha256, strlen($bytes));
        Entry::verifyMedia($bytes, strtoupper($sha256), strlen($bytes));
        $this->thrown(MediaException::class, 'size_mismatch', fn () => Entry::verifyMedia(substr($bytes, 1), $sha256, strlen($bytes)));
        $e = $this->thrown(MediaException::class, 'hash_mismatch', fn () => Entry::verifyMedia(strrev($bytes), $sha256, strlen($bytes)));
        $this->assertStringContainsString($sha256, $e->getMessage());
    }

    public function testEveryExceptionIsCaughtAsTheBaseClass(): void
    {
        $caught = [];
        foreach ([
            fn () => PageId::clean('..'),
            fn () => Entry::decode('nope'),
            fn () => Sync::planSetup(null, ['type' => 'remove']),
            fn () => Entry::verifyMedia('a', hash('sha256', 'a'), 2),
            fn () => Merge::merge('a', 'b', 'c', ['words' => 'yes']),
        ] as $f) {
            try {
                $f();
            } catch (Exception $e) {
                $caught[] = $e->getErrorCode();
            }
        }
        $this->assertSame(['path_traversal', 'malformed_xml', 'not_synced', 'size_mismatch', 'invalid_argument'], $caught);
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
        $nanInside = $entry;
        $nanInside['updated'] = NAN;
        $snakeCase = $entry;
        unset($snakeCase['atomId']);
        $snakeCase['atom_id'] = $entry['atomId'];
        $badKey = $entry;
        $badKey["\xff"] = 1;
        $badString = $entry;
        $badString['summary'] = "caf\xe9";
        $self = ['a' => 1];
        $self['self'] = &$self;
        $deep = [];
        for ($i = 0; $i < 200; $i++) {
            $deep = [$deep];
        }
        $state = Sync::newState('wiki:start');
        $config = self::config();
        $tick = ['type' => 'tick'];
        return [
            'entry without title' => [fn () => Entry::encode($noTitle)],
            'unknown entry kind' => [fn () => Entry::encode($badKind)],
            'string revision' => [fn () => Entry::encode($stringRevision)],
            'negative revision' => [fn () => Entry::encode($negativeRevision)],
            'object inside an array' => [fn () => Entry::encode($objectInside)],
            'NAN inside an array' => [fn () => Entry::encode($nanInside)],
            'snake_case key' => [fn () => Entry::encode($snakeCase)],
            'non-UTF-8 key' => [fn () => Entry::encode($badKey)],
            'non-UTF-8 string inside an array' => [fn () => Entry::encode($badString)],
            'a list instead of an entry' => [fn () => Entry::encode([1, 2, 3])],
            'empty entry' => [fn () => Entry::encode([])],
            'self-referencing array' => [fn () => Entry::encode($self)],
            'arrays nested 200 deep' => [fn () => Entry::encode(['title' => $deep])],
            'negative maxBytes' => [fn () => Entry::decode('<entry/>', -1)],
            'negative maxBytes for a feed' => [fn () => Entry::decodeFeed('<feed/>', -1)],
            'non-UTF-8 page id' => [fn () => PageId::clean("wiki:\xc3\x28")],
            'non-UTF-8 text to hash' => [fn () => Hash::sha256("\xff")],
            'non-UTF-8 merge input' => [fn () => Merge::merge("a\n", "\xfe\n", "a\n")],
            'non-UTF-8 node URI' => [fn () => Node::same("xmpp:\xff", 'xmpp:a')],
            'unknown merge option' => [fn () => Merge::merge('a', 'a', 'a', ['colour' => true])],
            'snake_case merge option' => [fn () => Merge::merge('a', 'a', 'a', ['marker_size' => 3])],
            'two labels' => [fn () => Merge::merge('a', 'a', 'a', ['labels' => ['x', 'y']])],
            'negative marker size' => [fn () => Merge::merge('a', 'a', 'a', ['markerSize' => -7])],
            'unknown input type' => [fn () => Sync::handle($config, $state, ['type' => 'dance'], 1)],
            'snake_case input type' => [fn () => Sync::handle($config, $state, ['type' => 'editor_opened', 'editor' => 'a'], 1)],
            'input without type' => [fn () => Sync::handle($config, $state, [], 1)],
            'config without site' => [fn () => Sync::handle(['rules' => []], $state, $tick, 1)],
            'state that is not JSON' => [fn () => Sync::handle($config, 'wiki:start', $tick, 1)],
            'state that is a JSON list' => [fn () => Sync::handle($config, '[]', $tick, 1)],
            'state that is not UTF-8' => [fn () => Sync::notices($config, "\xff", 1)],
            'announce without newSource' => [fn () => Sync::handle($config, $state, ['type' => 'announceSourceMove'], 1)],
            'conflict without regions' => [fn () => Sync::renderConflict(['left' => 'a', 'right' => 'b'])],
            'state for conflict that is not JSON' => [fn () => Sync::conflict('{')],
            'non-UTF-8 text for needsPublish' => [fn () => Sync::needsPublish($state, "\xff")],
            'negative status' => [fn () => Sync::publishFailure(-1)],
            'status beyond HTTP' => [fn () => Sync::publishFailure(70000)],
            'unknown setup request' => [fn () => Sync::planSetup(null, ['type' => 'dance'])],
            'current setup without role' => [fn () => Sync::planSetup(['node' => null, 'subscribed' => false], ['type' => 'remove'])],
            'config for namespaceOf that is a list' => [fn () => Sync::namespaceOf([1], 'wiki:start')],
            'negative media size' => [fn () => Entry::verifyMedia('', hash('sha256', ''), -1)],
            'non-UTF-8 media hash' => [fn () => Entry::verifyMedia('', "\xff", 0)],
            'non-UTF-8 item id' => [fn () => Entry::itemSubject("urn:x-wikisync:page:\xff")],
            'non-UTF-8 site id' => [fn () => Sync::siteId("https://\xff/")],
            'non-UTF-8 hash for mediaNeedsPublish' => [fn () => Sync::mediaNeedsPublish($state, "\xff")],
            'entries that are not entries' => [fn () => Sync::sourceOfItems([['page' => 'a']])],
            'an entry instead of a list of them' => [fn () => Sync::checkMirrorSource('s', self::entry())],
            'unknown ignore reason' => [fn () => Sync::worthReporting('bored')],
            'snake_case ignore reason' => [fn () => Sync::worthReporting('not_from_source')],
            'follow without a node' => [fn () => Sync::planSetup(null, ['type' => 'follow'])],
        ];
    }

    /** @dataProvider badShapes */
    public function testBadShapeIsAnInvalidArgumentException(callable $f): void
    {
        $this->thrown(InvalidArgumentException::class, 'invalid_argument', $f);
    }

    public function testShapeErrorsSayWhichArgument(): void
    {
        $e = $this->thrown(InvalidArgumentException::class, 'invalid_argument', fn () => Sync::handle(self::config(), Sync::newState('a'), ['type' => 'dance'], 1));
        $this->assertStringStartsWith('input: ', $e->getMessage());
        $deep = [];
        for ($i = 0; $i < 100; $i++) {
            $deep = [$deep];
        }
        $e = $this->thrown(InvalidArgumentException::class, 'invalid_argument', fn () => Entry::encode(['kind' => $deep]));
        $this->assertStringContainsString('nests arrays more than 64 deep', $e->getMessage());
        $e = $this->thrown(InvalidArgumentException::class, 'invalid_argument', fn () => Hash::sha256("\xff"));
        $this->assertStringStartsWith('text is not valid UTF-8', $e->getMessage());
    }

    public function testWrongPhpTypesAreTypeErrors(): void
    {
        foreach ([
            fn () => Entry::encode('not an array'),
            fn () => Sync::handle([], [], ['type' => 'tick'], 1),
            fn () => Sync::handle([], '{}', 'tick', 1),
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
        // Labels keyed by name, marker size, diff3; no options as [], null or nothing.
        $m = Merge::merge("a\nb\n", "a\nc\n", "a\nd\n", ['labels' => ['ours' => 'mine', 'base' => 'old', 'theirs' => 'yours'], 'markerSize' => 3, 'diff3' => true, 'words' => false]);
        $this->assertSame("a\n<<< mine\nc\n||| old\nb\n===\nd\n>>> yours\n", $m['text']);
        $this->assertFalse($m['clean']);
        $plain = Merge::merge("a\nb\n", "a\nc\n", "a\nd\n");
        $this->assertSame($plain, Merge::merge("a\nb\n", "a\nc\n", "a\nd\n", []));
        $this->assertSame($plain, Merge::merge("a\nb\n", "a\nc\n", "a\nd\n", null));
        $this->assertSame(hash('sha256', 'Grüße'), Hash::sha256('Grüße'));
        // The state is opaque text that round-trips through every call.
        $state = Sync::newState('Wiki:Start');
        $this->assertIsString($state);
        $this->assertNull(Sync::conflict($state));
        $this->assertTrue(Sync::needsPublish($state, null));
        $d = Sync::handle(self::config(), $state, ['type' => 'editorOpened', 'editor' => 'alice'], 100);
        $this->assertSame('lock', $d['outcome']['type']);
        $this->assertSame('publish', $d['actions'][0]['type']);
        $closed = Sync::handle(self::config(), $d['state'], ['type' => 'editorClosed', 'editor' => 'alice'], 101);
        $this->assertSame('unlock', $closed['outcome']['type']);
        $this->assertSame([], Sync::notices(self::config(), $closed['state'], 102));
    }

    public function testAnnounceSourceMoveIsAnInput(): void
    {
        $config = self::config('source');
        $edit = ['change' => ['type' => 'text', 'text' => "hi\n"], 'author' => 'alice', 'summary' => null, 'minor' => false, 'revision' => 10];
        $saved = Sync::handle($config, Sync::newState('wiki:start'), ['type' => 'localSave', 'edit' => $edit], 10);
        $this->assertSame('publish', $saved['outcome']['type']);
        $this->assertFalse(Sync::needsPublish($saved['state'], "hi\n"));
        $moved = Sync::handle($config, $saved['state'], ['type' => 'announceSourceMove', 'newSource' => 'https://b.example/'], 20);
        $this->assertSame('publish', $moved['actions'][0]['type']);
        $this->assertSame('https://b.example/', $moved['actions'][0]['entry']['source']);
    }
}
