// The tracer that `explain`-style tools read: every structure fetch (STE, L1STD, CD, L1CD,
// stage 1 and stage 2 descriptors, with level and raw value), cache hits and the decisions of
// the translation procedure (IHI 0070 chapter 15), in order.
import { describe, expect, it } from 'vitest';
import { encodeSte } from '../../../src/formats/smmuv3/structures.js';
import { RecordingTracer } from '../../../src/hw/smmuv3/trace.js';
import { Bench, identityTables } from './bench.js';

describe('RecordingTracer', () => {
  it('records the STE, the CD and each stage 1 descriptor read with its level and raw value', () => {
    const b = new Bench().init();
    const { pt, cd } = b.stage1Stream(2);
    const leaf = pt.map(0x1000n, 0x9000n);
    const tracer = new RecordingTracer();
    b.smmu.setTracer(tracer);
    b.translate({ sid: 2, address: 0x1000n });
    const f = tracer.fetches;
    expect(f.map((x) => [x.structure, x.level])).toEqual([
      ['ste', 0],
      ['cd', 0],
      ['s1tt', 0],
      ['s1tt', 1],
      ['s1tt', 2],
      ['s1tt', 3],
    ]);
    expect(f[0].address).toBe(b.steAddress(2));
    expect(f[0].dwords).toEqual(b.readDwords(b.steAddress(2), 8));
    expect(f[1].address).toBe(cd);
    expect(f[5].address).toBe(leaf);
    expect(f[5].dwords).toEqual([pt.read(leaf)]);
    expect(f.every((x) => x.status === 'ok' && !x.write)).toBe(true);
  });

  it('records cache hits as steps on the second translation', () => {
    const b = new Bench().init();
    b.stage1Stream(2).pt.map(0x1000n, 0x9000n);
    b.translate({ sid: 2, address: 0x1000n });
    const tracer = new RecordingTracer();
    b.smmu.setTracer(tracer);
    b.translate({ sid: 2, address: 0x1000n });
    expect(tracer.fetches).toEqual([]);
    expect(tracer.steps).toEqual(['STE of StreamID 2: configuration cache hit', 'CD 0 of StreamID 2: configuration cache hit', 'TLB hit (VMID 0 ASID 1)']);
  });

  it('records the L1STD of a 2-level Stream table and the reason for a C_BAD_STE', () => {
    const b = new Bench().init({ log2size: 16, split: 8 });
    b.writeSte(0x305, { V: 0 });
    const tracer = new RecordingTracer();
    b.smmu.setTracer(tracer);
    b.translate({ sid: 0x305, address: 0n });
    expect(tracer.fetches.map((x) => x.structure)).toEqual(['l1std', 'ste']);
    expect(tracer.steps).toEqual(['C_BAD_STE: STE.V is 0']);
  });

  it('records stage 2 descriptor reads of a nested walk and hardware updates as writes', () => {
    const b = new Bench().init();
    const n = b.nestedStream(1, 3, { cd: { HA: 1 } });
    n.s1.map(0x10_0000n, 0x2000_0000n, { AF: 0 });
    identityTables(n.s1, n.s2, 0x10_0000n);
    n.s2.map(0x2000_0000n, 0x3000_0000n);
    const tracer = new RecordingTracer();
    b.smmu.setTracer(tracer);
    b.translate({ sid: 1, address: 0x10_0000n });
    const kinds = tracer.fetches.map((x) => x.structure);
    expect(kinds.filter((k) => k === 's2tt').length).toBeGreaterThan(4);
    expect(tracer.fetches.some((x) => x.structure === 's1tt' && x.write)).toBe(true);
  });

  it('records an aborted fetch with its status', () => {
    const b = new Bench().init();
    b.memory.markAccessFault(b.steAddress(1), 64n);
    const tracer = new RecordingTracer();
    b.smmu.setTracer(tracer);
    b.translate({ sid: 1, address: 0n });
    expect(tracer.fetches.map((x) => x.status)).toEqual(['external-abort']);
  });

  it('detaching the tracer stops recording', () => {
    const b = new Bench().init();
    b.writeDwords(b.steAddress(1), encodeSte({ V: 1, Config: 4 }));
    const tracer = new RecordingTracer();
    b.smmu.setTracer(tracer);
    b.smmu.setTracer(null);
    b.translate({ sid: 1, address: 0n });
    expect(tracer.events).toEqual([]);
  });
});
