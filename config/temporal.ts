// Where Temporal is and how to reach it, read as Temporal's CLI and SDKs read it (envconfig):
// a profile of the TOML config file, overridden by the TEMPORAL_* variables, so a profile made
// with `temporal config` or the variables of a Temporal Cloud guide work here unchanged.
import { readFileSync } from 'node:fs';
import type { Metadata, TLSConfig } from '@temporalio/client';
import { loadClientConfig, loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';

export interface TemporalConnection {
  /** Unset: nothing names a Temporal, so `npm start` runs the embedded dev server. */
  address?: string;
  namespace: string;
  /** Certificates already read from the files the settings name. */
  tls?: TLSConfig | boolean | null;
  apiKey?: string;
  /** gRPC headers sent with every request (TEMPORAL_GRPC_META_*, the profile's `grpc_meta`). */
  metadata?: Metadata;
}

const DEFAULT_FILE = 'temporalio/temporal.toml in your config folder';

const TLS_FILES = [
  { key: 'clientCert', variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH', tomlKey: 'client_cert_path' },
  { key: 'clientKey', variable: 'TEMPORAL_TLS_CLIENT_KEY_PATH', tomlKey: 'client_key_path' },
  { key: 'serverCACert', variable: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', tomlKey: 'server_ca_cert_path' },
] as const;

/**
 * The connection both the client and the worker use, from the environment given (its HOME
 * locates the default config file). Throws an Error whose message starts with the setting.
 */
export function readTemporalConnection(env: Record<string, string | undefined>): TemporalConnection {
  const vars = envconfigVariables(env);
  // envconfig reads anything but "1" and "true" as off, so a typo would silently drop TLS.
  if (vars.TEMPORAL_TLS !== undefined && !['true', 'false', '1', '0'].includes(vars.TEMPORAL_TLS)) {
    throw new Error(`TEMPORAL_TLS: "${vars.TEMPORAL_TLS}" is neither true nor false`);
  }
  const fileName = vars.TEMPORAL_CONFIG_FILE;
  const file = fileName ?? DEFAULT_FILE;
  // envconfig passes over a config file that does not exist; one named explicitly must exist.
  // An empty one names no profile (envconfig itself fails on it with a TypeError).
  const text = fileName === undefined ? undefined : readSetting('TEMPORAL_CONFIG_FILE', fileName).toString('utf8');
  const configSource = text?.trim() ? { data: text } : undefined;
  const disableFile = text !== undefined && configSource === undefined;
  const profiles = disableFile ? {} : settingsOf(fileName ? `TEMPORAL_CONFIG_FILE (${fileName})` : file, () => loadClientConfig({ configSource, overrideEnvVars: vars }).profiles);
  const profileName = vars.TEMPORAL_PROFILE;
  if (profileName !== undefined && !(profileName in profiles)) {
    const known = Object.keys(profiles);
    throw new Error(`TEMPORAL_PROFILE: no profile "${profileName}" in ${file}${known.length > 0 ? `, which has ${known.map((name) => `"${name}"`).join(', ')}` : ''}`);
  }
  const profileLabel = `profile "${profileName ?? 'default'}" in ${file}`;
  const profile = settingsOf(`the Temporal ${profileLabel}`, () => loadClientConfigProfile({ configSource, disableFile, overrideEnvVars: vars }));

  const tls: ClientConfigProfile['tls'] = profile.tls && { ...profile.tls };
  for (const { key, variable, tomlKey } of TLS_FILES) {
    const source = tls?.[key];
    if (tls && source && 'path' in source) tls[key] = { data: readSetting(vars[variable] ? variable : `tls.${tomlKey} of the ${profileLabel}`, source.path) };
  }
  const { connectionOptions, namespace } = toClientOptions({ ...profile, tls });
  const { address, apiKey, metadata } = connectionOptions;
  if (!address && (apiKey || connectionOptions.tls)) {
    throw new Error(`TEMPORAL_ADDRESS: TLS or an API key is set but no address (TEMPORAL_ADDRESS or the profile's); set one, or unset them to run the embedded dev server`);
  }
  return { address, namespace: namespace ?? 'default', tls: connectionOptions.tls, apiKey, metadata };
}

/** Empty means unset, as for every setting, except that an empty TEMPORAL_GRPC_META_* removes a header the profile sets (envconfig's rule). */
function envconfigVariables(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && (entry[1] !== '' || entry[0].startsWith('TEMPORAL_GRPC_META_'))),
  );
}

function readSetting(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Runs envconfig, naming `setting` in the first line of what it throws (a TOML error spans several). */
function settingsOf<T>(setting: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new Error(`${setting}: ${(err as Error).message.split('\n')[0]}`);
  }
}
