// Reading a scenario file: YAML (integers as exact bigints) into a validated Scenario. Every
// problem becomes one line `file:line: key.path: message`, the line found by walking the
// YAML document along the zod issue's path; all problems are reported together and nothing
// runs when there is any.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type * as z from 'zod';
import { at, ScenarioError } from './errors.js';
import { scenarioSchemaFor, type Scenario } from './schema.js';
import { MISSING } from './values.js';

export type KeyPath = readonly (string | number)[];

/** Where a scenario came from, to name lines in errors found later (while running). */
export interface ScenarioSource {
  /** The file name as given (used in messages). */
  file: string;
  /** Directory that relative paths in the scenario (dts, dtb) are relative to. */
  dir: string;
  /** The line of the value at `path` (or of its deepest existing ancestor), 1-based. */
  locate(path: KeyPath): number | null;
}

export interface LoadedScenario {
  scenario: Scenario;
  source: ScenarioSource;
}

/** Reads and validates the scenario file at `file`. */
export function loadScenario(file: string, options: { name?: string } = {}): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : err instanceof Error ? err.message : String(err);
    throw new ScenarioError([`${options.name ?? file}: cannot read scenario: ${why}`]);
  }
  return parseScenario(text, { file: options.name ?? file, dir: dirname(resolve(file)) });
}

/** Validates scenario text; `file` names it in messages, `dir` anchors relative paths. */
export function parseScenario(text: string, options: { file: string; dir?: string }): LoadedScenario {
  const { file } = options;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, intAsBigInt: true, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number): number => lineCounter.linePos(offset).line;
  const source: ScenarioSource = { file, dir: options.dir ?? process.cwd(), locate: (path) => locateLine(doc, path, lineOf) };
  if (doc.errors.length > 0) {
    throw new ScenarioError(doc.errors.map((e) => `${at(file, e.linePos?.[0].line ?? lineOf(e.pos[0]))}YAML: ${firstLine(e.message)}`));
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (raw === null || raw === undefined) throw new ScenarioError([`${file}: the scenario is empty; it needs at least "steps:"`]);
  const result = scenarioSchemaFor(raw).safeParse(raw);
  if (!result.success) {
    // In file order, whatever order the schema checked them in.
    const problems = result.error.issues.map((issue) => formatIssue(issue, raw, source));
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ScenarioError(problems.map((p) => p.text));
  }
  return { scenario: result.data, source };
}

/** YAML messages end with " at line L, column C:" and a code excerpt: keep the words. */
function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/** `steps[3].map.size` */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

function formatIssue(issue: z.core.$ZodIssue, raw: unknown, source: ScenarioSource): { line: number | null; text: string } {
  let path: (string | number)[] = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') path = [...path, issue.keys[0]];
  // A key that is not there at all: say so, at the line of the mapping that lacks it.
  const last = path[path.length - 1];
  if (typeof last === 'string' && !hasPath(raw, path)) {
    path = path.slice(0, -1);
    message = `missing required key "${last}"`;
  } else if (message === MISSING.message) {
    message = 'missing required value';
  }
  const where = formatPath(path);
  const line = source.locate(path);
  return { line, text: `${at(source.file, line)}${where === '' ? '' : `${where}: `}${message}` };
}

function hasPath(raw: unknown, path: KeyPath): boolean {
  let v = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return false;
    if (Array.isArray(v)) {
      if (typeof seg !== 'number' || seg >= v.length) return false;
      v = v[seg];
    } else {
      if (!Object.prototype.hasOwnProperty.call(v, seg)) return false;
      v = (v as Record<string, unknown>)[String(seg)];
    }
  }
  return true;
}

/** The line of the deepest node on `path`: a mapping entry's key line, a list item's line. */
function locateLine(doc: Document, path: KeyPath, lineOf: (offset: number) => number): number | null {
  let node: unknown = doc.contents;
  let line: number | null = rangeLine(node, lineOf);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (pair === undefined) break;
      line = rangeLine(pair.key, lineOf) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
      line = rangeLine(node, lineOf) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function rangeLine(node: unknown, lineOf: (offset: number) => number): number | null {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range === undefined ? null : lineOf(range[0]);
}
