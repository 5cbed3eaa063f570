/**
 * Test certificates made in-process with `@peculiar/x509` (no openssl):
 * a CA, and server certificates signed by it that are good, expired or for
 * another name, plus a self-signed one no CA vouches for.
 *
 * Deno's TLS (rustls) refuses a CA certificate used directly as a server
 * certificate, so even the "good" server certificate is a leaf under the CA.
 *
 * @module
 */

// @peculiar/x509 needs the Reflect metadata API, which Deno lacks.
import "npm:reflect-metadata@0.2.2";
import * as x509 from "@peculiar/x509";

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** The CA (to pass to the client) and the server certificates to test with. */
export interface TestCertificates {
  /** The CA certificate, PEM: what the client is told to trust. */
  ca: string;
  /** For 127.0.0.1 and localhost, signed by the CA, valid now. */
  good: KeyPair;
  /** Same names, signed by the CA, but its validity ended yesterday. */
  expired: KeyPair;
  /** Signed by the CA, valid, but for `other.example.com` only. */
  wrongName: KeyPair;
  /** Valid and for 127.0.0.1, but signed by itself: no trusted issuer. */
  selfSigned: KeyPair;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY = 24 * 60 * 60 * 1000;
let serial = 1;

x509.cryptoProvider.set(crypto);

async function newKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

/** Issues a server certificate for `names` (DNS names or IPv4 addresses). */
async function leaf(
  names: string[],
  issuer: { name: string; keys: CryptoKeyPair } | null,
  notBefore: Date,
  notAfter: Date,
): Promise<KeyPair> {
  const keys = await newKeys();
  const subject = `CN=${names[0]}`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, "0"),
    subject,
    issuer: issuer?.name ?? subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer?.keys.privateKey ?? keys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({
          type: /^[\d.]+$/.test(value) ? "ip" as const : "dns" as const,
          value,
        })),
      ),
    ],
  });
  return { cert: cert.toString("pem"), key: await keyPem(keys) };
}

/** Makes a fresh CA and the four server certificates. */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const now = Date.now();
  const caName = "CN=Hostile Test CA";
  const caKeys = await newKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: caName,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const issuer = { name: caName, keys: caKeys };
  const ourNames = ["127.0.0.1", "localhost"];
  const [good, expired, wrongName, selfSigned] = await Promise.all([
    leaf(ourNames, issuer, new Date(now - DAY), new Date(now + 30 * DAY)),
    leaf(ourNames, issuer, new Date(now - 30 * DAY), new Date(now - DAY)),
    leaf(["other.example.com"], issuer, new Date(now - DAY), new Date(now + 30 * DAY)),
    leaf(ourNames, null, new Date(now - DAY), new Date(now + 30 * DAY)),
  ]);
  return { ca: ca.toString("pem"), good, expired, wrongName, selfSigned };
}
