// Finding the files named by /include/ and /incbin/. Like dtc, a relative name is looked up
// first beside the file that names it, then in each search directory in order. Path handling
// is done here with plain strings (POSIX separators, Windows ones tolerated) so that the parser
// itself does not depend on node:path or node:fs and also runs in a browser.

import { DeviceTreeError, type SourceLocation } from '../../formats/devicetree/tree.js';

export interface DtsOptions {
  /** The name of the source, used in error messages and as the base of relative /include/s.
   *  Defaults to "<input>". */
  file?: string;
  /** Reads a text file for /include/; must throw if the file does not exist. */
  readFile?: (path: string) => string;
  /** Reads a binary file for /incbin/; must throw if the file does not exist. */
  readBinaryFile?: (path: string) => Uint8Array;
  /** Directories searched, in order, after the including file's own directory (dtc -i). */
  includeDirs?: string[];
  /** Add a /__symbols__ node mapping every label to its node's path, and give every labelled
   *  node a phandle, as `dtc -@` does (a base tree needs this for overlays to be applied). */
  symbols?: boolean;
}

export const DEFAULT_FILE_NAME = '<input>';

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(p);
}

/** The directory part of `p`, or "" when it has none. */
export function dirname(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  if (i < 0) return '';
  if (i === 0) return p[0];
  return p.slice(0, i);
}

/** Removes "." segments and folds "dir/.." pairs, keeping leading ".." of relative paths. */
export function normalizePath(p: string): string {
  const absolute = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (seg === '..' && absolute) continue;
    else out.push(seg);
  }
  const joined = out.join('/');
  return absolute ? `/${joined}` : joined === '' ? '.' : joined;
}

export function joinPath(dir: string, name: string): string {
  if (isAbsolute(name) || dir === '' || dir === '.') return name;
  return normalizePath(dir.endsWith('/') || dir.endsWith('\\') ? `${dir}${name}` : `${dir}/${name}`);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class SourceLoader {
  constructor(private readonly options: DtsOptions) {}

  private candidates(name: string, fromFile: string): string[] {
    if (isAbsolute(name)) return [name];
    const dirs = [dirname(fromFile), ...(this.options.includeDirs ?? [])];
    const out: string[] = [];
    for (const d of dirs) {
      const p = joinPath(d, name);
      if (!out.includes(p)) out.push(p);
    }
    return out;
  }

  private find<T>(
    directive: string,
    name: string,
    fromFile: string,
    loc: SourceLocation,
    read: ((path: string) => T) | undefined,
  ): { path: string; content: T } {
    if (read === undefined) {
      const option = directive === '/include/' ? 'readFile' : 'readBinaryFile';
      throw new DeviceTreeError(
        `${directive} "${name}" cannot be read: no ${option} option was given (use parseDtsFile, or pass ${option})`,
        loc,
      );
    }
    const tried = this.candidates(name, fromFile);
    let lastError = '';
    for (const path of tried) {
      try {
        return { path, content: read(path) };
      } catch (err) {
        lastError = reason(err);
      }
    }
    const where = tried.length === 1 ? tried[0] : tried.join(', ');
    throw new DeviceTreeError(`${directive} file "${name}" not found (tried ${where}): ${lastError}`, loc);
  }

  loadText(name: string, fromFile: string, loc: SourceLocation): { path: string; text: string } {
    const r = this.find('/include/', name, fromFile, loc, this.options.readFile);
    return { path: r.path, text: r.content };
  }

  loadBinary(name: string, fromFile: string, loc: SourceLocation): { path: string; bytes: Uint8Array } {
    const r = this.find('/incbin/', name, fromFile, loc, this.options.readBinaryFile);
    return { path: r.path, bytes: r.content };
  }
}
