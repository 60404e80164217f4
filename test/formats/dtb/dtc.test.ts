// Round trips against the reference implementation, dtc (Debian package
// device-tree-compiler). The fixtures in test/fixtures/dtb are compiled by dtc, read by
// readDtb, written by writeDtb, and compared with dtc's own blob byte for byte and, as
// dtc decompiles them, as DTS text. Skipped locally without dtc; a failure in CI.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceTree } from '../../../src/formats/devicetree/tree.js';
import { readDtb, readDtbHeader, writeDtb } from '../../../src/formats/dtb/index.js';
import { DTC_MISSING, arbitraryTree, dtc, dtcVersion, sampleTree, snapshot, u64 } from './helpers.js';

const fixtures = fileURLToPath(new URL('../../fixtures/dtb/', import.meta.url));
const FIXTURES = ['riscv-virt', 'arm-smmuv3', 'edge-cases'] as const;
const version = dtcVersion();

if (version === undefined && process.env.CI) {
  describe('dtc', () => {
    it('is installed (CI runs the DTB round trips against dtc)', () => {
      throw new Error(DTC_MISSING);
    });
  });
}

describe.skipIf(version === undefined)(`round trips against ${version ?? 'dtc'}`, () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iommu-lab-dtc-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Compiles a fixture with extra dtc options. */
  const compile = (fixture: string, ...options: string[]): Uint8Array => new Uint8Array(dtc([...options, '-I', 'dts', '-O', 'dtb', join(fixtures, `${fixture}.dts`)]));

  let counter = 0;
  const toFile = (bytes: Uint8Array): string => {
    const path = join(dir, `blob-${counter++}.dtb`);
    writeFileSync(path, bytes);
    return path;
  };
  const decompile = (bytes: Uint8Array): string => dtc(['-I', 'dtb', '-O', 'dts', toFile(bytes)]).toString('utf8');
  const recompile = (bytes: Uint8Array): Uint8Array => new Uint8Array(dtc(['-I', 'dtb', '-O', 'dtb', toFile(bytes)]));

  describe.each(FIXTURES)('%s.dts', (fixture) => {
    it('writeDtb(readDtb(dtc blob)) is byte-identical to the dtc blob', () => {
      const theirs = compile(fixture);
      const ours = writeDtb(readDtb(theirs, { file: `${fixture}.dtb` }));
      expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
    });

    it('dtc decompiles our blob to the same DTS text as its own', () => {
      const theirs = compile(fixture);
      const ours = writeDtb(readDtb(theirs));
      const text = decompile(ours);
      expect(text).toBe(decompile(theirs));
      expect(text).toMatch(/^\/dts-v1\/;/);
    });

    it('matches dtc -p (padding), -S (minimum size) and -b (boot CPU)', () => {
      const plain = compile(fixture);
      const tree = readDtb(plain);
      expect(writeDtb(tree, { padding: 100 })).toEqual(compile(fixture, '-p', '100'));
      expect(writeDtb(tree, { padding: 4096 - plain.length })).toEqual(compile(fixture, '-S', '4096'));
      const boot7 = compile(fixture, '-b', '7');
      expect(readDtb(boot7).bootCpuId).toBe(7);
      expect(writeDtb(tree, { bootCpuId: 7 })).toEqual(boot7);
      expect(writeDtb(readDtb(boot7))).toEqual(boot7);
    });

    it('reads dtc -R (spare reservation slots) as the same reservations', () => {
      // dtc -R N adds N all-zero entries before the terminator; the first of them already ends
      // the list (5.3.2), so the slots carry no data and writeDtb does not reproduce them.
      const plain = readDtb(compile(fixture));
      const spare = readDtb(compile(fixture, '-R', '3'));
      expect(snapshot(spare)).toEqual(snapshot(plain));
    });

    it('dtc re-emits our blob unchanged', () => {
      const ours = writeDtb(readDtb(compile(fixture)));
      expect(recompile(ours)).toEqual(ours);
    });
  });

  describe('property values of riscv-virt.dts', () => {
    let tree: DeviceTree;
    beforeAll(() => {
      tree = readDtb(compile('riscv-virt'), { file: 'riscv-virt.dtb' });
    });
    const node = (path: string) => {
      const n = tree.find(path);
      if (!n) throw new Error(`no node ${path}`);
      return n;
    };
    const hex = (path: string, prop: string): string => Buffer.from(node(path).property(prop)?.value ?? []).toString('hex');

    it('has the memreserve entries and the boot CPU dtc guessed from the first /cpus child', () => {
      expect(tree.reservations).toEqual([
        { address: 0x80000000n, size: 0x200000n },
        { address: 0x100000000n, size: 0x10000n },
        { address: 0xfffff000n, size: 0x1000n },
      ]);
      expect(tree.bootCpuId).toBe(1);
      expect(node('/cpus').children.map((c) => c.name)).toEqual(['cpu@1', 'cpu@0']);
    });

    it('reads the RISC-V IOMMU node', () => {
      const iommu = node('/soc/iommu@3010000');
      expect(iommu.strings('compatible')).toEqual(['riscv,iommu']);
      expect(iommu.u32('#iommu-cells')).toBe(1);
      expect(iommu.u32s('reg')).toEqual([0, 0x03010000, 0, 0x1000]);
      expect(iommu.u32s('interrupts')).toEqual([0x20, 0x21, 0x22, 0x23]);
      expect(iommu.strings('interrupt-names')).toEqual(['cmdq', 'fltq', 'pm', 'priq']);
      expect(iommu.property('dma-coherent')?.value).toEqual(new Uint8Array(0));
      expect(tree.byPhandle(iommu.u32('msi-parent') ?? -1)?.path).toBe('/soc/interrupt-controller@24000000');
      expect(iommu.labels).toEqual([]); // labels do not survive compilation to a blob
    });

    it('reads the PCIe host bridge iommu-map and iommu-map-mask', () => {
      const iommuPhandle = node('/soc/iommu@3010000').u32('phandle');
      expect(iommuPhandle).toBeGreaterThan(0);
      const pcie = node('/soc/pcie@30000000');
      expect(pcie.u32s('iommu-map')).toEqual([0x0000, iommuPhandle, 0x0000, 0x8000, 0x8000, iommuPhandle, 0x10000, 0x8000]);
      expect(pcie.u32('iommu-map-mask')).toBe(0xfff8);
      expect(pcie.u32s('bus-range')).toEqual([0, 0xff]);
      expect(pcie.u32s('ranges')).toHaveLength(21);
      expect(pcie.string('device_type')).toBe('pci');
    });

    it('reads 64-bit, 16-bit, 8-bit, byte-string and mixed values byte for byte', () => {
      const dma = '/soc/dma@3020000';
      expect(node(dma).property('iommu-lab,dma-mask')?.value).toEqual(u64(0x000fffffffffffffn));
      expect(hex(dma, 'iommu-lab,seed')).toBe('fedcba98765432100000000000000001');
      expect(hex(dma, 'iommu-lab,queue-depths')).toBe('00100100ffff');
      expect(hex(dma, 'iommu-lab,burst')).toBe('040810');
      expect(hex(dma, 'iommu-lab,blob')).toBe('0011223344');
      expect(hex(dma, 'iommu-lab,mixed')).toBe(Buffer.from('a\0\x01\x02\0\0\0\x03\t"quoted"\n\0', 'latin1').toString('hex'));
      expect(node(dma).u32s('iommus')).toEqual([node('/soc/iommu@3010000').u32('phandle'), 0x42]);
      expect(hex('/chosen', 'rng-seed')).toBe('deadbeef01020304');
      expect(node('/memory@80000000').u32s('reg')).toEqual([0, 0x80000000, 0, 0x80000000, 1, 0, 0, 0x40000000]);
    });

    it('reads string lists and plain strings', () => {
      expect(node('/cpus/cpu@1').strings('riscv,isa-extensions')).toEqual(['i', 'm', 'a', 'f', 'd', 'c', 'h', 'zicsr', 'zifencei', 'svpbmt']);
      expect(node('/soc/interrupt-controller@c000000').strings('compatible')).toEqual(['sifive,plic-1.0.0', 'riscv,plic0']);
      expect(node('/chosen').string('bootargs')).toBe('console=ttyS0 earlycon iommu.passthrough=0');
      expect(tree.alias('serial0')?.path).toBe('/soc/serial@10000000');
    });
  });

  describe('property values of edge-cases.dts', () => {
    it('reads empty and short values, escapes, and every name character', () => {
      const tree = readDtb(compile('edge-cases'));
      const root = tree.root;
      expect(tree.reservations).toEqual([]);
      expect(['a', 'ab', 'abc', 'abcd', 'abcde', 'v5', 'v6', 'v7', 'v8', 'v9'].map((p) => root.property(p)?.value.length)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(root.strings('escapes')).toEqual(['tab\there', 'nl\n', 'quote"', 'backslash\\', 'hex\x7f\x01']);
      expect(root.property('empty-string')?.value).toEqual(Uint8Array.of(0));
      expect(root.property('two-empty-strings')?.value).toEqual(Uint8Array.of(0, 0));
      expect(root.string('odd,name_chars+.?#-')).toBe('x');
      expect(tree.find('/node,with_all.chars+-@1/nested/deeper/deepest')?.has('leaf')).toBe(true);
      expect(root.children.map((c) => c.name)).toEqual(['b', 'bc', 'bcd', 'bcde', 'bcdef@0', 'node,with_all.chars+-@1']);
    });

    it('shares strings-table entries the way dtc does', () => {
      const blob = compile('edge-cases');
      const h = readDtbHeader(blob);
      const strings = Buffer.from(blob.subarray(h.offDtStrings, h.offDtStrings + h.sizeDtStrings)).toString('latin1').split('\0');
      // "phandle", "size-cells" and "cells" are tails of earlier names and get no entry of their own.
      expect(strings).not.toContain('phandle');
      expect(strings).not.toContain('cells');
      expect(strings.slice(0, 3)).toEqual(['linux,phandle', '#size-cells', '#address-cells']);
      expect(writeDtb(readDtb(blob))).toEqual(blob);
    });
  });

  describe('trees built in TypeScript', () => {
    it('dtc re-emits our blob of a hand-built tree unchanged, and decompiles it', () => {
      const tree = sampleTree();
      // dtc's node_name_chars check rejects non-ASCII names, which a blob itself can carry.
      const unicode = tree.find('/ünicode-node');
      if (unicode) tree.root.removeChild(unicode);
      const ours = writeDtb(tree);
      expect(recompile(ours)).toEqual(ours);
      const text = decompile(ours);
      expect(text).toContain('/memreserve/\t0xffffffffffff0000 0x000000000000ffff;');
      expect(text).toContain('iommu-map-mask = <0xfff8>;');
      expect(text).toContain('compatible = "iommu-lab,virt\\0riscv-virtio";');
    });

    it('dtc re-emits our blobs of random trees unchanged (fast-check)', () => {
      fc.assert(
        fc.property(arbitraryTree('x-'), (tree) => {
          const ours = writeDtb(tree);
          expect(recompile(ours)).toEqual(ours);
        }),
        { numRuns: 40 },
      );
    });
  });
});
