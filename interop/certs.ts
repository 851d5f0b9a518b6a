/**
 * Server certificates for the runner, made with openssl (not with our own
 * X.509 code, so the peers check something we did not write): a chain of
 * `length` certificates, root first, the leaf for `localhost`, 127.0.0.1 and
 * ::1. cert.pem holds the whole chain leaf first, as the interop runner's
 * `amplificationlimit` case wants a long one (9) in the server's first flight.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const openssl = (args: ReadonlyArray<string>, cwd: string): void => {
  const out = spawnSync("openssl", args, { cwd, encoding: "utf8", timeout: 30_000 })
  if (out.status !== 0) throw new Error(`openssl ${args[0]} failed: ${out.stderr}`)
}

const newKey = (dir: string, name: string) =>
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`], dir)

/** Writes `cert.pem` (leaf first, then its issuers) and `priv.key` into `dir`. */
export const makeCertificates = (dir: string, length: number): void => {
  mkdirSync(dir, { recursive: true })
  const names = Array.from({ length }, (_, i) => (i === length - 1 ? "leaf" : `ca${i}`))
  names.forEach((name, i) => {
    newKey(dir, name)
    const isLeaf = name === "leaf"
    const extensions = isLeaf
      ? ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth",
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"]
      : ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
    const subject = `/CN=${isLeaf ? "localhost" : `effect-quic interop ${name}`}`
    if (i === 0) {
      openssl(["req", "-x509", "-new", "-key", `${name}.key`, "-subj", subject, "-days", "30", "-sha256",
        ...extensions.flatMap((e) => ["-addext", e]), "-out", `${name}.pem`], dir)
      return
    }
    writeFileSync(join(dir, `${name}.ext`), extensions.join("\n") + "\n")
    openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], dir)
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${names[i - 1]}.pem`, "-CAkey", `${names[i - 1]}.key`,
      "-CAcreateserial", "-days", "30", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.pem`], dir)
  })
  const chain = [...names].reverse().map((name) => readFileSync(join(dir, `${name}.pem`), "utf8"))
  writeFileSync(join(dir, "cert.pem"), chain.join(""))
  writeFileSync(join(dir, "ca.pem"), readFileSync(join(dir, `${names[0]}.pem`), "utf8"))
  writeFileSync(join(dir, "priv.key"), readFileSync(join(dir, "leaf.key"), "utf8"))
}
