// The PAYLOAD_KEYS setting: `kid:base64key,kid2:base64key2`, each key 32 random bytes
// (`openssl rand -base64 32`). The first key encrypts every new payload; every key decrypts,
// so a key rotates by putting a new one first and keeping the old one until no history that
// still needs it is kept. Read by config/ without the codec itself (no protobuf at start-up).

export interface PayloadKey {
  /** Written into every payload it encrypts, so the key that reads it back is found by id. */
  id: string;
  /** 32 bytes: AES-256. */
  key: Buffer;
}

export const PAYLOAD_KEY_BYTES = 32;

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const EXAMPLE = `"k2025:$(openssl rand -base64 ${PAYLOAD_KEY_BYTES})"`;

/** Reads the setting; problems name the entry and its key id but never quote key material, since they end up in logs. */
export function parsePayloadKeys(text: string): { keys: PayloadKey[]; problems: string[] } {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  const keys: PayloadKey[] = [];
  const problems: string[] = [];
  if (entries.length === 0) problems.push(`name at least one key as kid:base64key, e.g. ${EXAMPLE}, or unset it to store payloads unencrypted`);
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) {
      problems.push(`entry ${index + 1}: write each key as kid:base64key, e.g. ${EXAMPLE}`);
      return;
    }
    const id = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) {
      problems.push(`entry ${index + 1}: the key id "${id.slice(0, 64)}" may hold only letters, digits, ".", "_" and "-" (at most 64)`);
      return;
    }
    if (keys.some((key) => key.id === id)) {
      problems.push(`key "${id}": the id appears more than once; each key needs an id of its own`);
      return;
    }
    if (!BASE64.test(encoded)) {
      problems.push(`key "${id}": the key is not base64; generate one with \`openssl rand -base64 ${PAYLOAD_KEY_BYTES}\``);
      return;
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== PAYLOAD_KEY_BYTES) {
      problems.push(`key "${id}": the key is ${key.length} bytes after base64 decoding; AES-256 needs exactly ${PAYLOAD_KEY_BYTES} (\`openssl rand -base64 ${PAYLOAD_KEY_BYTES}\`)`);
      return;
    }
    keys.push({ id, key });
  });
  return { keys, problems };
}
