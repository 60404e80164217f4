// Loading scenarios (docs/scenarios.md "Values", "Steps", "Errors"): exact numbers, symbolic
// addresses and data, strict validation with one `file:line: key.path: message` line per
// problem, all problems at once, nothing run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario, numberFromText, parseAddressText, ScenarioError, STEP_KINDS } from '../../src/scenario/index.js';
import { load, loadErrors, yaml } from './helpers.js';
import { listBuiltinPlatforms } from '../../src/platform/builtin/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'iommu-lab-scenario-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function firstStep(text: string) {
  return load(text).scenario.steps[0];
}

describe('values', () => {
  it('reads numbers exactly, with size suffixes, underscores and prefixes', () => {
    expect(numberFromText('4096')).toBe(4096n);
    expect(numberFromText('0x1000')).toBe(0x1000n);
    expect(numberFromText('0x8000_0000')).toBe(0x8000_0000n);
    expect(numberFromText('4K')).toBe(4096n);
    expect(numberFromText('2M')).toBe(2n << 20n);
    expect(numberFromText('1G')).toBe(1n << 30n);
    expect(numberFromText('0x10K')).toBe(0x4000n);
    expect(numberFromText('0b101')).toBe(5n);
    expect(numberFromText('1_000')).toBe(1000n);
    for (const bad of ['big', '4KB', '-1', '0x', '1__0', '1.5', '']) expect(numberFromText(bad), bad).toBeNull();
  });

  it('keeps 64-bit addresses exact, whether YAML sees an integer or a string', () => {
    const s = firstStep(yaml('steps:', '  - map: { domain: d, iova: 0xfffffffffffff000, phys: "0xffff_ffff_ffff_0000", size: "0x10_0000_0000" }'));
    expect(s).toMatchObject({ kind: 'map', iova: { kind: 'number', value: 0xffff_ffff_ffff_f000n }, phys: { kind: 'number', value: 0xffff_ffff_ffff_0000n }, size: 0x10_0000_0000n });
    expect(loadErrors(yaml('steps:', '  - dma: { device: x, op: read, src: 0x1_0000_0000_0000_0000, length: 8 }', '  - write: { address: 0, length: 2G, data: zero }'))).toEqual([
      'test.yaml:2: steps[0].dma.src: address "0x1_0000_0000_0000_0000" does not fit 64 bits',
      'test.yaml:3: steps[1].write.length: the CPU writes or compares at most 1 GiB in a step, got "2G"',
    ]);
  });

  it('reads symbolic addresses with an optional offset', () => {
    expect(parseAddressText('rx')).toEqual({ kind: 'symbol', name: 'rx', offset: 0n, text: 'rx' });
    expect(parseAddressText('rx+4K')).toEqual({ kind: 'symbol', name: 'rx', offset: 4096n, text: 'rx+4K' });
    expect(parseAddressText('dst + 0x40')).toEqual({ kind: 'symbol', name: 'dst', offset: 0x40n, text: 'dst + 0x40' });
    expect(parseAddressText('dst-0x40')).toMatchObject({ offset: -0x40n });
    expect(parseAddressText('0x40')).toEqual({ kind: 'number', value: 0x40n });
    expect(parseAddressText('rx+big')).toBeNull();
    expect(parseAddressText('9lives')).toBeNull();
  });

  it('reads every kind of data specification', () => {
    const steps = load(
      yaml(
        'steps:',
        '  - alloc: { name: a, size: 4K }',
        '  - alloc: { name: b, size: 4K, fill: zero }',
        '  - alloc: { name: c, size: 4K, fill: { pattern: 0x1122334455667788 } }',
        '  - alloc: { name: d, size: 4K, fill: { bytes: [0x12, 52] } }',
        '  - alloc: { name: e, size: 4K, fill: { random: 7 } }',
        '  - alloc: { name: f, size: 4K, fill: c+8 }',
      ),
    ).scenario.steps;
    expect(steps.map((s) => (s.kind === 'alloc' ? s.fill : null))).toEqual([
      { kind: 'zero' },
      { kind: 'zero' },
      { kind: 'pattern', value: 0x1122334455667788n },
      { kind: 'bytes', bytes: Uint8Array.from([0x12, 52]) },
      { kind: 'random', seed: 7n },
      { kind: 'buffer', name: 'c', offset: 8n, text: 'c+8' },
    ]);
  });

  it('fills in the documented defaults', () => {
    const { scenario } = load(yaml('steps:', '  - map: { domain: d, iova: 0, phys: 0, size: 4K }', '  - dma-map: { name: m, device: x, buffer: 0, size: 4K }', '  - dma: { device: x, op: fill, dst: 0, length: 8 }', '  - workload: { device: x, buffers: 2, size: 4K }', '  - domain: { name: d, device: x }'));
    expect(scenario).toMatchObject({ name: null, platform: { kind: 'builtin', name: 'riscv-virt' }, seed: 1n });
    expect(scenario.config).toEqual({
      kernel: { defaultDomain: 'translated', invalidation: 'strict', flushQueue: { size: undefined, timeout: undefined } },
      riscvIommu: { capabilities: {}, directoryLevels: undefined, caches: { iotlb: undefined, deviceContexts: undefined, processContexts: undefined } },
      smmuv3: { domainStage: 'auto', capabilities: {}, caches: {} },
      virtioIommu: { reservedRegions: [] },
      dmaEngine: { bytesPerCycle: 0 },
      ipmmu: {},
      xen: {},
    });
    expect(scenario.steps[0]).toMatchObject({ prot: 'rw', label: null, index: 0 });
    expect(scenario.steps[1]).toMatchObject({ direction: 'bidirectional' });
    expect(scenario.steps[2]).toMatchObject({ pattern: 0n, expect: 'ok', pasid: null, src: null });
    expect(scenario.steps[3]).toMatchObject({ op: 'copy', access: 'sequential', workingSet: 16, seed: null, verify: true, sizes: [4096] });
    expect(scenario.steps[4]).toMatchObject({ type: 'paging' });
  });

  it('resolves fault causes given by name to their codes (RISC-V IOMMU spec, fault-record CAUSE table)', () => {
    const causes = ['Read page fault', 'read-page-fault', 'ReadPageFault', 13, 'DDT entry not valid', 'Write/AMO page fault'].map((c) => {
      const s = firstStep(yaml('steps:', `  - expect: { faults: { cause: ${JSON.stringify(c)} } }`));
      return s.kind === 'expect' ? s.faults?.cause : undefined;
    });
    expect(causes).toEqual([13, 13, 13, 13, 258, 15]);
  });

  it('accepts the platform forms', () => {
    expect(load(yaml('platform: riscv-virt-pci-iommu', 'steps: []')).scenario.platform).toEqual({ kind: 'builtin', name: 'riscv-virt-pci-iommu' });
    expect(load(yaml('platform: { builtin: riscv-virt }', 'steps: []')).scenario.platform).toEqual({ kind: 'builtin', name: 'riscv-virt' });
    expect(load(yaml('platform: { dts: boards/x.dts }', 'steps: []')).scenario.platform).toEqual({ kind: 'dts', path: 'boards/x.dts' });
    expect(load(yaml('platform: { dtb: x.dtb }', 'steps: []')).scenario.platform).toEqual({ kind: 'dtb', path: 'x.dtb' });
  });
});

describe('errors: one line per problem, with file, line and key path', () => {
  it('words the documented example exactly', () => {
    const text = yaml('steps:', '  - alloc: { name: src, size: 8K }', '  - domain: { name: d, device: 0000:00:01.0 }', '  - alloc: { name: dst, size: 8K }', '  - map:', '      domain: d', '      iova: 0x1000', '      phys: src', '      size: big');
    expect(loadErrors(text)).toEqual(['test.yaml:9: steps[3].map.size: expected a number or size such as 4K, got "big"']);
  });

  it('rejects unknown keys, naming the key and the valid ones', () => {
    expect(loadErrors(yaml('steps: []', 'extra: 1'))).toEqual(['test.yaml:2: extra: unknown key "extra"; a scenario takes name, description, platform, seed, config or steps']);
    expect(loadErrors(yaml('config:', '  kernel: { invalidation: lazy, flushqueue: {} }', 'steps: []'))).toEqual([
      'test.yaml:2: config.kernel.flushqueue: unknown key "flushqueue"; config.kernel takes default-domain, invalidation or flush-queue',
    ]);
    expect(loadErrors(yaml('steps:', '  - map: { domain: d, iova: 0, phys: 0, sise: 4K, size: 4K }'))).toEqual(['test.yaml:2: steps[0].map.sise: unknown key "sise"; map takes domain, iova, phys, size or prot']);
    expect(loadErrors(yaml('config:', '  riscv-iommu:', '    capabilities: { Sv99: true }', 'steps: []'))[0]).toMatch(/^test\.yaml:3: config\.riscv-iommu\.capabilities\.Sv99: unknown key "Sv99"; capabilities takes Sv32, Sv39, .* or S$/);
  });

  it('requires exactly one action key per step and lists the step kinds', () => {
    const kinds = STEP_KINDS.join(', ');
    expect(kinds).toBe('alloc, write, domain, attach, detach, map, unmap, dma-map, dma-unmap, dma, advance, workload, expect');
    expect(loadErrors(yaml('steps:', '  - label: nothing to do'))).toEqual([`test.yaml:2: steps[0]: a step needs one action key: ${kinds}`]);
    expect(loadErrors(yaml('steps:', '  - allocate: { name: a, size: 4K }'))).toEqual([`test.yaml:2: steps[0].allocate: unknown step kind "allocate"; valid step kinds: ${kinds}`]);
    expect(loadErrors(yaml('steps:', '  - alloc: { name: a, size: 4K }', '    advance: { cycles: 1 }'))).toEqual(['test.yaml:3: steps[0].advance: a step has exactly one action key, found alloc and advance; write one step for each']);
    expect(loadErrors(yaml('steps:', '  - alloc: { name: a, size: 4K }', '    note: hi'))).toEqual(['test.yaml:3: steps[0].note: unknown key "note" beside "alloc"; a step holds one action key and an optional label']);
    expect(loadErrors(yaml('steps:', '  - 5'))).toEqual([`test.yaml:2: steps[0]: expected a step (a mapping with one action key: ${kinds}), got 5`]);
  });

  it('names missing required keys at the line of the mapping that lacks them', () => {
    expect(loadErrors(yaml('steps:', '  - alloc:', '      name: a'))).toEqual(['test.yaml:2: steps[0].alloc: missing required key "size"']);
    expect(loadErrors(yaml('name: x'))).toEqual(['test.yaml:1: missing required key "steps"']);
  });

  it('says what was expected and what was found for each kind of value', () => {
    const problems = loadErrors(
      yaml(
        'seed: -3',
        'platform: sparc-virt',
        'config:',
        '  kernel: { default-domain: identity }',
        '  riscv-iommu: { directory-levels: 4, caches: { iotlb: { sets: 3, ways: 0 } } }',
        '  dma-engine: { bytes-per-cycle: fast }',
        'steps:',
        '  - alloc: { name: 9a, size: 0 }',
        '  - map: { domain: d, iova: rx+big, phys: 0, size: 4K, prot: x }',
        '  - alloc: { name: a, size: 4K, fill: { pattern: 0x1_0000_0000_0000_0000 } }',
        '  - alloc: { name: b, size: 4K, fill: { bytes: [1, 256] } }',
        '  - alloc: { name: c, size: 4K, fill: { pattern: 1, random: 2 } }',
        '  - dma: { device: x, op: move, length: 4K }',
        '  - dma: { device: x, op: read, src: 0, dst: 0, length: 0x1_0000_0000 }',
        '  - expect: {}',
        '  - expect: { faults: { cause: Mystery fault } }',
        '  - workload: { device: x, buffers: 0, size: [4K, big] }',
        '  - label: [1]',
        '    advance: { cycles: 1.5 }',
      ),
    );
    expect(problems).toEqual([
      'test.yaml:1: seed: expected a seed (not negative), got -3',
      `test.yaml:2: platform: unknown built-in platform "sparc-virt"; built-in platforms: ${listBuiltinPlatforms().map((p) => p.name).join(', ')}`,
      'test.yaml:4: config.kernel.default-domain: expected translated or passthrough, got "identity"',
      'test.yaml:5: config.riscv-iommu.directory-levels: expected a number of device-directory levels from 1 to 3, got 4',
      'test.yaml:5: config.riscv-iommu.caches.iotlb.sets: sets must be a power of two, got 3',
      'test.yaml:5: config.riscv-iommu.caches.iotlb.ways: expected a number of ways from 1 to 64, got 0',
      'test.yaml:6: config.dma-engine.bytes-per-cycle: expected a throughput in bytes per cycle, got "fast"',
      'test.yaml:8: steps[0].alloc.name: expected a name (letters, digits and _, not starting with a digit), got "9a"',
      'test.yaml:8: steps[0].alloc.size: expected a size greater than 0, got 0',
      'test.yaml:9: steps[1].map.iova: expected an address (a number, or a buffer or mapping name with an optional offset such as rx+0x40), got "rx+big"',
      'test.yaml:9: steps[1].map.prot: expected r, w or rw, got "x"',
      'test.yaml:10: steps[2].alloc.fill: pattern "0x1_0000_0000_0000_0000" does not fit 64 bits',
      'test.yaml:11: steps[3].alloc.fill: bytes[1]: expected a byte value 0..255, got 256',
      'test.yaml:12: steps[4].alloc.fill: expected data: zero, a buffer name, { pattern: N }, { bytes: [...] } or { random: SEED }, got a mapping with keys "pattern", "random"',
      'test.yaml:13: steps[5].dma.op: expected copy, fill or read, got "move"',
      'test.yaml:14: steps[6].dma.length: a transfer is at most 0xffffffff bytes, got "0x1_0000_0000"',
      'test.yaml:15: steps[7].expect: expect needs at least one of memory, translation or faults',
      'test.yaml:16: steps[8].expect.faults.cause: unknown fault cause "Mystery fault"; name it as the RISC-V IOMMU specification\'s cause table does (e.g. "Read page fault" or ReadPageFault), as an SMMUv3 event (e.g. F_TRANSLATION) or a virtio-iommu fault reason (e.g. MAPPING), or give its code (e.g. 13)',
      'test.yaml:17: steps[9].workload.buffers: expected a number of buffers from 1 to 100000000, got 0',
      'test.yaml:17: steps[9].workload.size: [1]: expected a number or size such as 4K, got "big"',
      'test.yaml:18: steps[10].label: expected a label, got a list',
      'test.yaml:19: steps[10].advance.cycles: expected a number of cycles, got 1.5',
    ]);
  });

  it('checks which fields each DMA operation uses', () => {
    expect(loadErrors(yaml('steps:', '  - dma: { device: x, op: copy, src: 0, length: 8, pattern: 1 }'))).toEqual([
      'test.yaml:2: steps[0].dma: op copy needs dst',
      'test.yaml:2: steps[0].dma.pattern: op copy does not use pattern (it uses src and dst)',
    ]);
  });

  it('reports YAML syntax errors, duplicate keys and empty files at their lines', () => {
    expect(loadErrors(yaml('steps:', '  - alloc: { name: a, size: 4K', '  - advance: { cycles: 1 }'))[0]).toMatch(/^test\.yaml:[23]: YAML: /);
    expect(loadErrors(yaml('name: a', 'name: b', 'steps: []'))).toEqual(['test.yaml:2: YAML: Map keys must be unique']);
    expect(loadErrors('')).toEqual(['test.yaml: the scenario is empty; it needs at least "steps:"']);
    expect(loadErrors(yaml('- alloc: {}'))).toEqual(['test.yaml:1: a scenario: expected a mapping with keys name, description, platform, seed, config or steps, got a list']);
    expect(loadErrors(yaml('steps: 3'))).toEqual(['test.yaml:1: steps: expected a list of steps, got 3']);
  });

  it('reports every problem of the file at once, in file order', () => {
    const problems = loadErrors(yaml('steps:', '  - alloc: { name: a, size: big }', 'zzz: 1', '  ', 'seed: x'));
    expect(problems.map((p) => p.split(':').slice(0, 2).join(':'))).toEqual(['test.yaml:2', 'test.yaml:3', 'test.yaml:5']);
  });

  it('names a file that cannot be read', () => {
    const missing = join(tmp, 'nope.yaml');
    expect(() => loadScenario(missing)).toThrow(ScenarioError);
    expect(() => loadScenario(missing)).toThrow(`${missing}: cannot read scenario: no such file`);
    expect(() => loadScenario(tmp)).toThrow(`${tmp}: cannot read scenario: is a directory`);
    const good = join(tmp, 'ok.yaml');
    writeFileSync(good, yaml('steps: []'));
    expect(loadScenario(good).source.dir).toBe(tmp);
  });
});
