// `iommu-lab run` (the default command), in-process and once as a child process: the default
// scenario, --json, --seed, --platform, --quiet, failing steps (report, then one error line,
// status 1) and scenarios that do not load (one line per problem, status 1, nothing run).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { runCliProcess } from './helpers.js';
import { listBuiltinPlatforms } from '../../src/platform/builtin/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  const code = await runCli(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function scenarioFile(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

interface JsonReport {
  scenario: { name: string; seed: string; platform: string };
  outcome: { ok: boolean; failure: { step: number; line: number; message: string } | null };
  workloads: { bytes: number }[];
  iommus: { node: string; caches: { name: string; lookups: number; hits: number; misses: number }[] }[];
  time: { wallMs: number };
}

describe('iommu-lab run', () => {
  it('runs the embedded default scenario with no arguments at all', async () => {
    const r = await cli();
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^scenario: riscv-virt tour \(.*riscv-virt-tour\.yaml\)$/);
    expect(r.out).toContain('\nworkloads\n');
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('result: ok');
  });

  it('prints the report as JSON with --json', async () => {
    const r = await cli('run', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as JsonReport;
    expect(json.scenario).toMatchObject({ name: 'riscv-virt tour', seed: '0x1', platform: 'riscv-virt (built-in)' });
    expect(json.outcome).toEqual({ ok: true, failure: null });
    const c = json.iommus[0].caches[0];
    expect(c.hits + c.misses).toBe(c.lookups);
  });

  it('replaces the seed with --seed and the platform with --platform', async () => {
    const file = scenarioFile('sized.yaml', 'steps:\n  - workload: { device: dma0, buffers: 30, size: [1K, 2K, 3K], access: random }\n');
    const a = JSON.parse((await cli('run', file, '--json', '--seed', '5')).out) as JsonReport;
    const b = JSON.parse((await cli('run', file, '--json', '--seed', '0x5')).out) as JsonReport;
    const c = JSON.parse((await cli('run', file, '--json', '--seed', '6')).out) as JsonReport;
    expect(a.scenario.seed).toBe('0x5');
    expect(a.workloads[0].bytes).toBe(b.workloads[0].bytes);
    expect({ ...a, time: null }).toEqual({ ...b, time: null });
    expect(a.workloads[0].bytes).not.toBe(c.workloads[0].bytes);
    const other = JSON.parse((await cli('run', file, '--json', '--platform', 'riscv-virt-pci-iommu')).out) as JsonReport;
    expect(other.scenario.platform).toBe('riscv-virt-pci-iommu (built-in, --platform)');
    expect(other.iommus[0].node).toContain('/pci@');
    expect(await cli('run', file, '--seed', 'abc')).toEqual({ code: 1, out: '', err: 'iommu-lab: --seed: expected a number, got "abc"\n' });
    expect((await cli('run', file, '--platform', 'nope')).err).toBe(`iommu-lab: nope: no such file, and no built-in platform of that name (built-in: ${listBuiltinPlatforms().map((p) => p.name).join(', ')})\n`);
  });

  it('prints the report, then the failing step on one line, and exits 1', async () => {
    const file = scenarioFile('fails.yaml', 'name: fails\nsteps:\n  - advance: { cycles: 1 }\n  - label: no faults yet\n    expect: { faults: { count: 1 } }\n');
    const r = await cli('run', file);
    expect(r.code).toBe(1);
    expect(r.out).toContain('result: FAILED at steps[1]');
    expect(r.err).toBe(`iommu-lab: ${file}:4: steps[1] "no faults yet": expectation failed: expected 1 fault, got 0; no faults were reported since the previous check\n`);
    const json = await cli('run', file, '--json');
    expect(json.code).toBe(1);
    expect((JSON.parse(json.out) as JsonReport).outcome.failure).toMatchObject({ step: 1, line: 4 });
    expect(await cli('run', file, '--quiet')).toEqual({ code: 1, out: '', err: r.err });
  });

  it('prints every problem of a scenario that does not load, one per line, and runs nothing', async () => {
    const file = scenarioFile('bad.yaml', 'steps:\n  - alloc: { name: a, size: big }\n  - allocate: {}\nextra: 1\n');
    const r = await cli('run', file);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toEqual([
      `iommu-lab: ${file}:2: steps[0].alloc.size: expected a number or size such as 4K, got "big"`,
      `iommu-lab: ${file}:3: steps[1].allocate: unknown step kind "allocate"; valid step kinds: alloc, write, domain, attach, detach, map, unmap, dma-map, dma-unmap, dma, advance, workload, expect`,
      `iommu-lab: ${file}:4: extra: unknown key "extra"; a scenario takes name, description, platform, seed, config or steps`,
      '',
    ]);
    expect(await cli('run', join(tmp, 'missing.yaml'))).toEqual({ code: 1, out: '', err: `iommu-lab: ${join(tmp, 'missing.yaml')}: cannot read scenario: no such file\n` });
  });

  it('runs a scenario file given without the command name, and keeps unknown commands errors', async () => {
    const file = scenarioFile('quiet.yaml', 'steps: []\n');
    expect(await cli(file, '--quiet')).toEqual({ code: 0, out: '', err: '' });
    expect(await cli('frobnicate')).toEqual({ code: 1, out: '', err: "error: unknown command 'frobnicate'\n" });
  });

  it('writes nothing but the JSON document to a pipe (no progress bar), as a child process', () => {
    const r = runCliProcess(['run', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as JsonReport).outcome.ok).toBe(true);
  });
});
