// Hypervisor scenarios (docs/scenarios.md "Hypervisor scenarios") on rcar-gen3-xen: guests
// created with passed-through DMA engines, DMA programmed by their drivers through the engines'
// registers with guest-physical addresses, and the IPMMU isolating them (Xen
// ipmmu-vmsa.c: one context per domain whose table is its P2M; quarantine in dom_io). Each
// isolation case checks that the DMA faulted and that the memory it aimed at is unchanged.

import { describe, expect, it } from 'vitest';
import { DOMID_IO } from '../../src/hyp/xen/index.js';
import { builtinScenarioFile, explainTranslation, loadScenario, parseAddressText, ScenarioError, ScenarioRunner } from '../../src/scenario/index.js';
import { load, loadErrors, run, runFails, runOk, yaml } from './helpers.js';

const SECRET = '0x5ec2e75ec2e75ec2';

/** Guests a (dmac1) and b (dmac2) with a secret in b; more steps after. */
function twoGuests(...steps: string[]): string {
  return yaml(
    'hypervisor: xen',
    'steps:',
    '  - guest: { name: a, memory: 4M, devices: [dmac1] }',
    '  - guest: { name: b, memory: 4M, devices: [dmac2] }',
    `  - alloc: { guest: b, name: secret, size: 4K, fill: { pattern: ${SECRET} } }`,
    '  - alloc: { guest: a, name: mine, size: 8K, fill: { random: 3 } }',
    ...steps,
  );
}

/** The machine memory of b's secret, read directly. */
function secretBytes(r: { runner: ScenarioRunner }): Uint8Array {
  const b = r.runner.session.buffers.get('secret')!;
  return r.runner.machine.memory.readBytes(BigInt(b.frames[0]) << 12n, 4096);
}

function patternBytes(pattern: bigint, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => Number((pattern >> BigInt(8 * (i % 8))) & 0xffn));
}

const tour = new ScenarioRunner(loadScenario(builtinScenarioFile('xen-passthrough-tour') ?? '', { name: 'xen-passthrough-tour.yaml' }));
const tourResult = tour.run();

describe('the xen-passthrough-tour', () => {
  it('runs every step with every expectation holding', () => {
    expect(tourResult.error).toBeNull();
    expect(tourResult.report.steps.every((s) => s.status === 'ok')).toBe(true);
    expect(tourResult.report.expectations).toEqual({ checked: 22, passed: 22, failed: 0 });
    expect(tourResult.report.kernel).toBeNull();
  });

  it('reports DMA, faults, flushes and P2M changes per guest, destroyed and rebooted ones included', () => {
    const h = tourResult.report.hypervisor!;
    expect(h.domains.map((d) => [d.label, d.state])).toEqual([
      ['d0 (Domain-0)', 'running'],
      ['d1 (a)', 'dead'],
      ['d2 (b)', 'dead'],
      ['d3 (b)', 'running'],
      ['dom_io', 'running'],
    ]);
    const by = Object.fromEntries(h.domains.map((d) => [d.label, d]));
    // a: one 8 KiB copy, then the fill aimed at b refused (a translation fault in a's context).
    expect(by['d1 (a)'].dma).toEqual({ transfers: 1, bytes: 8192, errors: 1, timeouts: 0 });
    expect(by['d1 (a)'].faults).toBe(1);
    // b before its reboot: two reads; the write to its read-only page refused (a permission fault).
    expect(by['d2 (b)'].dma).toEqual({ transfers: 2, bytes: 8192, errors: 1, timeouts: 0 });
    expect(by['d2 (b)'].faults).toBe(1);
    // Each P2M change after a guest's first assignment is followed by an IOMMU flush: a mapped
    // its device's registers (1); b mapped two devices' registers, then made its page read-only
    // and back (2 + 2), which split its 2 MiB superpage.
    expect(by['d1 (a)'].iommuFlushes).toBe(1);
    expect(by['d2 (b)'].iommuFlushes).toBe(4);
    expect(by['d2 (b)'].p2m.splits).toBe(1);
    // b after the reboot: the 16 KiB fill and the workload's 2000 copies.
    expect(by['d3 (b)'].dma).toEqual({ transfers: 2001, bytes: 16384 + 2000 * 4096, errors: 0, timeouts: 0 });
    expect(by['d3 (b)'].devices).toEqual(['/soc/dma@e7310000', '/soc/dma@ee000000']);
    // Quarantine: the devices no guest owns fault in dom_io's context (three faults).
    expect(by['dom_io'].faults).toBe(3);
    expect(by['dom_io'].devices).toEqual(['/soc/dma@e6710000', '/soc/dma@e7300000']);
  });

  it('reports context-bank use of the root IPMMU: reserved 0, dom_io, dom0 and a context per guest', () => {
    const [c] = tourResult.report.hypervisor!.contexts;
    expect(c.iommu).toBe('/soc/iommu@e67b0000');
    expect(c.total).toBe(8);
    expect(c.inUse).toEqual([
      { context: 0, domain: null },
      { context: 1, domain: 'dom_io' },
      { context: 2, domain: 'd0 (Domain-0)' },
      { context: 3, domain: 'd3 (b)' },
    ]);
    // a and b at once: 0, 1, 2, 3 (a) and 4 (b).
    expect(c.peak).toBe(5);
  });

  it('lists the faults with their domain and the devices that may have issued them', () => {
    const f = tourResult.report.hypervisor!.faults;
    expect(f.total).toBe(5);
    expect(f.list.map((x) => [x.domain, x.devices, x.kinds])).toEqual([
      ['d1 (a)', ['/soc/dma@e7300000'], ['translation fault']],
      ['dom_io', ['/soc/dma@e6710000'], ['translation fault']],
      ['d2 (b)', ['/soc/dma@e7310000', '/soc/dma@ee000000'], ['permission fault']],
      ['dom_io', ['/soc/dma@e6710000', '/soc/dma@e7300000'], ['translation fault']],
      ['dom_io', ['/soc/dma@e6710000', '/soc/dma@e7300000'], ['translation fault']],
    ]);
    // The IPMMU model counted the same faults in the root's context banks.
    const root = tourResult.report.iommus.find((i) => i.node === '/soc/iommu@e67b0000')!;
    expect(root.faults.byCause).toEqual([
      { cause: 1, name: 'TF: translation fault', count: 4 },
      { cause: 2, name: 'PF: permission fault', count: 1 },
    ]);
  });

  it("measures the workload inside b: no map, unmap or flush per buffer, the cache IPMMU's TLB warm", () => {
    const w = tourResult.report.workloads[0];
    expect(w).toMatchObject({ guest: 'b', device: '/soc/dma@ee000000', buffers: 2000, verified: 2000, dmaMaps: 0, dmaUnmaps: 0, invalidationCommands: 0, syncs: 0 });
    // A 4 KiB copy is 64 reads and 64 writes of 64 bytes, each translated once by IPMMU-HC.
    expect(w.translations).toBe(2000 * 128);
    // The guest's RAM is 2 MiB superpages: one TLB entry covers the whole working set.
    expect(w.tlbHitRate).toBeGreaterThan(0.999);
  });

  it('reports every IPMMU in the iommus section, the root with its walks', () => {
    const names = tourResult.report.iommus.map((i) => [i.architecture, i.name]);
    expect(names).toEqual([
      ['IPMMU-VMSA', 'ipmmu_mm (root)'],
      ['IPMMU-VMSA', 'ipmmu_ds0 (cache of ipmmu_mm)'],
      ['IPMMU-VMSA', 'ipmmu_ds1 (cache of ipmmu_mm)'],
      ['IPMMU-VMSA', 'ipmmu_hc (cache of ipmmu_mm)'],
    ]);
    const root = tourResult.report.iommus[0];
    // The root walks on each miss of its main TLB; a walk of a 40-bit P2M starts at level 1 and
    // reads one descriptor per level it reaches (one for an empty P2M, three at most).
    expect(root.walks.total).toBe(root.caches[0].misses);
    expect(root.walks.total).toBeGreaterThan(0);
    expect(root.memory.reads).toBeGreaterThanOrEqual(root.walks.total);
    expect(root.memory.reads).toBeLessThanOrEqual(3 * root.walks.total);
    expect(root.commands).toEqual([]);
    for (const i of tourResult.report.iommus) for (const c of i.caches) expect(c.hits + c.misses).toBe(c.lookups);
  });

  it('explains a translation of dmac4 as a walk of b\'s P2M (2 MiB block), and a fault of a quarantined device', () => {
    const iova = parseAddressText('0x40000000')!;
    const e = explainTranslation(tour, { device: 'dmac4', iova, write: false, pasid: null, cold: true });
    expect(e).toMatchObject({ architecture: 'IPMMU-VMSA', iommu: '/soc/iommu@e6570000', deviceId: 0, device: '/soc/dma@ee000000' });
    expect(e.coldCommands).toHaveLength(1);
    expect(e.caches.map((c) => [c.name, c.outcome])).toEqual([
      ['TLB of /soc/iommu@e6570000', 'miss'],
      ['main TLB of /soc/iommu@e67b0000', 'miss'],
    ]);
    expect(e.accesses.map((a) => a.level)).toEqual([1, 2]);
    expect(e.accesses[1].meaning).toMatch(/^block: 2 MiB at 0x[0-9a-f]+, read\/write$/);
    expect(e.result).toMatchObject({ ok: true, pageSize: 2n << 20n, permissions: 'read/write' });
    const q = explainTranslation(tour, { device: 'dmac3', iova, write: true, pasid: null, cold: false });
    expect(q.result).toMatchObject({ ok: false, cause: 1, causeName: 'TF: translation fault' });
    expect(q.reported).toMatchObject({ device: '/soc/dma@e6710000, /soc/dma@e7300000', iova: 0x4000_0000n, causeName: 'translation fault' });
  });
});

describe('isolation (each case faults, and nothing is written)', () => {
  it("a device assigned to guest a aimed at guest b's memory", () => {
    const r = runOk(
      twoGuests(
        `  - dma: { guest: a, device: dmac1, op: fill, dst: "machine:secret", length: 4K, pattern: 0xbad, expect: fault }`,
        '  - expect: { faults: { guest: a, device: dmac1, kind: translation, count: 1 } }',
        `  - expect: { memory: { guest: b, address: secret, length: 4K, equals: { pattern: ${SECRET} } } }`,
      ),
    );
    expect(secretBytes(r)).toEqual(patternBytes(BigInt(SECRET), 4096));
    const f = r.runner.session.faults;
    expect(f).toHaveLength(1);
    expect(f[0].domain?.name).toBe('a');
    expect(f[0].address).toBe(BigInt(r.runner.session.buffers.get('secret')!.frames[0]) << 12n);
    // b's guest-physical address is a's own memory: the same number reaches a's RAM, not b's.
    const same = runOk(twoGuests('  - dma: { guest: a, device: dmac1, op: fill, dst: 0x40000000, length: 4K, pattern: 0x1 }'));
    expect(secretBytes(same)).toEqual(patternBytes(BigInt(SECRET), 4096));
  });

  it('a device assigned to nobody (quarantined in dom_io)', () => {
    const r = runOk(
      twoGuests(
        '  - expect: { device: { device: dmac3, assigned-to: quarantine } }',
        `  - dma: { device: dmac3, op: fill, dst: "machine:secret", length: 4K, pattern: 0xbad, expect: fault }`,
        '  - expect: { faults: { guest: quarantine, device: dmac3, count: 1 } }',
      ),
    );
    expect(secretBytes(r)).toEqual(patternBytes(BigInt(SECRET), 4096));
    expect(r.runner.session.faults[0].domain?.id).toBe(DOMID_IO);
  });

  it('without quarantine, the same device is not translated and writes where it aims (config.xen.quarantine: false)', () => {
    const r = runOk(yaml('config: { xen: { quarantine: false } }', ...twoGuests(`  - dma: { device: dmac3, op: fill, dst: "machine:secret", length: 4K, pattern: 0xbad }`).split('\n')));
    expect(r.runner.xen.quarantine).toBe(false);
    expect(r.runner.xen.device('/soc/dma@e6710000').domain).toBeNull();
    expect(secretBytes(r)).toEqual(patternBytes(0xbadn, 4096));
    expect(r.runner.session.faults).toEqual([]);
  });

  it('a device whose guest was destroyed', () => {
    const r = runOk(
      twoGuests(
        '  - destroy: { guest: a }',
        '  - expect: { device: { device: dmac1, assigned-to: quarantine } }',
        '  - dma: { device: dmac1, op: fill, dst: mine, length: 8K, pattern: 0xbad, expect: fault }',
        `  - dma: { device: dmac1, op: fill, dst: "machine:secret", length: 4K, pattern: 0xbad, expect: fault }`,
        '  - expect: { faults: { guest: quarantine, device: dmac1, count: 2 } }',
        '  - expect: { memory: { address: "machine:mine", length: 8K, equals: { random: 3 } } }',
      ),
    );
    expect(secretBytes(r)).toEqual(patternBytes(BigInt(SECRET), 4096));
    expect(r.report.hypervisor!.domains.find((d) => d.name === 'a')).toMatchObject({ state: 'dead', ramPages: 0, contexts: [] });
  });

  it("a guest cannot program a device it was not given: its registers are not in the guest's P2M", () => {
    const { message } = runFails(twoGuests('  - dma: { guest: b, device: dmac1, op: fill, dst: 0x40000000, length: 4K }'));
    expect(message).toBe(
      "test.yaml:7: steps[4]: d2 (b)'s driver cannot reach the registers of /soc/dma@e7300000 (it is assigned to d1 (a)): d2 (b): stage-2 write abort at IPA 0xe730000c: nothing is mapped there",
    );
  });

  it("a guest names its own buffers only; another guest's buffer is reached by its machine address", () => {
    const { message } = runFails(twoGuests('  - dma: { guest: a, device: dmac1, op: fill, dst: secret, length: 4K }'));
    expect(message).toBe('test.yaml:7: steps[4]: secret is a buffer of d2 (b); d1 (a) uses its own guest-physical addresses: write a number, or machine:secret for where that buffer is in machine memory');
  });
});

describe('guests and their memory', () => {
  it('a rebooted guest gets a new domain and context, and its devices work again', () => {
    const r = runOk(
      twoGuests(
        '  - reboot: { guest: b }',
        '  - expect: { device: { device: dmac2, assigned-to: b } }',
        '  - alloc: { guest: b, name: again, size: 4K }',
        '  - dma: { guest: b, device: dmac2, op: fill, dst: again, length: 4K, pattern: 0x77 }',
        '  - expect: { memory: { guest: b, address: again, length: 4K, equals: { pattern: 0x77 } } }',
      ),
    );
    const b = r.runner.session.guests.get('b')!.domain;
    expect(b.label).toBe('d3 (b)');
    expect(r.report.hypervisor!.domains.find((d) => d.label === 'd2 (b)')?.state).toBe('dead');
    // A buffer of the old b is gone with it.
    const { message } = runFails(twoGuests('  - reboot: { guest: b }', `  - expect: { memory: { guest: b, address: secret, length: 4K, equals: zero } }`));
    expect(message).toMatch(/secret is a buffer of d2 \(b\), which is gone; d3 \(b\) uses its own guest-physical addresses/);
  });

  it('populate adds RAM that DMA can reach; release takes it back and DMA there faults', () => {
    const r = runOk(
      twoGuests(
        '  - populate: { guest: a, gpa: 0x80000000, size: 2M }',
        '  - dma: { guest: a, device: dmac1, op: fill, dst: 0x80100000, length: 4K, pattern: 0x42 }',
        '  - expect: { memory: { guest: a, address: 0x80100000, length: 4K, equals: { pattern: 0x42 } } }',
        '  - release: { guest: a, gpa: 0x80000000, size: 2M }',
        '  - dma: { guest: a, device: dmac1, op: fill, dst: 0x80100000, length: 4K, pattern: 0x43, expect: fault }',
        '  - expect: { faults: { guest: a, kind: translation, address: 0x80100000, count: 1 } }',
      ),
    );
    const a = r.report.hypervisor!.domains.find((d) => d.name === 'a')!;
    expect(a.ramPages).toBe(1024);
    // Creation mapped RAM and registers; populate and release are one change each, each flushed.
    expect(a.p2m.leavesMapped).toBeGreaterThanOrEqual(3);
    expect(a.iommuFlushes).toBeGreaterThanOrEqual(2);
    expect(r.report.steps[7].summary).toBe('d1 (a): 2 MiB of RAM at GPA 0x80000000 given back');
  });

  it('protect makes a page read-only for the device too (the P2M is the IPMMU table): a permission fault, the read still works', () => {
    const r = runOk(
      twoGuests(
        '  - protect: { guest: a, gpa: mine, size: 4K, access: ro }',
        '  - dma: { guest: a, device: dmac1, op: fill, dst: mine, length: 4K, pattern: 0x1, expect: fault }',
        '  - expect: { faults: { guest: a, kind: permission, address: mine, count: 1 } }',
        '  - expect: { memory: { guest: a, address: mine, length: 8K, equals: { random: 3 } } }',
        '  - dma: { guest: a, device: dmac1, op: copy, src: mine, dst: mine+4K, length: 4K }',
      ),
    );
    expect(r.report.hypervisor!.domains.find((d) => d.name === 'a')?.p2m.splits).toBe(1);
  });

  it('a guest is created with its devices; assign and deassign move a device between a guest and quarantine', () => {
    const r = runOk(
      yaml(
        'hypervisor: xen',
        'steps:',
        '  - guest: { name: g, memory: 2M }',
        '  - assign: { guest: g, device: /soc/dma@e6710000 }',
        '  - expect: { device: { device: dmac3, assigned-to: g } }',
        '  - deassign: { guest: g, device: dmac3 }',
        '  - expect: { device: { device: dmac3, assigned-to: quarantine } }',
      ),
    );
    // dom0's dmac0 at boot, then g's dmac3.
    expect(r.report.hypervisor!.devices).toMatchObject({ assignments: 2, deassignments: 1 });
    const { message } = runFails(yaml('hypervisor: xen', 'steps:', '  - guest: { name: g, memory: 2M }', '  - assign: { guest: g, device: dmac0 }'));
    expect(message).toBe('test.yaml:4: steps[1]: /soc/dma@e6700000 is already assigned to d0 (Domain-0)');
  });

  it('dom0 programs its own device with its direct-mapped addresses', () => {
    const r = runOk(
      yaml(
        'hypervisor: xen',
        'steps:',
        '  - alloc: { guest: dom0, name: d0buf, size: 4K }',
        '  - dma: { guest: dom0, device: dmac0, op: fill, dst: d0buf, length: 4K, pattern: 0x99 }',
        '  - expect: { memory: { address: "machine:d0buf", length: 4K, equals: { pattern: 0x99 } } }',
      ),
    );
    const buf = r.runner.session.buffers.get('d0buf')!;
    // Direct-mapped: the guest-physical address is the machine address.
    expect(buf.gpa).toBe(BigInt(buf.frames[0]) << 12n);
    expect(r.report.hypervisor!.domains[0].dma.transfers).toBe(1);
  });

  it("a timed engine: simulated time passes while the guest's driver polls STATUS", () => {
    const r = runOk(yaml('config: { dma-engine: { bytes-per-cycle: 8, burst-bytes: 256 } }', ...twoGuests('  - dma: { guest: a, device: dmac1, op: copy, src: mine, dst: mine+4K, length: 4K }').split('\n')));
    // 4 KiB in 256-byte transactions, each taking 256 / 8 cycles (the engine's timing counts a copy's bytes once).
    expect(r.report.time.cycles).toBe(4096 / 8);
    expect(r.report.hypervisor!.domains.find((d) => d.name === 'a')?.dma).toEqual({ transfers: 1, bytes: 4096, errors: 0, timeouts: 0 });
  });

  it('config.ipmmu reaches every IPMMU model', () => {
    const r = runOk(yaml('hypervisor: xen', 'config: { ipmmu: { tlb: { sets: 4, ways: 2 }, utlb-disabled: abort } }', 'steps: []'));
    for (const i of r.runner.machine.iommus) {
      if (i.kind !== 'ipmmu-vmsa') throw new Error('rcar-gen3-xen has IPMMUs only');
      expect(i.model.parameters).toMatchObject({ tlbSets: 4, tlbWays: 2, utlbDisabled: 'abort' });
    }
  });
});

describe('expectations that do not hold say what was seen', () => {
  it('a fault count, a device owner, memory', () => {
    expect(runFails(twoGuests('  - expect: { faults: { guest: a, count: 1 } }')).message).toBe('test.yaml:7: steps[4]: expectation failed: expected 1 fault in a, got 0; no faults were reported since the previous check');
    expect(runFails(twoGuests('  - expect: { device: { device: dmac1, assigned-to: b } }')).message).toBe('test.yaml:7: steps[4]: expectation failed: /soc/dma@e7300000 should be assigned to b, but it is assigned to d1 (a)');
    expect(runFails(twoGuests('  - expect: { memory: { guest: b, address: secret, length: 4K, equals: zero } }')).message).toBe(
      'test.yaml:7: steps[4]: expectation failed: memory at GPA 0x40000000 of d2 (b) + 0x0 is 0xc2, expected 0x00',
    );
    expect(runFails(twoGuests('  - dma: { guest: a, device: dmac1, op: fill, dst: mine, length: 4K, expect: fault }')).message).toBe(
      'test.yaml:7: steps[4]: expectation failed: fill of 4 KiB at 0x40000000 by /soc/dma@e7300000 for d1 (a): expected a fault, but the transfer completed (4 KiB)',
    );
  });
});

describe('the hypervisor scenario format', () => {
  it('selects the hypervisor steps with hypervisor: xen, on rcar-gen3-xen by default', () => {
    const { scenario } = load(yaml('hypervisor: xen', 'steps:', '  - guest: { name: g }', '  - dma: { device: dmac3, op: read, src: 0x1000, length: 8 }'));
    expect(scenario.platform).toEqual({ kind: 'builtin', name: 'rcar-gen3-xen' });
    expect(scenario.steps).toEqual([]);
    expect(scenario.hypervisor?.steps).toMatchObject([
      { kind: 'guest', name: 'g', memoryMiB: 16, devices: [], index: 0, label: null },
      { kind: 'dma', guest: null, device: 'dmac3', op: 'read', pattern: 0n, expect: 'ok', src: { space: 'guest', expr: { kind: 'number', value: 0x1000n } } },
    ]);
  });

  it('reports every problem with its line and key path', () => {
    expect(
      loadErrors(
        yaml(
          'hypervisor: xen',
          'steps:',
          '  - guest: { name: dom0, memory: 3000K }',
          '  - domain: { name: d, device: x }',
          '  - populate: { guest: g, gpa: 0x1001, size: 6K }',
          '  - expect: { memory: { address: buf, length: 8, equals: zero }, faults: { kind: fatal } }',
          '  - expect: { memory: { guest: g, address: "machine:buf", length: 8, equals: zero } }',
          '  - dma: { guest: g, device: dmac1, op: fill, dst: "machine:", length: 8 }',
          '  - guest: { name: g, devices: dmac1 }',
        ),
      ),
    ).toEqual([
      'test.yaml:3: steps[0].guest.name: "dom0" names one of the hypervisor\'s own domains; choose another guest name',
      "test.yaml:3: steps[0].guest.memory: a guest's memory is a whole number of MiB (such as 16M), got \"3000K\"",
      'test.yaml:4: steps[1].domain: "domain" is a kernel step; a hypervisor scenario (hypervisor: xen) acts through guests; valid step kinds: guest, assign, deassign, alloc, write, populate, protect, release, dma, workload, destroy, reboot, advance, expect',
      'test.yaml:5: steps[2].populate.gpa: expected a 4 KiB-aligned guest-physical address, got 4097',
      'test.yaml:5: steps[2].populate.size: expected a size that is a whole number of 4 KiB pages, got "6K"',
      'test.yaml:6: steps[3].expect.memory.address: buf is a guest-physical address: name the guest, or write machine:buf to read machine memory',
      'test.yaml:6: steps[3].expect.faults.kind: expected a fault kind: translation (TF), permission (PF), walk-abort (ABORT) or multiple-hits (MHIT), got "fatal"',
      'test.yaml:7: steps[4].expect.memory.address: guest g reads guest-physical addresses: drop machine: or drop guest to read machine memory',
      'test.yaml:8: steps[5].dma.dst: expected machine: followed by a number or a guest buffer\'s name with an optional offset (machine:secret+0x40), got "machine:"',
      'test.yaml:9: steps[6].guest.devices: expected a list of devices (device-tree paths or labels), got "dmac1"',
    ]);
  });

  it('names hypervisor steps used without hypervisor: xen, and an unknown hypervisor', () => {
    expect(loadErrors(yaml('steps:', '  - guest: { name: g }'))).toEqual([
      'test.yaml:2: steps[0].guest: "guest" is a hypervisor step: it needs `hypervisor: xen` at the top of the scenario; valid step kinds: alloc, write, domain, attach, detach, map, unmap, dma-map, dma-unmap, dma, advance, workload, expect',
    ]);
    expect(loadErrors(yaml('hypervisor: kvm', 'steps: []'))).toEqual(['test.yaml:1: hypervisor: expected xen, got "kvm"']);
  });

  it('refuses a hypervisor scenario on a platform that boots a kernel, and a kernel scenario on a Xen platform', () => {
    const error = (text: string) => {
      try {
        new ScenarioRunner(load(text));
      } catch (e) {
        if (e instanceof ScenarioError) return e.message;
        throw e;
      }
      return 'no error';
    };
    expect(error(yaml('hypervisor: xen', 'platform: arm-virt', 'steps: []'))).toBe(
      'test.yaml:1: hypervisor: arm-virt (built-in) boots a kernel, not Xen (its /chosen has no xen,xen-bootargs); hypervisor scenarios run on a Xen platform such as rcar-gen3-xen',
    );
    expect(error(yaml('platform: rcar-gen3-xen', 'steps: []'))).toBe('test.yaml:1: platform: rcar-gen3-xen (built-in) boots the Xen hypervisor, not a kernel: its steps are hypervisor steps (add `hypervisor: xen` to the scenario)');
  });

  it('reports a hypervisor that cannot boot at config.xen', () => {
    expect(() => run(yaml('hypervisor: xen', 'config: { xen: { dom0-memory: 1G } }', 'steps: []'))).toThrow(/^test\.yaml:2: config\.xen: the hypervisor does not boot: /);
  });

  it('runs unknown names into one-line step errors', () => {
    expect(runFails(yaml('hypervisor: xen', 'steps:', '  - dma: { guest: nobody_here, device: dmac1, op: read, src: 0, length: 8 }')).message).toBe('test.yaml:3: steps[0]: unknown guest "nobody_here"; guests: dom0');
    expect(runFails(yaml('hypervisor: xen', 'steps:', '  - dma: { device: gic, op: read, src: 0, length: 8 }')).message).toBe(
      'test.yaml:3: steps[0]: /soc/interrupt-controller@f1010000 is not a DMA engine of this machine; DMA engines: dmac0 (/soc/dma@e6700000), dmac1 (/soc/dma@e7300000), dmac2 (/soc/dma@e7310000), dmac3 (/soc/dma@e6710000), dmac4 (/soc/dma@ee000000)',
    );
    expect(runFails(yaml('hypervisor: xen', 'steps:', '  - guest: { name: g, memory: 2M }', '  - destroy: { guest: g }', '  - destroy: { guest: g }')).message).toBe('test.yaml:5: steps[2]: guest g (d1 (g)) was destroyed');
  });
});
