// Every step kind on a booted riscv-virt machine, checked by its observable result (memory
// contents, translations, fault causes, counters), every expectation passing and failing, and
// the errors of steps that the kernel refuses: one line with file, line, step index and label.
import { describe, expect, it } from 'vitest';
import { DomainType } from '../../src/os/core/types.js';
import { randomStream } from '../../src/scenario/memory.js';
import { named, run, runFails, runOk, yaml } from './helpers.js';

const PCI1 = '0000:00:01.0';
const PCI2 = '0000:00:02.0';

function bytesAt(r: ReturnType<typeof runOk>, name: string, length: number, offset = 0n): Uint8Array {
  const b = r.runner.buffers.get(name);
  if (b === undefined) throw new Error(`no buffer ${name}`);
  return r.runner.kernel.memory.readBytes(b.paddr + offset, length);
}

describe('memory steps', () => {
  it('alloc gives naturally aligned, filled buffers; write stores data by CPU', () => {
    const r = runOk(
      yaml(
        'steps:',
        '  - alloc: { name: small, size: 12K }',
        '  - alloc: { name: big, size: 2M, fill: { pattern: 0x1122334455667788 } }',
        '  - alloc: { name: rep, size: 4K, fill: { bytes: [0xaa, 0xbb, 0xcc] } }',
        '  - alloc: { name: rnd, size: 4K, fill: { random: 9 } }',
        '  - alloc: { name: copy, size: 4K, fill: rnd }',
        '  - write: { address: small+4K, length: 16, data: { bytes: [1, 2] } }',
      ),
    );
    const big = r.runner.buffers.get('big');
    expect(big?.paddr !== undefined && big.paddr % (2n << 20n)).toBe(0n); // like alloc_pages(order 9)
    expect(r.runner.buffers.get('small')?.paddr !== undefined && (r.runner.buffers.get('small')?.paddr ?? 1n) % 16384n).toBe(0n);
    expect([...bytesAt(r, 'big', 10, (2n << 20n) - 8n)]).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0, 0]);
    expect([...bytesAt(r, 'rep', 7)]).toEqual([0xaa, 0xbb, 0xcc, 0xaa, 0xbb, 0xcc, 0xaa]);
    expect(bytesAt(r, 'copy', 4096)).toEqual(bytesAt(r, 'rnd', 4096));
    const expected = new Uint8Array(4096);
    randomStream(9n).next(expected, 4096);
    expect(bytesAt(r, 'rnd', 4096)).toEqual(expected);
    expect([...bytesAt(r, 'small', 18, 4094n)]).toEqual([0, 0, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
    expect(r.report.steps.map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('gives different seeds different random data, and the same seed the same', () => {
    const r = runOk(yaml('steps:', '  - alloc: { name: a, size: 4K, fill: { random: 1 } }', '  - alloc: { name: b, size: 4K, fill: { random: 1 } }', '  - alloc: { name: c, size: 4K, fill: { random: 2 } }'));
    expect(bytesAt(r, 'a', 4096)).toEqual(bytesAt(r, 'b', 4096));
    expect(bytesAt(r, 'a', 4096)).not.toEqual(bytesAt(r, 'c', 4096));
  });
});

describe('domains, attach, detach, map, unmap', () => {
  it('maps a 2 MiB-aligned range with a 2 MiB leaf and translates through it', () => {
    const r = runOk(
      yaml(
        'steps:',
        '  - alloc: { name: big, size: 2M, fill: { random: 3 } }',
        `  - domain: { name: vfio, device: ${PCI1} }`,
        `  - attach: { device: ${PCI1}, domain: vfio }`,
        '  - map: { domain: vfio, iova: 0x40000000, phys: big, size: 2M }',
        '  - expect: { translation: { domain: vfio, iova: 0x40123456, phys: big+0x123456 } }',
        `  - dma: { device: ${PCI1}, op: copy, src: 0x40000000, dst: 0x40100000, length: 8K }`,
        '  - expect: { memory: { address: big+1M, length: 8K, equals: big } }',
      ),
    );
    const vfio = r.runner.domains.get('vfio');
    expect(vfio?.domain.type).toBe(DomainType.Unmanaged);
    expect(vfio?.domain.stats.pagesMapped).toBe(512);
    // One 2 MiB leaf: one walk for the first read, one more for the first write (the entry is
    // clean: the IOMMU sets D in the leaf, RISC-V IOMMU spec with DC.tc.SADE=1); every other
    // access of the copy hits the IOTLB.
    const iommu = r.report.iommus[0];
    expect(named(iommu.walks.byKind)['first stage']).toBe(2);
    expect(iommu.caches[0]).toMatchObject({ name: 'IOTLB', misses: 2 });
    // 8 KiB read and written in 64-byte transactions, one translation each: 2 * 8192 / 64.
    expect(named(iommu.translations.byKind)['untranslated']).toBe(256);
  });

  it('returns a device to its default domain with detach and with attach to default', () => {
    const base = [
      'steps:',
      '  - alloc: { name: buf, size: 4K }',
      `  - domain: { name: vfio, device: ${PCI1} }`,
      `  - attach: { device: ${PCI1}, domain: vfio }`,
      '  - map: { domain: vfio, iova: 0x1000, phys: buf, size: 4K }',
      `  - dma: { device: ${PCI1}, op: read, src: 0x1000, length: 64 }`,
    ];
    for (const back of [`  - detach: { device: ${PCI1} }`, `  - attach: { device: ${PCI1}, domain: default }`]) {
      const r = runOk(yaml(...base, back, `  - dma: { device: ${PCI1}, op: read, src: 0x1000, length: 64, expect: fault }`, `  - expect: { faults: { device: ${PCI1}, cause: Read page fault } }`));
      const dev = r.runner.device(PCI1);
      expect(r.runner.kernel.iommu.domainOf(dev)?.type).toBe(DomainType.Dma);
    }
  });

  it('attaches identity and blocked domains: physical addresses pass, or every DMA faults with cause 258', () => {
    const r = runOk(
      yaml(
        'steps:',
        '  - alloc: { name: a, size: 4K, fill: { random: 1 } }',
        '  - alloc: { name: b, size: 4K }',
        `  - domain: { name: ident, device: ${PCI1}, type: identity }`,
        `  - attach: { device: ${PCI1}, domain: ident }`,
        `  - dma: { device: ${PCI1}, op: copy, src: a, dst: b, length: 4K }`,
        '  - expect: { memory: { address: b, length: 4K, equals: a } }',
        `  - domain: { name: wall, device: ${PCI2}, type: blocked }`,
        `  - attach: { device: ${PCI2}, domain: wall }`,
        `  - dma: { device: ${PCI2}, op: copy, src: a, dst: b, length: 4K, expect: fault }`,
        // RISC-V IOMMU spec: a device context with V=0 faults with "DDT entry not valid".
        `  - expect: { faults: { device: ${PCI2}, cause: DDT entry not valid, count: 1 } }`,
      ),
    );
    expect(r.runner.domains.get('ident')?.domain.type).toBe('identity');
    expect(r.report.faults.list.map((f) => f.cause)).toEqual([258]);
  });

  it('unmaps with the invalidation done before the step ends: the same DMA then faults (cause 13)', () => {
    const r = runOk(
      yaml(
        'steps:',
        '  - alloc: { name: buf, size: 8K, fill: { pattern: 5 } }',
        `  - domain: { name: d, device: ${PCI1} }`,
        `  - attach: { device: ${PCI1}, domain: d }`,
        '  - map: { domain: d, iova: 0x10000, phys: buf, size: 8K, prot: r }',
        `  - dma: { device: ${PCI1}, op: read, src: 0x10000, length: 8K, pattern: 5 }`,
        '  - unmap: { domain: d, iova: 0x10000, size: 8K }',
        '  - expect: { translation: { domain: d, iova: 0x10000, phys: none } }',
        `  - dma: { device: ${PCI1}, op: read, src: 0x10000, length: 8K, pattern: 5, expect: fault }`,
        `  - expect: { faults: { device: ${PCI1}, cause: 13, iova: 0x10000, count: 1 } }`,
      ),
    );
    // The unmap emptied a page-table page, so the driver invalidated the whole PSCID.
    expect(named(r.report.iommus[0].driver?.invalidations ?? [])['IOTINVAL.VMA by PSCID']).toBeGreaterThanOrEqual(1);
    expect(r.report.iommus[0].faults.byCause).toEqual([{ cause: 13, name: 'Read page fault', count: 1 }]);
  });

  it('honours prot: a write through a read-only mapping faults with a write page fault (15)', () => {
    const r = runOk(
      yaml(
        'steps:',
        '  - alloc: { name: buf, size: 4K }',
        '  - domain: { name: d, device: dma0 }',
        '  - attach: { device: dma0, domain: d }',
        '  - map: { domain: d, iova: 0x10000, phys: buf, size: 4K, prot: r }',
        '  - dma: { device: dma0, op: fill, dst: 0x10000, length: 64, expect: fault }',
        '  - expect: { faults: { cause: 15, count: 1 } }',
        // A PCIe function's writes are posted: it completes, but the IOMMU blocked and recorded them.
        `  - domain: { name: p, device: ${PCI1} }`,
        `  - attach: { device: ${PCI1}, domain: p }`,
        '  - map: { domain: p, iova: 0x10000, phys: buf, size: 4K, prot: r }',
        // 512 bytes in 64-byte write transactions: 8 writes, each blocked and recorded.
        `  - dma: { device: ${PCI1}, op: fill, dst: 0x10000, length: 512 }`,
        `  - expect: { faults: { device: ${PCI1}, cause: 15, count: 8 } }`,
        '  - expect: { memory: { address: buf, length: 4K, equals: zero } }',
      ),
    );
    expect(r.report.steps[9].summary).toBe(`${PCI1}: fill of 512 B at 0x10000 completed, but the IOMMU blocked 8 transactions the device did not see fail (posted writes); IOMMU fault: cause 15 (Write/AMO page fault)`);
  });
});

describe('the DMA API and the dma step', () => {
  it('dma-map gives a DMA address the engine uses; dma-unmap takes it away', () => {
    const r = runOk(
      yaml(
        'steps:',
        '  - alloc: { name: tx, size: 8K, fill: { random: 4 } }',
        '  - alloc: { name: rx, size: 8K }',
        '  - dma-map: { name: t, device: dma0, buffer: tx, size: 8K, direction: to-device }',
        '  - dma-map: { name: r, device: /soc/dma-controller@3020000, buffer: rx, size: 8K, direction: from-device }',
        '  - dma: { device: 3020000.dma-controller, op: copy, src: t, dst: r, length: 8K }',
        '  - expect: { memory: { address: rx, length: 8K, equals: tx } }',
        '  - dma-unmap: { name: t }',
        '  - dma: { device: dma0, op: read, src: t+0x100, length: 8, expect: fault }',
        '  - expect: { faults: { device: dma0, iova: t, count: 1 } }',
      ),
    );
    expect(r.runner.mappings.get('t')?.unmapped).toBe(true); // the name still denotes the stale address
    const m = r.runner.mappings.get('r');
    expect(m?.dma).not.toBe(m?.paddr); // a translated default domain hands out IOVAs
    expect(r.report.kernel?.dma).toMatchObject({ mapped: 2, unmapped: 1 });
    expect(r.report.faults.list[0]).toMatchObject({ device: '3020000.dma-controller', cause: 13, iova: (m?.dma ?? 0n) + 0x2000n + 0x100n });
  });

  it('sends a PASID when asked: without a process directory the IOMMU disallows it (cause 260)', () => {
    runOk(yaml('steps:', `  - dma: { device: ${PCI2}, op: read, src: 0x1000, length: 8, pasid: 3, expect: fault }`, '  - expect: { faults: { cause: Transaction type disallowed, count: 1 } }'));
  });

  it('fails a dma step whose outcome differs from its expect, naming the IOMMU cause', () => {
    const faulted = runFails(yaml('steps:', '  - label: stray read', `    dma: { device: ${PCI2}, op: read, src: 0x40000000, length: 64 }`));
    expect(faulted.message).toBe(
      'test.yaml:2: steps[0] "stray read": expectation failed: read of 64 B at 0x40000000 failed: aborted at DMA address 0x40000000 (read) after 0 bytes; IOMMU fault: cause 13 (Read page fault)',
    );
    expect(faulted.ran.report.expectations).toEqual({ checked: 1, passed: 0, failed: 1 });
    const completed = runFails(yaml('steps:', '  - alloc: { name: a, size: 4K }', '  - dma-map: { name: m, device: dma0, buffer: a, size: 4K }', '  - dma: { device: dma0, op: fill, dst: m, length: 4K, expect: fault }'));
    expect(completed.message).toMatch(/^test\.yaml:4: steps\[2\]: expectation failed: fill of 4 KiB at 0x[0-9a-f]+: expected a fault, but the transfer completed \(4 KiB\)$/);
  });
});

describe('advance and simulated time', () => {
  it('lets time pass: a lazy domain flushes its queue when the timeout expires', () => {
    const r = runOk(
      yaml(
        'config: { kernel: { invalidation: lazy, flush-queue: { size: 8, timeout: 5000 } } }',
        'steps:',
        '  - alloc: { name: a, size: 4K }',
        '  - dma-map: { name: m, device: dma0, buffer: a, size: 4K }',
        '  - dma-unmap: { name: m }',
        '  - advance: { cycles: 4999 }',
        '  - advance: { cycles: 1 }',
      ),
    );
    expect(r.report.kernel?.flushQueue).toEqual({ domains: 1, flushes: { full: 0, timeout: 1, explicit: 0 }, entriesFlushed: 1, pending: 0 });
    expect(r.report.time.cycles).toBe(5000);
  });
});

describe('expect', () => {
  const setup = ['steps:', '  - alloc: { name: a, size: 4K, fill: { pattern: 0x0102030405060708 } }', `  - domain: { name: d, device: ${PCI1} }`, '  - map: { domain: d, iova: 0x5000, phys: a, size: 4K }'];

  it('checks memory and reports the first differing byte', () => {
    runOk(yaml(...setup, '  - expect: { memory: { address: a+1, length: 3, equals: { bytes: [7, 6, 5] } } }'));
    const { message } = runFails(yaml(...setup, '  - label: check', '    expect: { memory: { address: a, length: 4K, equals: zero } }'));
    expect(message).toMatch(/^test\.yaml:5: steps\[3\] "check": expectation failed: memory at a \(0x[0-9a-f]+\) \+ 0x0 is 0x08, expected 0x00 \(zero\)$/);
  });

  it('checks translations, mapped and unmapped', () => {
    runOk(yaml(...setup, '  - expect: { translation: { domain: d, iova: 0x5abc, phys: a+0xabc } }', '  - expect: { translation: { domain: d, iova: 0x6000, phys: none } }'));
    const { message } = runFails(yaml(...setup, '  - expect: { translation: { domain: d, iova: 0x6000, phys: a } }'));
    expect(message).toMatch(/^test\.yaml:5: steps\[3\]: expectation failed: d: 0x6000 translates to unmapped, expected 0x[0-9a-f]+$/);
  });

  it('checks the faults since the previous faults check: count, device, cause and page filters', () => {
    const fault = (iova: string) => `  - dma: { device: ${PCI2}, op: read, src: ${iova}, length: 8, expect: fault }`;
    runOk(
      yaml(
        'steps:',
        '  - expect: { faults: { count: 0 } }',
        fault('0x1000'),
        fault('0x2008'),
        `  - expect: { faults: { device: ${PCI2}, count: 2 } }`,
        '  - expect: { faults: { count: 0 } }', // the window starts again after each check
        fault('0x3000'),
        '  - expect: { faults: { iova: 0x3ff8, cause: 13 } }', // same 4 KiB page
      ),
    );
    const { message } = runFails(yaml('steps:', fault('0x1000'), fault('0x1000'), `  - expect: { faults: { device: ${PCI1}, cause: 13 } }`));
    expect(message).toBe(
      `test.yaml:4: steps[2]: expectation failed: expected at least one fault of ${PCI1} with cause 13 (Read page fault), got 0; faults since the previous check: ${PCI2} read at 0x1000: cause 13 (Read page fault); ${PCI2} read at 0x1000: cause 13 (Read page fault)`,
    );
    expect(runFails(yaml('steps:', '  - expect: { faults: { count: 1 } }')).message).toBe('test.yaml:2: steps[0]: expectation failed: expected 1 fault, got 0; no faults were reported since the previous check');
  });

  it('runs every check of one expect step and counts them', () => {
    const r = runOk(yaml(...setup, '  - expect: { memory: { address: a, length: 8, equals: { pattern: 0x0102030405060708 } }, translation: { domain: d, iova: 0x5000, phys: a }, faults: { count: 0 } }'));
    expect(r.report.expectations).toEqual({ checked: 3, passed: 3, failed: 0 });
  });
});

describe('steps the kernel refuses stop the run with the step named', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown device', ['  - domain: { name: d, device: 0000:00:09.0 }'], /^test\.yaml:2: steps\[0\]: unknown device "0000:00:09\.0"; devices \(by kernel name\): .*3020000\.dma-controller, .*0000:00:01\.0/],
    ['a reused domain name', [`  - domain: { name: d, device: ${PCI1} }`, `  - domain: { name: d, device: ${PCI2} }`], /^test\.yaml:3: steps\[1\]: the domain name "d" is already used$/],
    ['"default" as a domain name', [`  - domain: { name: default, device: ${PCI1} }`], /"default" names each device's default domain/],
    ['a device without an IOMMU', ['  - domain: { name: d, device: c000000.interrupt-controller }'], /^test\.yaml:2: steps\[0\]: c000000\.interrupt-controller is not behind an IOMMU$/],
    ['a map the domain refuses', [`  - domain: { name: d, device: ${PCI1} }`, '  - map: { domain: d, iova: 0x1800, phys: 0x80000000, size: 4K }'], /^test\.yaml:3: steps\[1\]: map: 0x1800 \(\+0x1000\) is not aligned to the 4 KiB minimum page$/],
    ['a map outside the aperture', [`  - domain: { name: d, device: ${PCI1} }`, '  - map: { domain: d, iova: 0xffff_ffff_ffff_f000, phys: 0x80000000, size: 4K }'], /outside the domain's aperture/],
    ['mapping a static domain', [`  - domain: { name: i, device: ${PCI1}, type: identity }`, '  - map: { domain: i, iova: 0, phys: 0, size: 4K }'], /domain i is identity: only paging domains map and unmap/],
    ['an unknown domain', ['  - map: { domain: d, iova: 0, phys: 0, size: 4K }'], /unknown domain "d"; no domain step has created one/],
    ['an unknown buffer', ['  - write: { address: buf, length: 4, data: zero }'], /^test\.yaml:2: steps\[0\]: unknown buffer or mapping "buf"$/],
    ['a mapping where a physical address is needed', ['  - alloc: { name: a, size: 4K }', '  - dma-map: { name: m, device: dma0, buffer: a, size: 4K }', '  - write: { address: m, length: 4, data: zero }'], /m is a DMA mapping \(a DMA address\); a physical address is needed here/],
    ['a name used twice', ['  - alloc: { name: a, size: 4K }', '  - alloc: { name: a, size: 4K }'], /^test\.yaml:3: steps\[1\]: the name "a" is already used by a buffer$/],
    ['data from a buffer too small', ['  - alloc: { name: a, size: 4K }', '  - alloc: { name: b, size: 8K, fill: a }'], /a: buffer a holds 4 KiB; 8 KiB from offset 0x0 do not fit/],
    ['a detach with nothing attached', [`  - detach: { device: ${PCI1} }`], /is on its default domain already/],
    ['an unmap of nothing', [`  - domain: { name: d, device: ${PCI1} }`, '  - unmap: { domain: d, iova: 0x1000, size: 4K }'], /unmapped 0 B of 4 KiB at 0x1000: the rest was not mapped/],
    ['an unknown DMA mapping', ['  - dma-unmap: { name: m }'], /unknown DMA mapping "m"/],
    ['a DMA step on a device that is not a DMA engine', ['  - dma: { device: 3010000.iommu, op: read, src: 0, length: 8 }'], /3010000\.iommu is not a DMA engine with its driver bound/],
    ['the DMA API on a device in an unmanaged domain', [`  - domain: { name: d, device: ${PCI1} }`, `  - attach: { device: ${PCI1}, domain: d }`, '  - alloc: { name: a, size: 4K }', `  - dma-map: { name: m, device: ${PCI1}, buffer: a, size: 4K }`], /the DMA API maps only through DMA domains/],
    ['memory the machine does not have', ['  - alloc: { name: a, size: 2G }'], /out of physical memory/],
  ];
  for (const [what, steps, message] of cases) {
    it(what, () => {
      const { message: got, ran } = runFails(yaml('steps:', ...steps));
      expect(got).toMatch(message);
      const failed = ran.report.steps.findIndex((s) => s.status === 'failed');
      expect(failed).toBe(steps.length - 1);
      expect(ran.error?.step).toMatchObject({ index: failed, line: failed + 2 });
      expect(ran.report.outcome).toMatchObject({ ok: false, failure: { step: failed, line: failed + 2 } });
    });
  }

  it('names the label and leaves later steps not run', () => {
    const { message, ran } = runFails(yaml('steps:', '  - label: first', '    advance: { cycles: 1 }', '  - label: the bad one', '    domain: { name: d, device: nope }', '  - advance: { cycles: 1 }'));
    expect(message).toMatch(/^test\.yaml:4: steps\[1\] "the bad one": unknown device "nope"/);
    expect(ran.report.steps.map((s) => s.status)).toEqual(['ok', 'failed', 'not run']);
  });

  it('runs nothing and says nothing more when the run is fine', () => {
    const r = run(yaml('steps: []'));
    expect(r.error).toBeNull();
    expect(r.report.outcome).toEqual({ ok: true, failure: null });
  });
});
