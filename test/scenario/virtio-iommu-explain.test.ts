// explainTranslation on a virtio-iommu, in process: each kind of outcome the device has for a
// request (VIRTIO 1.3 5.13.6: a mapping with or without the access's permission, a bypass
// domain, an endpoint attached to no domain with config.bypass 0, the MSI window of
// 5.13.6.8.1), agreement with what a real DMA of the same request does, and the dry run that
// keeps the explained request from reaching memory.
import { describe, expect, it } from 'vitest';
import { dmaEngineOf } from '../../src/os/drivers/dma-engine/index.js';
import { explainTranslation, parseAddressText, type Explanation } from '../../src/scenario/index.js';
import { runOk, yaml, type Ran } from './helpers.js';

const ran: Ran = runOk(
  yaml(
    'platform: riscv-virt-virtio-iommu',
    'config:',
    '  virtio-iommu:',
    '    reserved-regions: [{ start: 0x28000000, size: 4K, type: msi }]',
    'steps:',
    '  - alloc: { name: buf, size: 16K, fill: { pattern: 0x1122334455667788 } }',
    '  - domain: { name: ro, device: 0000:00:01.0 }',
    '  - attach: { device: 0000:00:01.0, domain: ro }',
    '  - map: { domain: ro, iova: 0x10000, phys: buf, size: 8K, prot: r }',
    '  - domain: { name: id, device: 0000:00:02.0, type: identity }',
    '  - attach: { device: 0000:00:02.0, domain: id }',
    '  - domain: { name: blk, device: 0000:00:02.1, type: blocked }',
    '  - attach: { device: 0000:00:02.1, domain: blk }',
  ),
);
const runner = ran.runner;
const buf = runner.buffers.get('buf')!.paddr;

function explain(device: string, iova: string, write = false, pasid: number | null = null): Explanation {
  return explainTranslation(runner, { device, iova: parseAddressText(iova)!, write, pasid, cold: false });
}

/** What a real one-transaction DMA of the same request does: ok, or faulted. */
function realRead(device: string, iova: bigint): boolean {
  const dev = runner.kernel.drivers.find((d) => d.name === device)!;
  const r = dmaEngineOf(dev).rawReadVerify(iova, 8, 0x1122334455667788n);
  runner.kernel.poll();
  return r.ok;
}

describe('explain on a virtio-iommu: the outcomes of 5.13.6', () => {
  it('a read inside a read-only mapping: translated, the page size is the whole mapping', () => {
    const e = explain('0000:00:01.0', '0x11008');
    expect(e.result).toEqual({ ok: true, physical: buf + 0x1008n, pageSize: 0x2000n, permissions: 'read' });
    expect(e.notes).toContain(`the interval lookup finds 0x10000..0x11fff -> ${'0x' + buf.toString(16)} (read)`);
    expect(realRead('0000:00:01.0', 0x11008n)).toBe(true);
  });

  it('a write to it: MAPPING, the mapping does not allow it; memory is not touched by the explanation', () => {
    const before = runner.kernel.memory.readBytes(buf, 16);
    const faults = runner.faults.all.length;
    const e = explain('0000:00:01.0', '0x10000', true);
    expect(e.result).toMatchObject({ ok: false, cause: 2, causeName: 'MAPPING' });
    if (!e.result.ok) expect(e.result.why).toMatch(/^the mapping 0x10000\.\.0x11fff -> 0x[0-9a-f]+ \(read\) does not allow a write;/);
    expect(e.reported).toMatchObject({ device: '0000:00:01.0', cause: 2, write: true, iova: 0x10000n });
    expect(runner.faults.all.length).toBe(faults + 1);
    expect(runner.kernel.memory.readBytes(buf, 16)).toEqual(before);
  });

  it('outside the mapping: MAPPING, no mapping contains the address', () => {
    const e = explain('0000:00:01.0', '0x12000');
    expect(e.result).toMatchObject({ ok: false, cause: 2 });
    if (!e.result.ok) expect(e.result.why).toMatch(/^no mapping of domain \d+ contains 0x12000;/);
    expect(realRead('0000:00:01.0', 0x12000n)).toBe(false);
  });

  it('an identity domain is a bypass domain (ATTACH_F_BYPASS): the address goes through unchanged', () => {
    const e = explain('0000:00:02.0', `0x${(buf + 0x40n).toString(16)}`);
    expect(e.notes?.[0]).toMatch(/^endpoint 0x10: attached to domain \d+, a bypass domain \(ATTACH_F_BYPASS\)$/);
    expect(e.result).toEqual({ ok: true, physical: buf + 0x40n, pageSize: 0x1000n, permissions: 'all (bypass)' });
    expect(realRead('0000:00:02.0', buf + 0x40n)).toBe(true);
  });

  it('a blocked endpoint is attached to no domain, with config.bypass 0: DOMAIN', () => {
    const e = explain('0000:00:02.1', `0x${buf.toString(16)}`);
    expect(e.notes?.[0]).toBe('endpoint 0x11: attached to no domain; unattached endpoints are blocked (config.bypass 0)');
    expect(e.result).toMatchObject({ ok: false, cause: 1, causeName: 'DOMAIN' });
    if (!e.result.ok) expect(e.result.why).toMatch(/^endpoint 0x11 is attached to no domain, and config\.bypass is 0: unattached endpoints are blocked;/);
    expect(realRead('0000:00:02.1', buf)).toBe(false);
  });

  it('a write into the MSI window passes untranslated, and the explanation sends no MSI', () => {
    const received = runner.machine.interruptFile!.received.length;
    const e = explain('dma0', '0x28000000', true);
    expect(e.result).toEqual({ ok: true, physical: 0x2800_0000n, pageSize: 0x1000n, permissions: 'MSI doorbell (untranslated)' });
    expect(runner.machine.interruptFile!.received.length).toBe(received);
  });

  it('says that a PASID means nothing to the device', () => {
    const e = explain('0000:00:01.0', '0x11000', false, 5);
    expect(e.notes).toContain('the request carries PASID 5, which the device does not look at (its requests name endpoints and domains only)');
    expect(e.result.ok).toBe(true);
  });
});
