// `iommu-lab explain` on an SMMUv3 (arm-virt-tour): the STE and CD fetches, the stage-1
// walk of VMSAv8-64 descriptors (IHI 0070 3.3 "Data structures and translation procedure",
// Arm ARM D8 descriptor formats), and an F_TRANSLATION fault with the model's reason.
import { describe, expect, it } from 'vitest';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

interface Json {
  architecture: string;
  deviceId: number;
  iommuMode: string;
  caches: { name: string; outcome: string }[];
  accesses: { structure: string; what: string; level: number; meaning: string; fields: { name: string; value: string }[] }[];
  result: { ok: true; physical: string; pageSize: string; permissions: string } | { ok: false; cause: number; causeName: string; why: string };
}

async function explain(...argv: string[]): Promise<Json> {
  const io = bufferIo();
  const code = await runCli(['explain', 'arm-virt-tour', ...argv, '--json'], io);
  expect(io.stderr()).toBe('');
  expect(code).toBe(0);
  return JSON.parse(io.stdout()) as Json;
}

describe('iommu-lab explain on an SMMUv3', () => {
  it('fetches the STE and the CD, then walks stage 1 down to a level-2 block of 2 MiB', async () => {
    const e = await explain('--device', '0000:00:01.0', '--iova', '0x40000040', '--cold');
    expect(e.architecture).toBe('SMMUv3');
    expect(e.deviceId).toBe(0x8);
    expect(e.iommuMode).toBe('SMMUEN=1');
    expect(e.caches.map((c) => [c.name, c.outcome])).toEqual([
      ['STE', 'miss'],
      ['CD', 'miss'],
      ['TLB', 'miss'],
    ]);
    const structures = e.accesses.map((a) => a.structure);
    // 2-level stream table: the L1 descriptor, then the STE; a linear CD table of one CD (S1DSS = SSID 0).
    expect(structures.slice(0, 3)).toEqual(['l1std', 'ste', 'cd']);
    const s1 = e.accesses.filter((a) => a.structure === 's1tt');
    expect(s1.map((a) => a.level)).toEqual([0, 1, 2]);
    expect(s1[2].meaning).toMatch(/^block: 2 MiB at 0x/);
    expect(e.accesses[1].meaning).toMatch(/^Config stage 1 translate, stage 2 bypass, CD table at 0x/);
    expect(e.result).toMatchObject({ ok: true, pageSize: '0x200000' });
    if (e.result.ok) expect(BigInt(e.result.physical) & 0x1fffffn).toBe(0x40n);
  });

  it('says why the other function faults: F_TRANSLATION at the level where its own tables have nothing', async () => {
    const e = await explain('--device', '0000:00:02.0', '--iova', '0x40000000');
    expect(e.result.ok).toBe(false);
    if (!e.result.ok) {
      expect(e.result.cause).toBe(0x10);
      expect(e.result.causeName).toMatch(/^F_TRANSLATION/);
      expect(e.result.why).toMatch(/stage 1 Translation fault at level/);
    }
  });
});
