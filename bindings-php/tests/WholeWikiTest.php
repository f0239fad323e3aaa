<?php
declare(strict_types=1);

namespace WikiSync\Tests;

use PHPUnit\Framework\TestCase;
use WikiSync\Entry;
use WikiSync\MediaException;
use WikiSync\Sync;

/**
 * The API a host needs to keep a whole wiki in sync (issue #11): media files travelling inside
 * their entry or by reference, bare retractions, and what to tell an administrator. Media bytes
 * are base64 strings in the arrays (as in JSON); PHP strings are bytes, so a host decodes them
 * with base64_decode and checks fetched ones with Entry::verifyMedia.
 */
final class WholeWikiTest extends TestCase
{
    private const A = 'https://a.example/';
    private const B = 'https://b.example/';

    private static function config(array $role, string $site): array
    {
        return [
            'site' => $site, 'rules' => [['namespace' => 'wiki', 'role' => $role]], 'lockSeconds' => 900,
            'mediaType' => 'text/x-dokuwiki', 'mediaInlineMax' => 16,
            'mediaUrl' => $site . 'media-fetch?media={media}&rev={revision}&sha256={sha256}',
        ];
    }

    private static function source(): array
    {
        return self::config(['type' => 'source'], self::A);
    }

    private static function mirror(): array
    {
        return self::config(['type' => 'mirror', 'source' => self::A, 'whenGone' => 'keep'], 'https://b.example/');
    }

    private static function upload(string $bytes, int $revision): array
    {
        $change = ['type' => 'file', 'data' => base64_encode($bytes), 'mediaType' => 'image/png'];
        return ['type' => 'mediaSaved', 'edit' => ['change' => $change, 'author' => 'alice', 'summary' => 'logo', 'revision' => $revision]];
    }

    /** Publishes an upload at the source and delivers the entry, through Atom XML, to the mirror. */
    private function travel(array $input, string $sourceState, string $mirrorState, int $now): array
    {
        $published = Sync::handle(self::source(), $sourceState, $input, $now);
        $this->assertSame('publish', $published['outcome']['type']);
        $entry = Entry::decode(Entry::encode($published['actions'][0]['entry']));
        $notification = ['type' => 'notification', 'localText' => null, 'entry' => $entry];
        return [$published['state'], $entry, Sync::handle(self::mirror(), $mirrorState, $notification, $now + 1)];
    }

    public function testMediaFilesTravelInsideTheirEntryOrByReference(): void
    {
        $small = "\x89PNG\r\n\x1a\n\0";
        [$atA, $entry, $atB] = $this->travel(self::upload($small, 100), Sync::newState('wiki:logo.png'), Sync::newState('wiki:logo.png'), 100);
        $this->assertSame(base64_encode($small), $entry['kind']['data']);
        $this->assertNull($entry['kind']['url']);
        $this->assertSame('create', $atB['outcome']['type']);
        $write = $atB['actions'][0];
        $this->assertSame(['writeMedia', 'image/png', hash('sha256', $small), strlen($small)], [$write['type'], $write['mediaType'], $write['sha256'], $write['size']]);
        $bytes = base64_decode($write['data'], true);
        $this->assertSame($small, $bytes);
        Entry::verifyMedia($bytes, $write['sha256'], $write['size']);
        $this->assertFalse(Sync::mediaNeedsPublish($atA, hash('sha256', $small)));
        $this->assertTrue(Sync::mediaNeedsPublish($atA, hash('sha256', 'other')));

        // Over mediaInlineMax: by reference, the source's mediaUrl with the hash as capability.
        $large = str_repeat("\xff\0", 40);
        [, $entry, $atB] = $this->travel(self::upload($large, 200), $atA, $atB['state'], 200);
        $this->assertNull($entry['kind']['data']);
        $sha256 = hash('sha256', $large);
        $this->assertSame(self::A . "media-fetch?media=wiki:logo.png&rev=200&sha256=$sha256", $entry['kind']['url']);
        $this->assertSame('update', $atB['outcome']['type']);
        $write = $atB['actions'][0];
        $this->assertSame([null, $entry['kind']['url']], [$write['data'], $write['url']]);
        Entry::verifyMedia($large, $write['sha256'], $write['size']);
        try {
            Entry::verifyMedia(substr($large, 0, -1) . 'x', $write['sha256'], $write['size']);
            $this->fail('corrupt bytes accepted');
        } catch (MediaException $e) {
            $this->assertSame('hash_mismatch', $e->getErrorCode());
        }

        // A bare retraction at the mirror: the node no longer carries the file.
        $retracted = Sync::handle(self::mirror(), $atB['state'], ['type' => 'retracted', 'item' => $entry['atomId']], 300);
        $this->assertSame('delete', $retracted['outcome']['type']);
        $this->assertSame('deleteMedia', $retracted['actions'][0]['type']);
    }

    public function testAMirrorRefusesUploads(): void
    {
        $refused = Sync::handle(self::mirror(), Sync::newState('wiki:logo.png'), self::upload('x', 1), 1);
        $this->assertSame(['reason' => 'mirror', 'type' => 'refuse'], $refused['outcome']);
    }

    public function testItemSubjects(): void
    {
        $this->assertSame(['page' => 'wiki:start', 'type' => 'page'], Entry::itemSubject('urn:x-wikisync:page:wiki:start'));
        $this->assertSame(['page' => 'wiki:start', 'type' => 'draft'], Entry::itemSubject('urn:x-wikisync:draft:wiki:start'));
        $this->assertSame(['media' => 'wiki:logo.png', 'type' => 'media'], Entry::itemSubject('urn:x-wikisync:media:wiki:logo.png'));
        foreach (['urn:x-wikisync:page:../etc', 'urn:x-wikisync:page:Wiki:Start', 'current', ''] as $other) {
            $this->assertNull(Entry::itemSubject($other), $other);
        }
    }

    public function testWorthReporting(): void
    {
        foreach (['notFromSource', 'notFromPeer', 'wrongPublisher', 'outsideNamespace', 'notSynced', 'sourceIsAuthoritative', 'tooLarge', 'mediaUnavailable'] as $reason) {
            $this->assertTrue(Sync::worthReporting($reason), $reason);
        }
        foreach (['ownEcho', 'duplicate', 'stale', 'lockItem', 'nothingExpired'] as $reason) {
            $this->assertFalse(Sync::worthReporting($reason), $reason);
        }
    }

    public function testRetractionsNameTheirItem(): void
    {
        $xml = '<at:deleted-entry xmlns:at="http://purl.org/atompub/tombstones/1.0" ref="urn:x-wikisync:media:wiki:logo.png" when="2026-11-21T10:00:00Z"/>';
        $this->assertSame('urn:x-wikisync:media:wiki:logo.png', Entry::decodeRetraction($xml));
        $this->expectException(\WikiSync\DecodeException::class);
        Entry::decodeRetraction('<feed xmlns="http://www.w3.org/2005/Atom"/>');
    }

    public function testNoticesWorthReporting(): void
    {
        $this->assertTrue(Sync::noticeWorthReporting(['type' => 'mediaTooLarge', 'size' => 10, 'max' => 5]));
        $this->assertFalse(Sync::noticeWorthReporting(['type' => 'mirroredFrom', 'source' => self::A]));
    }

    public function testSubscriptionsHeal(): void
    {
        $config = ['site' => self::B, 'lockSeconds' => 900, 'mediaType' => 'text/x-dokuwiki', 'leaseSeconds' => 1000,
            'sourceGraceSeconds' => 5000, 'rules' => [['namespace' => 'doc',
                'role' => ['type' => 'mirror', 'source' => self::A, 'whenGone' => 'keep']]]];
        $step = Sync::checkSubscription($config, 'doc', ['type' => 'active', 'expires' => 1500], 1000);
        $this->assertSame(['type' => 'renew'], $step);
        $step = Sync::checkSubscription($config, 'doc', ['type' => 'dropped', 'reason' => 'nodeDeleted', 'at' => 900,
            'redirect' => 'xmpp:other.example?;node=doc'], 1000);
        $this->assertSame(['node' => 'xmpp:other.example?;node=doc', 'type' => 'follow'], $step);
        $this->assertSame(['type' => 'wait'], Sync::checkSubscription($config, 'doc', ['type' => 'unreachable'], 1000));
        $silent = ['type' => 'active', 'expires' => 9900, 'sourceSeen' => 1000];
        $this->assertSame(['type' => 'sourceGone'], Sync::checkSubscription($config, 'doc', $silent, 9000));
        $this->assertFalse(Sync::sendsHeartbeat($config, 'doc'));
    }
}
