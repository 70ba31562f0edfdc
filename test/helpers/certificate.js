// Throwaway TLS credentials for the wss:/https tests, made at test time by the openssl CLI (the
// same OpenSSL the addon links), so no key material lives in the repository.

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A self-signed P-256 certificate valid for two days.
 *
 * @param {string} commonName The subject CN, e.g. 'localhost' or '127.0.0.1'
 * @param {{ipAddress?: string}} [options] Adds an IP subjectAltName (browsers match IPs there)
 * @return {{key: Buffer, cert: Buffer, spkiHash: string}} PEM key and certificate, and the
 *     base64 SHA-256 of the public key (SPKI), which Chromium can be told to trust
 */
export function selfSignedCertificate(commonName, options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsn-cert-'));
  try {
    const keyPath = path.join(dir, 'key.pem');
    const certPath = path.join(dir, 'cert.pem');
    const args = [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      `/CN=${commonName}`
    ];
    if (options.ipAddress) {
      args.push('-addext', `subjectAltName=IP:${options.ipAddress}`);
    }
    execFileSync('openssl', args, { stdio: 'pipe' });
    const cert = fs.readFileSync(certPath);
    const spki = crypto
      .createPublicKey(cert)
      .export({ type: 'spki', format: 'der' });
    return {
      key: fs.readFileSync(keyPath),
      cert,
      spkiHash: crypto.createHash('sha256').update(spki).digest('base64')
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
