// Runs the shared suite (suite.js) in Node with node:test, against the built package in ../pkg.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as api from '../pkg/node.js';
import { defineSuite } from './suite.js';

const vectors = {};
for (const name of ['page_ids', 'entries', 'merge', 'decisions', 'locks']) {
  const url = new URL(`../../tests/vectors/${name}.json`, import.meta.url);
  vectors[name] = JSON.parse(readFileSync(url, 'utf8'));
}

defineSuite({ test, assert, api, vectors });
