// Encrypts every payload Temporal stores for journeys (workflow and activity inputs and
// results, signals, query results, summaries) with AES-256-GCM, so a history read without the
// key shows no profile or event property. The format is the one of Temporal's encryption
// samples: metadata `encoding: binary/encrypted` and `encryption-key-id`, data = 12-byte IV,
// ciphertext, 16-byte tag, where the plaintext is the whole original payload, metadata included,
// encoded as a `temporal.api.common.v1.Payload` protobuf.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { PAYLOAD_KEY_BYTES, type PayloadKey } from './payloadKeys';

export type { PayloadKey } from './payloadKeys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
const text = (data: Uint8Array | null | undefined) => (data ? Buffer.from(data).toString('utf8') : undefined);

export class EncryptionCodec implements PayloadCodec {
  private readonly encryptWith: PayloadKey;
  private readonly byId: Map<string, Buffer>;

  /** `keys[0]` encrypts; every key decrypts the payloads that name its id. */
  constructor(keys: readonly PayloadKey[]) {
    if (keys.length === 0) throw new Error('PAYLOAD_KEYS: the payload codec needs at least one key');
    for (const { id, key } of keys) {
      if (key.length !== PAYLOAD_KEY_BYTES) throw new Error(`PAYLOAD_KEYS: key "${id}" is ${key.length} bytes; AES-256 needs ${PAYLOAD_KEY_BYTES}`);
    }
    this.encryptWith = keys[0];
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.encryptWith;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
      const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { [METADATA_ENCODING_KEY]: bytes(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: bytes(id) }, data: new Uint8Array(data) };
    });
  }

  /** Payloads that are not encrypted pass untouched: histories written before the codec was turned on stay readable. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const id = text(payload.metadata?.[KEY_ID_METADATA]);
      if (id === undefined) throw new ValueError(`an encrypted payload names no key id (metadata "${KEY_ID_METADATA}"): it was not written by journeys' codec`);
      const key = this.byId.get(id);
      if (!key) {
        throw new ValueError(
          `a payload is encrypted with key "${id}", which PAYLOAD_KEYS does not hold (it holds ${[...this.byId.keys()].map((k) => `"${k}"`).join(', ')}): add that key to PAYLOAD_KEYS, after the one that encrypts`,
        );
      }
      const data = payload.data ?? new Uint8Array();
      if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError(`a payload encrypted with key "${id}" is ${data.length} bytes, too short to be one`);
      const iv = data.subarray(0, IV_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(tag);
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new ValueError(`a payload encrypted with key "${id}" fails authentication: it was altered, or PAYLOAD_KEYS holds another key under the id "${id}"`);
      }
      return temporal.api.common.v1.Payload.decode(plaintext);
    });
  }
}

/** The codec the PAYLOAD_KEYS setting asks for; none when it is unset. */
export function payloadCodecOf(keys: readonly PayloadKey[] | undefined): PayloadCodec | undefined {
  return keys && keys.length > 0 ? new EncryptionCodec(keys) : undefined;
}
