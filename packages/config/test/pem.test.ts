import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PEM_START, readPem } from '../src/index.js';

describe('readPem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ikc-pem-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the text of a PEM file', () => {
    const file = join(dir, 'ok.pem');
    const text = '\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    writeFileSync(file, text);
    assert.deepEqual(readPem(file), { text });
    assert.ok(PEM_START.test(text));
  });

  it('says why a file cannot be used, naming it', () => {
    const missing = readPem(join(dir, 'missing.pem'));
    assert.ok('problem' in missing);
    assert.match(missing.problem, /^cannot read .*missing\.pem: ENOENT/);
    assert.equal((missing.cause as { code?: string }).code, 'ENOENT');
    const der = join(dir, 'cert.der');
    writeFileSync(der, Buffer.from([0x30, 0x82, 0x01, 0x0a]));
    const notPem = readPem(der);
    assert.ok('problem' in notPem);
    assert.equal(notPem.problem, `${der} is not a PEM file (no "-----BEGIN" line)`);
  });
});
