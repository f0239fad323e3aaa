<?php
declare(strict_types=1);

namespace WikiSync\Tests;

/** Helpers shared by the tests: the vector files and a strict, key-order-free comparison. */
final class Vectors
{
    /** The cases of tests/vectors/<name>.json at the workspace root. */
    public static function cases(string $name): array
    {
        $path = dirname(__DIR__, 2) . "/tests/vectors/$name.json";
        $doc = json_decode((string) file_get_contents($path), true, 512, JSON_THROW_ON_ERROR);
        if (!is_string($doc['description'] ?? null) || $doc['description'] === '') {
            throw new \RuntimeException("$name.json has no description");
        }
        return $doc['cases'];
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
