// Shared helpers for the binding-analysis tests.
import { fileURLToPath } from 'node:url';
import type { DeviceTree } from '../../../src/formats/devicetree/tree.js';
import { analyseIommuTopology, type IommuInfo, type IommuTopology } from '../../../src/platform/bindings/index.js';
import { parseDts, parseDtsFile } from '../../../src/platform/dts/index.js';

/** Absolute path of a file in test/fixtures/bindings. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/bindings/${name}`, import.meta.url));
}

export function fixtureTree(name: string): DeviceTree {
  return parseDtsFile(fixturePath(name));
}

export function analyseFixture(name: string): IommuTopology {
  return analyseIommuTopology(fixtureTree(name));
}

/** Analyses a DTS whose root node has `body` (with 2/2 root cells unless the body sets them). */
export function analyseBody(body: string): IommuTopology {
  return analyseIommuTopology(parseDts(`/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\n${body}\n};\n`, { file: 'test.dts' }));
}

/** Warnings as "code path property: message" lines, the easiest form to compare exactly. */
export function warningLines(t: IommuTopology): string[] {
  return t.warnings.map((w) => `${w.code} ${w.path}${w.property === null ? '' : ` ${w.property}`}: ${w.message}`);
}

export function iommuAt(t: IommuTopology, path: string): IommuInfo {
  const found = t.iommus.find((i) => i.path === path);
  if (found === undefined) throw new Error(`no IOMMU at ${path}; have ${t.iommus.map((i) => i.path).join(', ')}`);
  return found;
}
