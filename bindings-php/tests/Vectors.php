<?php
declare(strict_types=1);

namespace WikiSync\Tests;

/** Helpers shared by the tests: the vector files and a strict, key-order-free comparison. */
final class Vectors
{
    /** The cases of tests/vectors/<name>.json at the workspace root. */
    public static function cases(string $name): array
    {
        $doc = self::document($name);
        if (!is_string($doc['description'] ?? null) || $doc['description'] === '') {
            throw new \RuntimeException("$name.json has no description");
        }
        return $doc['cases'];
    }

    /** The whole document of tests/vectors/<name>.json, for files with more than `cases`. */
    public static function document(string $name): array
    {
        $path = dirname(__DIR__, 2) . "/tests/vectors/$name.json";
        return json_decode((string) file_get_contents($path), true, 512, JSON_THROW_ON_ERROR);
    }

    /** A page state of a vector (a JSON object) as the opaque text the extension takes. */
    public static function state(array $state): string
    {
        return json_encode($state, JSON_THROW_ON_ERROR);
    }

    /**
     * What the Rust runner compares of a new state: the test looks inside the opaque state to
     * check the pinned essentials; hosts never do.
     */
    public static function essentials(string $state): array
    {
        $s = json_decode($state, true, 512, JSON_THROW_ON_ERROR);
        return ['clock' => $s['clock'], 'text' => $s['text'], 'lock' => $s['lock']];
    }

    /** Data provider form: [case name => [case]]. */
    public static function provider(string $name): array
    {
        $out = [];
        foreach (self::cases($name) as $case) {
            $out[$case['name']] = [$case];
        }
        return $out;
    }

    /**
     * The value with every associative array's keys sorted, recursively, so that two values
     * that are equal as JSON compare identical with assertSame (strict types, no juggling).
     */
    public static function canon(mixed $value): mixed
    {
        if (!is_array($value)) {
            return $value;
        }
        $out = [];
        foreach ($value as $k => $v) {
            $out[$k] = self::canon($v);
        }
        if (!array_is_list($out)) {
            ksort($out, SORT_STRING);
        }
        return $out;
    }
}
