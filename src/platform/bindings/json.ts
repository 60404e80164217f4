// The topology as JSON: the same shape as IommuTopology, with every bigint (register
// addresses and sizes) as a "0x..." string, since JSON numbers cannot hold 64 bits exactly.

import type { IommuTopology } from './topology.js';

/** `T` with bigints as hex strings. */
export type Jsonified<T> = T extends bigint
  ? string
  : T extends readonly (infer U)[]
    ? Jsonified<U>[]
    : T extends object
      ? { [K in keyof T]: Jsonified<T[K]> }
      : T;

export type TopologyJson = Jsonified<IommuTopology>;

function convert(value: unknown): unknown {
  if (typeof value === 'bigint') return `0x${value.toString(16)}`;
  if (Array.isArray(value)) return value.map(convert);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v)]));
  return value;
}

export function topologyToJson(topology: IommuTopology): TopologyJson {
  return convert(topology) as TopologyJson;
}
