// Device Tree Source (DTS) parser and printer. The parser is a hand-written equivalent of
// `dtc -I dts -O dtb` (dtc 1.6): property values are exactly the bytes dtc would put in the
// blob, phandles are allocated as dtc allocates them, and merges, deletions and overlays
// behave as in dtc.
//
//   const tree = parseDts('/dts-v1/; / { model = "demo"; };');
//   tree.root.string('model'); // "demo"
//   formatDts(tree);           // "/dts-v1/;\n\n/ {\n\tmodel = \"demo\";\n};\n"
//
// Supported: /dts-v1/, /memreserve/, labels, nested and repeated nodes (merged), &label and
// &{/path} merges, /delete-node/, /delete-property/, /omit-if-no-ref/ (honoured: unreferenced
// nodes are removed), strings with C escapes, <cells> with C integer expressions, /bits/,
// [bytes], phandle and path references, /include/ (with search directories), /incbin/, cpp
// line markers, /plugin/ overlays (fragments, __fixups__, __local_fixups__) and, with the
// `symbols` option, dtc -@'s __symbols__.
// Not supported: the C preprocessor itself (#include, #define: run cpp first; the error says
// so) and pre-v1 (/dts-v0/) sources.
//
// Errors are DeviceTreeErrors whose message starts with "file:line:column:"; nothing is
// returned on failure.

import type { DeviceTree } from '../../formats/devicetree/tree.js';
import { parseDtsText } from './parser.js';
import type { DtsOptions } from './sources.js';

export type { DtsOptions as ParseDtsOptions } from './sources.js';
export { parseDtsFile } from './file.js';
export { formatDts, formatValue } from './format.js';

/** Parses DTS text into a DeviceTree; property values are the bytes dtc would put in a DTB. */
export function parseDts(text: string, options: DtsOptions = {}): DeviceTree {
  return parseDtsText(text, options);
}
