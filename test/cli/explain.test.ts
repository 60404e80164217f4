// `iommu-lab explain`: one translation after the scenario ran, step by step — the memory reads
// with their structures, levels and decoded fields, cache hits, and the result or the fault
// cause (RISC-V IOMMU spec "Process to translate an IOVA"; fault-record CAUSE encodings).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-explain-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  const code = await runCli(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

interface Access {
  structure: string;
  what: string;
  level: number;
  address: string;
  value: string;
  fields: { name: string; value: string }[];
  meaning: string;
}
interface Json {
  device: string;
  deviceId: number;
  iommuMode: string;
  caches: { name: string; outcome: string }[];
  accesses: Access[];
  coldCommands: string[];
  result: { ok: true; physical: string; pageSize: string; permissions: string } | { ok: false; cause: number; causeName: string; why: string };
  reported: { cause: number } | null;
}

async function explain(...argv: string[]): Promise<Json> {
  const r = await cli('explain', ...argv, '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Json;
}

/** A small scenario: buffer `big` (2 MiB) mapped at 0x40000000 for 00:01.0 in domain vfio. */
const scenario = join(tmp, 'mapped.yaml');
writeFileSync(
  scenario,
  [
    'steps:',
    '  - alloc: { name: big, size: 2M }',
    '  - alloc: { name: small, size: 4K }',
    '  - domain: { name: vfio, device: 0000:00:01.0 }',
    '  - attach: { device: 0000:00:01.0, domain: vfio }',
    '  - map: { domain: vfio, iova: 0x40000000, phys: big, size: 2M }',
    '  - map: { domain: vfio, iova: 0x50000000, phys: small, size: 4K, prot: r }',
    '  - dma: { device: 0000:00:01.0, op: read, src: 0x40000000, length: 8 }',
    '  - dma-map: { name: rx, device: dma0, buffer: small, size: 4K }',
    '',
  ].join('\n'),
);

describe('iommu-lab explain', () => {
  it('walks cold caches from the device directory to a 2 MiB leaf', async () => {
    const e = await explain(scenario, '--device', '0000:00:01.0', '--iova', '0x40123458', '--cold');
    expect(e).toMatchObject({ device: '0000:00:01.0', deviceId: 8, iommuMode: '3LVL' });
    expect(e.coldCommands).toEqual(['IODIR.INVAL_DDT (all device ids)', 'IOTINVAL.VMA (all address spaces)', 'IOTINVAL.GVMA (all guests)', 'IOFENCE.C']);
    expect(e.caches.map((c) => [c.name, c.outcome])).toEqual([
      ['device context', 'miss'],
      ['process context', 'not used'],
      ['IOTLB', 'miss'],
    ]);
    // 3LVL directory: two non-leaf DDT entries, then the device context (extended format: 8
    // doublewords), then the Sv57 walk: levels 4, 3, 2 point to tables, level 1 is the leaf.
    expect(e.accesses.map((a) => `${a.structure}:${a.level}`)).toEqual(['ddte:2', 'ddte:1', 'dc:0', 'dc:0', 'dc:0', 'dc:0', 'dc:0', 'dc:0', 'dc:0', 'dc:0', 'pte:4', 'pte:3', 'pte:2', 'pte:1']);
    expect(e.accesses.slice(2, 6).map((a) => a.what)).toEqual(['device context: tc', 'device context: iohgatp', 'device context: ta', 'device context: fsc']);
    expect(e.accesses[5].meaning).toMatch(/^first stage: Sv57, root table at 0x[0-9a-f]+$/);
    const leaf = e.accesses[13];
    expect(leaf.meaning).toMatch(/^leaf: 2 MiB page at 0x[0-9a-f]+$/);
    expect(Object.fromEntries(leaf.fields.map((f) => [f.name, f.value]))).toMatchObject({ V: '0x1', R: '0x1', W: '0x1', U: '0x1', A: '0x1' });
    expect(e.result).toMatchObject({ ok: true, pageSize: '0x200000', permissions: 'R W U' });
    if (e.result.ok) expect(BigInt(e.result.physical) & 0x1fffffn).toBe(0x123458n);
  });

  it('says when the caches answered and no memory was read', async () => {
    const e = await explain(scenario, '--device', '0000:00:01.0', '--iova', '0x40000000');
    expect(e.caches.filter((c) => c.outcome === 'hit').map((c) => c.name)).toEqual(['device context', 'IOTLB']);
    expect(e.accesses).toEqual([]);
    const text = (await cli('explain', scenario, '--device', '0000:00:01.0', '--iova', '0x40000000')).out;
    expect(text).toContain('caches: device context hit (no directory walk), IOTLB hit (no page walk)\n');
    expect(text).toContain('memory reads: none, everything came from the caches\n');
    expect(text).toMatch(/result: translated to 0x[0-9a-f]+ \(in a 2 MiB translation\), permissions: read allowed by the cached IOTLB entry\n/);
  });

  it('explains a write to a read-only page: the leaf lacks W, cause 15', async () => {
    const e = await explain(scenario, '--device', '0000:00:01.0', '--iova', '0x50000000', '--write');
    expect(e.result).toMatchObject({ ok: false, cause: 15, causeName: 'Write/AMO page fault' });
    if (!e.result.ok) expect(e.result.why).toMatch(/^the leaf first-stage PTE, level 0 at 0x[0-9a-f]+ does not grant write permission \(W=0\)$/);
    expect(e.reported).toMatchObject({ cause: 15 }); // the record reached the driver and the kernel
  });

  it('explains an unmapped IOVA: the walk stops at an invalid entry, cause 13', async () => {
    const e = await explain(scenario, '--device', '0000:00:01.0', '--iova', '0x40200000');
    expect(e.result).toMatchObject({ ok: false, cause: 13, causeName: 'Read page fault' });
    const last = e.accesses.at(-1);
    expect(last).toMatchObject({ structure: 'pte', level: 1, value: '0x0', meaning: 'not valid (V=0): nothing is mapped here' });
    if (!e.result.ok) expect(e.result.why).toBe(`the first-stage PTE, level 1 at ${last?.address} is not valid (V=0): nothing is mapped at this IOVA`);
  });

  it('explains a PASID the context does not allow (cause 260) and a blocked device (cause 258)', async () => {
    const pasid = await explain(scenario, '--device', '0000:00:02.0', '--iova', '0x1000', '--pasid', '5');
    expect(pasid.result).toMatchObject({ ok: false, cause: 260 });
    if (!pasid.result.ok) expect(pasid.result.why).toContain('PASID 5');
    const blocked = join(tmp, 'blocked.yaml');
    writeFileSync(blocked, 'steps:\n  - domain: { name: b, device: 0000:00:02.0, type: blocked }\n  - attach: { device: 0000:00:02.0, domain: b }\n');
    const e = await explain(blocked, '--device', '0000:00:02.0', '--iova', '0x1000', '--cold');
    expect(e.result).toMatchObject({ ok: false, cause: 258, causeName: 'DDT entry not valid' });
    const tc = e.accesses.find((a) => a.what === 'device context: tc');
    expect(tc?.meaning).toBe('not valid (V=0): the device may not do DMA');
    if (!e.result.ok) expect(e.result.why).toBe(`the device context at ${tc?.address} is not valid (tc.V=0): the device is blocked or was never given a context`);
  });

  it('resolves scenario names in --iova and runs the default scenario without a file', async () => {
    const e = await explain(scenario, '--device', 'dma0', '--iova', 'rx+0x10', '--write');
    expect(e.result.ok).toBe(true);
    const d = await explain('--device', '0000:00:01.0', '--iova', '0x40000000', '--cold');
    expect(d.result).toMatchObject({ ok: true, pageSize: '0x200000' });
    expect(d.accesses.filter((a) => a.structure === 'pte')).toHaveLength(4);
  });

  it('reports bad options and unknown devices on one line', async () => {
    expect(await cli('explain', scenario, '--device', 'nope', '--iova', '0x1000')).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/^iommu-lab: --device: unknown device "nope"; devices \(by kernel name\): .*\n$/) as unknown });
    expect(await cli('explain', scenario, '--device', 'dma0', '--iova', 'zz')).toEqual({ code: 1, out: '', err: 'iommu-lab: --iova: unknown buffer or mapping "zz"; defined so far: big, small, rx\n' });
    expect(await cli('explain', scenario, '--device', 'dma0', '--iova', '1+')).toEqual({ code: 1, out: '', err: 'iommu-lab: --iova: expected an address such as 0x40000000 or rx+0x40, got "1+"\n' });
    expect(await cli('explain', scenario, '--device', 'dma0', '--iova', '0', '--pasid', 'x')).toEqual({ code: 1, out: '', err: 'iommu-lab: --pasid: expected a PASID from 0 to 0xfffff, got "x"\n' });
    expect(await cli('explain', scenario, '--device', '30000000.pci', '--iova', '0')).toEqual({ code: 1, out: '', err: 'iommu-lab: 30000000.pci: its DMA is not translated by an IOMMU model of this machine\n' });
    expect((await cli('explain', scenario, '--iova', '0')).err).toBe("error: required option '--device <device>' not specified\n");
  });

  it('explains the machine a failing scenario left, with a note', async () => {
    const failing = join(tmp, 'failing.yaml');
    writeFileSync(failing, 'steps:\n  - expect: { faults: { count: 1 } }\n');
    const r = await cli('explain', failing, '--device', 'dma0', '--iova', '0x1000');
    expect(r.code).toBe(0);
    expect(r.err).toBe(`iommu-lab: note: the scenario stopped early: ${failing}:2: steps[0]: expectation failed: expected 1 fault, got 0; no faults were reported since the previous check\n`);
    expect(r.out).toContain('result: fault, cause 13 (Read page fault)\n');
  });
});
