import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { toHex } from './bytes.js'
import { clientIdOf, KEY_FILE_HEADER, NodeIdentity, referenceEd25519, verifySignature } from './identity.js'

// RFC 8032 section 7.1, tests 1-3 and "SHA(abc)".
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    seed: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    pub: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    msg: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    sig: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
]

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

describe('NodeIdentity', () => {
  it.each(RFC8032)('matches RFC 8032 vector with public key $pub', (v) => {
    const id = NodeIdentity.fromSeed(hex(v.seed))
    expect(id.id).toBe(v.pub)
    expect(toHex(id.sign(hex(v.msg)))).toBe(v.sig)
    expect(toHex(referenceEd25519.publicKey(hex(v.seed)))).toBe(v.pub)
    expect(toHex(referenceEd25519.sign(hex(v.seed), hex(v.msg)))).toBe(v.sig)
    expect(verifySignature(hex(v.pub), hex(v.msg), hex(v.sig))).toBe(true)
    expect(referenceEd25519.verify(hex(v.pub), hex(v.msg), hex(v.sig))).toBe(true)
  })

  it('signs exactly like the reference implementation on 1,000 random keys and messages', () => {
    for (let i = 0; i < 1000; i++) {
      const seed = randomBytes(32)
      const message = randomBytes(i % 300)
      const id = NodeIdentity.fromSeed(seed)
      const fast = id.sign(message)
      const reference = referenceEd25519.sign(seed, message)
      expect(toHex(fast)).toBe(toHex(reference))
      expect(toHex(referenceEd25519.publicKey(seed))).toBe(id.id)
      expect(verifySignature(id.publicKey, message, reference)).toBe(true)
      expect(referenceEd25519.verify(id.publicKey, message, fast)).toBe(true)
      const tampered = Uint8Array.from(fast)
      tampered[i % 64] = (tampered[i % 64] as number) ^ 1
      expect(verifySignature(id.publicKey, message, tampered)).toBe(false)
      expect(referenceEd25519.verify(id.publicKey, message, tampered)).toBe(false)
    }
  })

  it('derives a 48-bit Yjs client id from the public key', () => {
    const id = NodeIdentity.generate()
    expect(id.clientId).toBe(clientIdOf(id.id))
    expect(id.clientId).toBe(Buffer.from(id.publicKey).readUIntBE(0, 6))
    expect(Number.isSafeInteger(id.clientId)).toBe(true)
  })

  it('rejects seeds of the wrong length', () => {
    expect(() => NodeIdentity.fromSeed(new Uint8Array(31))).toThrow(/32 bytes, got 31/)
  })
})

describe('key files', () => {
  const dir = (): string => mkdtempSync(join(tmpdir(), 'ylog-key-'))

  it('writes mode 0600 and loads the same key back', () => {
    const path = join(dir(), 'sub', 'node.key')
    const id = NodeIdentity.generate()
    id.save(path)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readFileSync(path, 'utf8')).toBe(`${KEY_FILE_HEADER}\n${toHex(id.exportSeed())}\n`)
    expect(NodeIdentity.load(path).id).toBe(id.id)
  })

  it('creates a key on first use and reuses it after', () => {
    const path = join(dir(), 'node.key')
    const first = NodeIdentity.loadOrCreate(path)
    const second = NodeIdentity.loadOrCreate(path)
    expect(first.created).toBe(true)
    expect(second.created).toBe(false)
    expect(second.identity.id).toBe(first.identity.id)
  })

  it('refuses to overwrite an existing key', () => {
    const path = join(dir(), 'node.key')
    NodeIdentity.generate().save(path)
    expect(() => NodeIdentity.generate().save(path)).toThrow(/cannot write key file/)
  })

  it('refuses a key file other users can read', () => {
    const path = join(dir(), 'node.key')
    NodeIdentity.generate().save(path)
    chmodSync(path, 0o644)
    expect(() => NodeIdentity.load(path)).toThrow(/readable by other users.*chmod 600/)
  })

  it('refuses a file that is not a ylog key', () => {
    const path = join(dir(), 'node.key')
    writeFileSync(path, 'hello\n', { mode: 0o600 })
    expect(() => NodeIdentity.load(path)).toThrow(/is not a ylog key/)
    expect(() => NodeIdentity.load(join(dir(), 'missing.key'))).toThrow(/cannot read key file/)
  })
})
