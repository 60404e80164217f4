// `iommu-lab inspect` run as a child process: a DTS file, a built-in platform, DTBs (written
// here with writeDtb, and by dtc when it is installed), and bad input, which must give one
// line on stderr naming the file and where, and a non-zero exit, never a stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeDtb } from '../../src/formats/dtb/index.js';
import { parseDtsFile } from '../../src/platform/dts/index.js';
import type { InspectJson } from '../../src/cli/commands/inspect.js';
import { fixture, ROOT, runCliProcess } from './helpers.js';
import { listBuiltinPlatforms } from '../../src/platform/builtin/index.js';

const haveDtc = spawnSync('dtc', ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('iommu-lab inspect (child process)', () => {
  it('prints the topology of a QEMU-style DTS file', () => {
    const r = runCliProcess(['inspect', fixture('qemu-arm-virt-smmuv3.dts')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('device tree: test/fixtures/bindings/qemu-arm-virt-smmuv3.dts (DTS)');
    expect(lines).toContain('IOMMU /smmuv3@9050000');
    expect(lines).toContain('  registers: 0x9050000-0x906ffff (size 0x20000)');
    expect(lines).toContain('    eventq: SPI 74 (INTID 106), edge rising at /intc@8000000');
    expect(lines).toContain('    /pcie@10000000: requester ids 0x0000-0xffff -> stream ids 0x0-0xffff');
    expect(lines.at(-2)).toBe('warnings: none');
  });

  it('prints a built-in platform by name, as JSON', () => {
    const r = runCliProcess(['inspect', 'riscv-virt', '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout) as InspectJson;
    expect(json.input).toEqual({ file: join(ROOT, 'src/platform/builtin/riscv-virt.dts'), format: 'dts', platform: 'riscv-virt' });
    expect(json.iommus.map((i) => [i.path, i.registers])).toEqual([['/soc/iommu@3010000', [{ base: '0x3010000', size: '0x1000' }]]]);
    expect(json.iommus[0].serves.pciFunctions.map((f) => [f.bdf, f.id])).toEqual([
      ['00:01.0', 8],
      ['00:02.0', 0x10],
      ['00:02.1', 0x11],
    ]);
    expect(json.warnings).toEqual([]);
  });

  it('reads a DTB, recognised by its magic whatever the file is called', () => {
    const blob = join(tmp, 'renesas.blob');
    writeFileSync(blob, writeDtb(parseDtsFile(join(ROOT, fixture('renesas-rcar-ipmmu.dts')))));
    const r = runCliProcess(['inspect', blob, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as InspectJson;
    expect(json.input).toEqual({ file: blob, format: 'dtb', platform: null });
    expect(json.iommus.map((i) => [i.path, i.labels])).toEqual([
      ['/soc/iommu@e67b0000', []],
      ['/soc/iommu@e6740000', []],
      ['/soc/iommu@e6570000', []],
      ['/soc/iommu@ff8b0000', []],
      ['/soc/iommu@febd0000', []],
    ]);
    expect(json.warnings.map((w) => `${w.code} ${w.path}`)).toEqual(['unused-iommu /soc/iommu@febd0000']);
  });

  it.skipIf(!haveDtc)('reads a DTB compiled by dtc', () => {
    const blob = join(tmp, 'virtio-iommu.dtb');
    const c = spawnSync('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', blob, join(ROOT, fixture('qemu-arm-virt-virtio-iommu.dts'))]);
    expect(c.status).toBe(0);
    const r = runCliProcess(['inspect', blob]);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toContain(`device tree: ${blob} (DTB)`);
    expect(r.stdout.split('\n')).toContain('  PCI function: 00:01.0 on /pcie@10000000 (requester id 0x0008)');
  });

  it('reports a missing file in one line and exits 1', () => {
    const r = runCliProcess(['inspect', 'no/such/board.dts']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `iommu-lab: no/such/board.dts: no such file, and no built-in platform of that name (built-in: ${listBuiltinPlatforms().map((p) => p.name).join(', ')})\n`,
    );
  });

  it('reports a DTS syntax error with file, line and column, and exits 1', () => {
    const bad = join(tmp, 'bad.dts');
    writeFileSync(bad, '/dts-v1/;\n/ {\n\tiommu@0 {\n\t\t#iommu-cells = <1>\n\t};\n};\n');
    const r = runCliProcess(['inspect', bad]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`iommu-lab: ${bad}:5:2: expected ';' after property "#iommu-cells", found '}'\n`);
  });

  it('reports an error inside an /include/d file at its own file and line', () => {
    writeFileSync(join(tmp, 'soc.dtsi'), '/ {\n\tsoc {\n\t\tcompatible = "simple-bus"\n\t};\n};\n');
    const top = join(tmp, 'board.dts');
    writeFileSync(top, '/dts-v1/;\n/include/ "soc.dtsi"\n');
    const r = runCliProcess(['inspect', top]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`iommu-lab: ${join(tmp, 'soc.dtsi')}:4:2: expected ';' after property "compatible", found '}'\n`);
  });

  it('reports a broken DTB with its byte offset, and exits 1', () => {
    const bad = join(tmp, 'truncated.dtb');
    writeFileSync(bad, writeDtb(parseDtsFile(join(ROOT, fixture('qemu-arm-virt-smmuv3.dts')))).subarray(0, 64));
    const r = runCliProcess(['inspect', bad]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^iommu-lab: ${bad}: byte offset 0x[0-9a-f]+: expected .+, found .+\\n$`));
    expect(r.stderr.split('\n')).toHaveLength(2);
  });
});
