// The command line run in-process (runCli with captured output): option handling, commander's
// own errors, and the one-line reports of user errors.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { oneLine } from '../../src/cli/errors.js';
import type { InspectJson } from '../../src/cli/commands/inspect.js';
import { fixture } from './helpers.js';
import { listBuiltinPlatforms } from '../../src/platform/builtin/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  const code = await runCli(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('iommu-lab (in-process)', () => {
  it('lists the built-in platforms, as text and as JSON', async () => {
    const text = await run('platforms');
    expect(text.code).toBe(0);
    const json = await run('platforms', '--json');
    const names = (JSON.parse(json.out) as { name: string }[]).map((p) => p.name);
    expect(names.slice(0, 6)).toEqual(['riscv-virt', 'riscv-virt-pci-iommu', 'riscv-virt-virtio-iommu', 'riscv-virt-virtio-iommu-pci', 'arm-virt', 'rcar-gen3-xen']);
    // One line each, the names in a column as wide as the longest.
    const width = Math.max(...names.map((n) => n.length));
    expect(text.out.split('\n').map((l) => l.slice(0, width + 2))).toEqual([...names.map((n) => `${n.padEnd(width)}  `), '']);
    expect(text.out).toMatch(/^rcar-gen3-xen +R-Car Gen3-like board booting the Xen-style hypervisor/m);
  });

  it('lists the built-in scenarios and runs one by name', async () => {
    const text = await run('scenarios');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^riscv-virt-tour {7}RISC-V IOMMU on riscv-virt/m);
    expect(text.out).toMatch(/^virtio-iommu-tour {5}virtio-iommu on riscv-virt-virtio-iommu/m);
    expect(text.out).toMatch(/^xen-passthrough-tour {2}Xen-style hypervisor on rcar-gen3-xen/m);
    const json = JSON.parse((await run('scenarios', '--json')).out) as { name: string; file: string }[];
    expect(json.find((s) => s.name === 'riscv-virt-tour')?.file).toMatch(/riscv-virt-tour\.yaml$/);
    const byName = await run('run', 'riscv-virt-tour', '--quiet');
    expect(byName).toEqual({ code: 0, out: '', err: '' });
  });

  it('searches --include directories for /include/ files', async () => {
    mkdirSync(join(tmp, 'inc'));
    writeFileSync(join(tmp, 'inc', 'iommu.dtsi'), '/ { iommu: iommu@0 { compatible = "riscv,iommu"; reg = <0 0 0 0x1000>; #iommu-cells = <1>; }; };\n');
    const board = join(tmp, 'board.dts');
    writeFileSync(board, '/dts-v1/;\n/include/ "iommu.dtsi"\n/ { #address-cells = <2>; #size-cells = <2>; dev { iommus = <&iommu 7>; }; };\n');
    const missing = await run('inspect', board);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(
      `iommu-lab: ${board}:2:1: /include/ file "iommu.dtsi" not found (tried ${join(tmp, 'iommu.dtsi')}): ENOENT: no such file or directory, open '${join(tmp, 'iommu.dtsi')}'\n`,
    );
    const found = await run('inspect', '--json', '-i', join(tmp, 'inc'), board);
    expect(found.err).toBe('');
    expect((JSON.parse(found.out) as InspectJson).iommus[0].serves.endpoints).toEqual([{ path: '/dev', ids: [7] }]);
  });

  it('reports a directory, an unknown platform and a read error as user errors', async () => {
    expect(await run('inspect', tmp)).toEqual({ code: 1, out: '', err: `iommu-lab: ${tmp}: is a directory, not a device tree file\n` });
    const unknown = await run('inspect', 'sparc-virt');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe(`iommu-lab: sparc-virt: no such file, and no built-in platform of that name (built-in: ${listBuiltinPlatforms().map((p) => p.name).join(', ')})\n`);
  });

  it("leaves usage errors, --help and --version to commander's exit codes", async () => {
    const noArg = await run('inspect');
    expect(noArg.code).toBe(1);
    expect(noArg.err).toBe("error: missing required argument 'tree'\n");
    const unknown = await run('frobnicate');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe("error: unknown command 'frobnicate'\n");
    const help = await run('inspect', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: iommu-lab inspect [options] <tree>');
    const version = await run('--version');
    expect(version).toEqual({ code: 0, out: '0.1.0\n', err: '' });
  });

  it('prints the text report after a header naming the input', async () => {
    const r = await run('inspect', fixture('qemu-riscv-virt-iommu-sys.dts'));
    expect(r.code).toBe(0);
    expect(r.out.split('\n').slice(0, 4)).toEqual([
      'device tree: test/fixtures/bindings/qemu-riscv-virt-iommu-sys.dts (DTS)',
      'model: riscv-virtio,qemu',
      'compatible: riscv-virtio',
      'IOMMUs: 1, endpoints with iommus: 0, host bridges: 1',
    ]);
    expect(r.out).toContain('  /soc/pci@30000000 iommu-map: iommu-map entry 0 has length 0 and maps nothing [map-length]\n');
  });

  it('keeps every error message on one line', () => {
    expect(oneLine('a\n  b\r\nc ')).toBe('a b c');
  });
});
