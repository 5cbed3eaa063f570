/**
 * The playground's TLS certificates: a private certificate authority and a
 * server certificate it signs, for `localhost`, `mail.example.com`,
 * `127.0.0.1` and `::1`.
 *
 * Deno's TLS (rustls) will not accept a self-signed CA certificate used
 * directly by a server, so there are two: trust `ca.pem` (with
 * `deno run --cert ca.pem ...`) and the server presents `server-cert.pem`.
 * The certificates are made once, with the `selfsigned` library, and kept in
 * the data folder; the server's private key is readable by its owner only,
 * and the CA's key is thrown away once it has signed, so nothing else can
 * ever be signed with it.
 *
 * @module
 */

import { generate } from "selfsigned";
import { join } from "node:path";

/** Where the certificates live and what they hold (PEM). */
export interface PlaygroundCertificates {
  /** The CA certificate to trust: `deno run --cert <caPath> tls.ts ...`. */
  caPath: string;
  /** The server's certificate, PEM. */
  cert: string;
  /** The server's private key, PEM. */
  key: string;
  /** The CA certificate, PEM. */
  ca: string;
  /** Whether they were made just now (false when they were already there). */
  created: boolean;
}

/** The names the server certificate is good for. */
export const CERTIFICATE_NAMES = ["localhost", "mail.example.com", "127.0.0.1", "::1"];

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

/**
 * Loads the certificates from `dataDir`, making them first if they are not
 * there (the folder must exist).
 */
export async function ensureCertificates(dataDir: string): Promise<PlaygroundCertificates> {
  const caPath = join(dataDir, "ca.pem");
  const certPath = join(dataDir, "server-cert.pem");
  const keyPath = join(dataDir, "server-key.pem");
  try {
    const [ca, cert, key] = await Promise.all(
      [caPath, certPath, keyPath].map((path) => Deno.readTextFile(path)),
    );
    return { caPath, ca, cert, key, created: false };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }

  const { ca, cert, key } = await makeCertificates();
  // The key first, created with owner-only permissions from the start.
  await Deno.writeTextFile(keyPath, key, { mode: 0o600 });
  await Deno.chmod(keyPath, 0o600); // in case an old file was there
  await Deno.writeTextFile(certPath, cert);
  await Deno.writeTextFile(caPath, ca); // last: its presence means "all made"
  return { caPath, ca, cert, key, created: true };
}

/** Makes a fresh CA and a server certificate signed by it (EC P-256, SHA-256). */
export async function makeCertificates(): Promise<{ ca: string; cert: string; key: string }> {
  const notBeforeDate = new Date(Date.now() - 3600 * 1000); // allow for clock skew
  const notAfterDate = new Date(notBeforeDate.getTime() + TEN_YEARS_MS);
  const authority = await generate(
    [{ name: "commonName", value: "Chapter 13 Playground CA" }],
    {
      keyType: "ec",
      algorithm: "sha256",
      notBeforeDate,
      notAfterDate,
      extensions: [
        { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
  );
  const server = await generate(
    [{ name: "commonName", value: "mail.example.com" }],
    {
      keyType: "ec",
      algorithm: "sha256",
      notBeforeDate,
      notAfterDate,
      ca: { key: authority.private, cert: authority.cert },
      extensions: [
        { name: "basicConstraints", cA: false, critical: true },
        { name: "keyUsage", digitalSignature: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        {
          name: "subjectAltName",
          altNames: CERTIFICATE_NAMES.map((name) =>
            /^[\d.]+$|:/.test(name)
              ? { type: 7 as const, ip: name }
              : { type: 2 as const, value: name }
          ),
        },
      ],
    },
  );
  return { ca: authority.cert, cert: server.cert, key: server.private };
}
