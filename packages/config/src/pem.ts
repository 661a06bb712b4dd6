import { readFileSync } from 'node:fs';

/** What a PEM file starts with (after any blank space). */
export const PEM_START = /^\s*-----BEGIN /;

/**
 * Reads a PEM file: its text, or why it cannot be used ("cannot read FILE: ...", "FILE is not
 * a PEM file ..."), for the caller to raise with its own code and the key that named the file.
 */
export function readPem(file: string): { text: string } | { problem: string; cause?: unknown } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problem: `cannot read ${file}: ${(err as Error).message}`, cause: err };
  }
  if (!PEM_START.test(text)) return { problem: `${file} is not a PEM file (no "-----BEGIN" line)` };
  return { text };
}
